import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/cluster";
import { AgeKey } from "./ageKey";
import { inheritedDependsOn, kubeObject, type KubeOptions } from "./kube";

export interface SecretsKeyArgs {
  /** The rendered `flux-system/sops-age` Secret (lib/cluster/secretsKey.ts `sopsAgeSecret`). */
  readonly secret: K8sObject;
  /** Its data key per kept generation (`<env>-g<N>.agekey`), oldest first. */
  readonly keys: Readonly<Record<number, string>>;
  readonly kube: KubeOptions;
}

/**
 * The environment's age keys for SOPS: one AgeKey per kept generation, named by it
 * (`<name>-g<N>`), so a bump adds a key and keeps the previous one, and the next bump drops
 * the one before; and the Secret kustomize-controller decrypts with, the identities secret
 * from state to cluster.
 */
export class SecretsKey extends pulumi.ComponentResource {
  /** The recipient (`age1...`) of each kept generation: public, what `sops --age` takes. */
  public readonly recipients: pulumi.Output<Record<number, string>>;
  /** The applied Secret: the config Kustomizations decrypt once it exists. */
  public readonly secret: pulumi.CustomResource;

  constructor(name: string, args: SecretsKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:SecretsKey", name, {}, opts);
    const generations = Object.keys(args.keys).map(Number);
    const keys = generations.map((g) => new AgeKey(`${name}-g${g}`, { parent: this }));
    const stringData = pulumi.secret(
      pulumi
        .all(keys.map((k) => k.identity))
        .apply((ids) => Object.fromEntries(ids.map((id, i) => [args.keys[generations[i]], id]))),
    );
    this.secret = kubeObject(
      this,
      name,
      args.secret,
      args.kube,
      { dependsOn: inheritedDependsOn(opts) },
      { stringData },
    );
    this.recipients = pulumi
      .all(keys.map((k) => k.recipient))
      .apply((rs) => Object.fromEntries(rs.map((r, i) => [generations[i], r])));
    this.registerOutputs({ recipients: this.recipients });
  }
}
