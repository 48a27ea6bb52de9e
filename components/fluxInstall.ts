import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/cluster";
import { FLUX_OPERATOR_CHART } from "../lib/cluster";
import { FLUX_NAMESPACE } from "../lib/names";
import { FLUX_WAIT, kubeObject, namespace, type KubeOptions } from "./kube";

export interface FluxInstallArgs {
  /** The rendered FluxInstance (lib/cluster/fluxInstall.ts): version and components. */
  readonly instance: K8sObject;
  readonly kube: KubeOptions;
}

/**
 * Flux at a pinned version with only the configured controllers: the Flux Operator Helm
 * chart, then one FluxInstance that Pulumi waits on until it reports Ready. Every Flux
 * object of the stack depends on this component, so on a partial destroy they are deleted
 * while the controllers still run and remove their finalizers.
 */
export class FluxInstall extends pulumi.ComponentResource {
  /** The FluxInstance: depend on it to know that Flux's CRDs and controllers are there. */
  public readonly instance: pulumi.CustomResource;
  public readonly version: pulumi.Output<string>;

  constructor(name: string, args: FluxInstallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:FluxInstall", name, {}, opts);
    const kube = { parent: this, provider: args.kube.provider, deletedWith: args.kube.deletedWith };

    const ns = namespace(`${name}-namespace`, { name: FLUX_NAMESPACE }, args.kube, kube);
    const operator = new k8s.helm.v3.Release(
      `${name}-operator`,
      {
        name: "flux-operator",
        chart: FLUX_OPERATOR_CHART.chart,
        version: FLUX_OPERATOR_CHART.version,
        namespace: FLUX_NAMESPACE,
        // Wait for the operator to run before the FluxInstance is created.
        skipAwait: false,
        timeout: 600,
      },
      { ...kube, dependsOn: [ns] },
    );
    this.instance = kubeObject(this, name, args.instance, args.kube, {
      dependsOn: [operator],
      customTimeouts: { create: FLUX_WAIT, update: FLUX_WAIT, delete: "10m" },
    });
    this.version = pulumi.output(
      (args.instance.spec as { distribution: { version: string } }).distribution.version,
    );
    this.registerOutputs({ version: this.version });
  }
}
