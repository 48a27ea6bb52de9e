/**
 * Flux install through the Flux Operator: its Helm chart, then one FluxInstance that names
 * the exact Flux version and only the configured controllers. The operator pulls the
 * manifests of that version at run time and installs the selected controllers and their
 * CRDs; changing `fluxVersion` updates the FluxInstance in place and the operator upgrades.
 *
 * Why this route: `install.yaml` always carries all seven controllers and would have to be
 * downloaded, checksum-pinned and filtered by this program; the operator does that
 * selection itself, is maintained by Flux maintainers, and its FluxInstance reports Ready
 * only when the controllers run, which gives Pulumi a precise point to wait for.
 */
import type { PlatformConfig } from "./config";
import type { K8sObject } from "./clusterObjects";
import { FLUX_NAMESPACE, WAIT_FOR_READY } from "./names";

/** Flux Operator Helm chart, pinned. */
export const FLUX_OPERATOR_CHART = {
  chart: "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator",
  // Operator release of 2026-09-11 (checked 2026-11-27); it installs any Flux 2.x the
  // config names.
  version: "0.60.0",
} as const;

export function fluxInstance(cfg: PlatformConfig): K8sObject {
  return {
    apiVersion: "fluxcd.controlplane.io/v1",
    kind: "FluxInstance",
    metadata: {
      // The operator accepts exactly one FluxInstance, named `flux`, in its own namespace.
      name: "flux",
      namespace: FLUX_NAMESPACE,
      annotations: { ...WAIT_FOR_READY },
    },
    spec: {
      distribution: {
        version: cfg.fluxVersion,
        registry: "ghcr.io/fluxcd",
        artifact: "oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests",
      },
      components: [...cfg.fluxComponents],
      cluster: {
        type: "kubernetes",
        multitenant: false,
        networkPolicy: true,
        domain: "cluster.local",
      },
    },
  };
}
