import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/cluster";
import { inheritedDependsOn, kubeObject, type KubeOptions } from "./kube";

export interface PlatformInfrastructureArgs {
  /** The app namespace, the config accounts' ClusterRole and its RoleBinding, the policy and its binding. */
  readonly base: readonly K8sObject[];
  /** The `infrastructure` and `infrastructure-policies` Kustomizations, in that order. */
  readonly kustomizations: readonly K8sObject[];
  readonly kube: KubeOptions;
}

/**
 * What every service builds on: the app namespace, the admission policy that keeps each
 * service's config account to its own ConfigMap, and the Flux Kustomizations that install Kyverno, Reloader and the
 * policies from the platform repo.
 */
export class PlatformInfrastructure extends pulumi.ComponentResource {
  /**
   * What services depend on: the last infrastructure Kustomization (or, with every
   * infrastructure component off, the last base object), which comes after every other child.
   */
  public readonly ready: readonly pulumi.Resource[];

  constructor(
    name: string,
    args: PlatformInfrastructureArgs,
    opts?: pulumi.ComponentResourceOptions,
  ) {
    super("flux-platform:index:PlatformInfrastructure", name, {}, opts);
    const after = inheritedDependsOn(opts);
    // One chain, base objects first, each naming only the one before it: whatever is on, the
    // last object comes after every other, so `ready` is always one resource and each
    // service object names one anchor here, not every base object (each name is written
    // into the state with each of the up's checkpoints: docs/performance.md).
    let previous: pulumi.Resource[] = [];
    for (const obj of [...args.base, ...args.kustomizations]) {
      previous = [kubeObject(this, name, obj, args.kube, { dependsOn: [...after, ...previous] })];
    }
    this.ready = previous;
    this.registerOutputs({});
  }
}
