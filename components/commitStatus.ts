import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/cluster";
import { inheritedDependsOn, kubeObject, type KubeOptions } from "./kube";

export interface CommitStatusArgs {
  /** The rendered Secret, Providers and Alerts (lib/cluster/notifications.ts `commitStatusObjects`). */
  readonly objects: readonly K8sObject[];
  /**
   * Token that may write commit statuses on both repos; secret from config to cluster.
   * Unset with `gitAuth: githubApp`: the Providers use the sources' App Secrets.
   */
  readonly token?: pulumi.Input<string>;
  readonly kube: KubeOptions;
}

/**
 * Commit statuses on GitHub from Flux's notification-controller: the token's Secret, a
 * `github` Provider per repository and one Alert per repository for its services' Kustomizations.
 */
export class CommitStatus extends pulumi.ComponentResource {
  constructor(name: string, args: CommitStatusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:CommitStatus", name, {}, opts);
    const after = inheritedDependsOn(opts);
    const secret = args.objects.find((o) => o.kind === "Secret");
    const stored =
      secret && args.token !== undefined
        ? [
            kubeObject(
              this,
              name,
              secret,
              args.kube,
              { dependsOn: after },
              {
                stringData: pulumi.secret(pulumi.output(args.token).apply((token) => ({ token }))),
              },
            ),
          ]
        : [];
    const providers = args.objects
      .filter((o) => o.kind === "Provider")
      .map((o) => kubeObject(this, name, o, args.kube, { dependsOn: [...after, ...stored] }));
    for (const o of args.objects.filter((x) => x.kind === "Alert")) {
      kubeObject(this, name, o, args.kube, { dependsOn: [...after, ...providers] });
    }
    this.registerOutputs({});
  }
}
