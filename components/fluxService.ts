import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/cluster";
import { inheritedDependsOn, kubeObject, type KubeOptions } from "./kube";

export interface FluxServiceArgs {
  /** The service's developer-config Kustomization (config-<service>). */
  readonly config: K8sObject;
  /** The service's platform Kustomization (app-<service>). */
  readonly app: K8sObject;
  readonly kube: KubeOptions;
  /**
   * What the service's first object (its config Kustomization) waits for: one anchor after everything a
   * service needs. An argument, not the component's `dependsOn`, so that the component itself
   * records no dependency: its children carry the order, and each name in a dependency list
   * is written into the state at every checkpoint of an up (docs/performance.md).
   */
  readonly after?: readonly pulumi.Resource[];
}

/**
 * One microservice: its configuration from the developer repo (applied as the platform's one
 * config account, lib/cluster/access.ts), then its manifests from the platform repo. Removing
 * the service from the stack deletes both Kustomizations while Flux runs, and Flux prunes what
 * they applied.
 */
export class FluxService extends pulumi.ComponentResource {
  public readonly kustomizations: pulumi.Output<string[]>;
  /** The app Kustomization: the last object, after all the others (what a wait depends on). */
  public readonly app: pulumi.CustomResource;

  constructor(name: string, args: FluxServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:FluxService", name, {}, opts);
    const after = [...(args.after ?? []), ...inheritedDependsOn(opts)];
    // Each object names only the one before it (the first, what the service waits for): the
    // order, and its reverse on delete, follow through them, and every name listed here is
    // written into the state with each of the up's checkpoints (docs/performance.md).
    const config = kubeObject(this, name, args.config, args.kube, { dependsOn: after });
    this.app = kubeObject(this, name, args.app, args.kube, { dependsOn: [config] });
    this.kustomizations = pulumi.output([args.config.metadata.name, args.app.metadata.name]);
    this.registerOutputs({ kustomizations: this.kustomizations });
  }
}
