import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/cluster";
import { REPO_ROLES, type RepoRole } from "../lib/names";
import { webhookUrl } from "../lib/cluster";
import { RepositoryWebhook } from "./githubRegistrations";
import { inheritedDependsOn, kubeObject, type KubeOptions } from "./kube";
import { RandomToken } from "./randomToken";

export interface PushReceiverArgs {
  /** The rendered token Secret and Receivers (lib/cluster/notifications.ts `receiverObjects`). */
  readonly objects: readonly K8sObject[];
  /** `webhookReceiverUrl`: where GitHub reaches this environment's receiver. */
  readonly baseUrl: string;
  /** The repositories' names, as their GitopsRepo outputs them. */
  readonly repositories: Readonly<Record<RepoRole, pulumi.Input<string>>>;
  /** `github:owner`, and how the webhooks are registered (as the repository files are written). */
  readonly owner: string;
  readonly github: { readonly token: pulumi.Input<string>; readonly baseUrl?: string };
  readonly kube: KubeOptions;
}

/**
 * Push to apply: a generated webhook token (secret from state to cluster and GitHub), the
 * Receivers, and on each repository a webhook that sends its pushes, signed with the token,
 * to its Receiver's path under `baseUrl`. The webhooks come after the Receivers, so GitHub's
 * first `ping` finds them; `pulumi destroy` removes the webhooks, never the repositories.
 */
export class PushReceiver extends pulumi.ComponentResource {
  /** The webhook URL per repository; secret (it names the receiver's path). */
  public readonly urls: Record<RepoRole, pulumi.Output<string>>;

  constructor(name: string, args: PushReceiverArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:PushReceiver", name, {}, opts);
    const after = inheritedDependsOn(opts);
    const token = new RandomToken(`${name}-token`, { parent: this });
    const [secret, ...rest] = args.objects;
    const receivers = rest.filter((o) => o.kind === "Receiver");
    // With the Gateway on and the receiver's host under ingressDomain: its route there.
    for (const o of rest.filter((x) => x.kind !== "Receiver")) {
      kubeObject(this, name, o, args.kube, { dependsOn: after });
    }
    const stored = kubeObject(
      this,
      name,
      secret,
      args.kube,
      { dependsOn: after },
      { stringData: pulumi.secret(token.value.apply((t) => ({ token: t }))) },
    );
    const applied = receivers.map((o) =>
      kubeObject(this, name, o, args.kube, { dependsOn: [...after, stored] }),
    );
    this.urls = Object.fromEntries(
      REPO_ROLES.map((role) => [
        role,
        pulumi.secret(token.value.apply((t) => webhookUrl(args.baseUrl, t, role))),
      ]),
    ) as Record<RepoRole, pulumi.Output<string>>;
    for (const role of REPO_ROLES) {
      new RepositoryWebhook(
        `${name}-${role}-webhook`,
        {
          owner: args.owner,
          repository: args.repositories[role],
          token: args.github.token,
          baseUrl: args.github.baseUrl,
          events: ["push"],
          url: this.urls[role],
          contentType: "json",
          secret: token.value,
          insecureSsl: false,
        },
        { parent: this, dependsOn: applied },
      );
    }
    this.registerOutputs({});
  }
}
