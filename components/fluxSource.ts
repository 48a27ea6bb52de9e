import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/clusterObjects";
import { inheritedDependsOn, kubeObject, type KubeOptions } from "./kube";

export interface FluxSourceArgs {
  /** The rendered deploy-key Secret (key material is a placeholder there). */
  readonly secret: K8sObject;
  /** The rendered GitRepository. */
  readonly gitRepository: K8sObject;
  /** The OpenSSH private and public key of the repo's deploy key; both stay secret. */
  readonly privateKey: pulumi.Input<string>;
  readonly publicKey: pulumi.Input<string>;
  /** `known_hosts` when the rendered Secret could not know it (read from the server's /meta). */
  readonly knownHosts?: string;
  readonly kube: KubeOptions;
}

/**
 * One Flux source: the SSH deploy-key Secret (`identity`, `identity.pub`, `known_hosts`)
 * and the GitRepository that reads the repo with it.
 */
export class FluxSource extends pulumi.ComponentResource {
  public readonly gitRepository: pulumi.CustomResource;
  public readonly name: string;

  constructor(name: string, args: FluxSourceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:FluxSource", name, {}, opts);
    const stringData = pulumi.secret(
      pulumi.all([args.privateKey, args.publicKey]).apply(([identity, pub]) => ({
        ...(args.secret.stringData as Record<string, string>),
        identity,
        "identity.pub": pub,
        ...(args.knownHosts ? { known_hosts: args.knownHosts } : {}),
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
