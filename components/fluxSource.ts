import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/cluster";
import { inheritedDependsOn, kubeObject, type KubeOptions } from "./kube";

export interface FluxSourceArgs {
  /** The rendered credentials Secret (deploy key or GitHub App; key material a placeholder). */
  readonly secret: K8sObject;
  /** The rendered GitRepository. */
  readonly gitRepository: K8sObject;
  /**
   * The Secret's keys the render could not know, laid over its `stringData`: the deploy key
   * (`identity`, `identity.pub`, maybe `known_hosts`) or the App's `githubAppPrivateKey`.
   * Kept secret end to end.
   */
  readonly secretData: pulumi.Input<Record<string, string>>;
  readonly kube: KubeOptions;
}

/** One Flux source: its credentials Secret and the GitRepository that reads the repo with it. */
export class FluxSource extends pulumi.ComponentResource {
  public readonly gitRepository: pulumi.CustomResource;
  public readonly name: string;

  constructor(name: string, args: FluxSourceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:FluxSource", name, {}, opts);
    const stringData = pulumi.secret(
      pulumi.output(args.secretData).apply((data) => ({
        ...(args.secret.stringData as Record<string, string>),
        ...data,
      })),
    );
    const after = inheritedDependsOn(opts);
    const secret = kubeObject(
      this,
      name,
      args.secret,
      args.kube,
      { dependsOn: after },
      { stringData },
    );
    this.gitRepository = kubeObject(this, name, args.gitRepository, args.kube, {
      dependsOn: [...after, secret],
    });
    this.name = args.gitRepository.metadata.name;
    this.registerOutputs({});
  }
}
