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
import type { PlatformConfig } from "../config";
import type { K8sObject } from "../objects";
import { FLUX_NAMESPACE, WAIT_FOR_READY } from "../names";
import { toYaml } from "../yaml";

/** Flux Operator Helm chart, pinned. */
export const FLUX_OPERATOR_CHART = {
  chart: "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator",
  // Operator release of 2026-09-11 (checked 2026-11-27); it installs any Flux 2.x the
  // config names.
  version: "0.60.0",
} as const;

export type FluxSize = "small" | "medium" | "large";

/**
 * The Flux Operator's sizing profiles (flux-operator internal/builder/profiles.go): the
 * kustomize-controller flags each one sets. Without a size the controllers run with their
 * defaults, `--concurrent=4 --requeue-dependency=30s`: 4 reconciles at a time, and a
 * Kustomization whose dependency is not Ready yet looked at again only after 30 s (every
 * service's app Kustomization waits for its config one on a first up).
 */
export const FLUX_SIZES: Record<FluxSize, { concurrent: number; requeueDependency: string }> = {
  small: { concurrent: 5, requeueDependency: "10s" },
  medium: { concurrent: 10, requeueDependency: "5s" },
  large: { concurrent: 20, requeueDependency: "5s" },
};

/**
 * The size for a platform of `services` services (two Kustomizations each): up to 10
 * services small, up to 50 medium, more large. Measured on 2 cores (`npm run e2e:scale`,
 * README "Performance"): one reconcile takes about 2.5 s there, so 4 workers need 125 s for
 * one round of 200 Kustomizations, about a 2-minute interval; 20 keep a round of 600 well
 * inside it.
 */
export function fluxSize(services: number): FluxSize {
  return services <= 10 ? "small" : services <= 50 ? "medium" : "large";
}

/**
 * From `medium` up, kustomize-controller unpacks each source artifact into memory instead of
 * the node's disk: its `temp` volume (mounted at /tmp, an `emptyDir` in Flux's own
 * manifests) becomes `medium: Memory`, Flux's documented "in-memory kustomize builds"
 * (Flux docs, vertical scaling). Why: every reconcile of every Kustomization unpacks the
 * whole artifact of its repo (kustomize-controller v1.9.4 calls pkg/tar `Untar` without a
 * filter) and deletes it after, so the file creations grow with the number of services;
 * at 300 services on this repo's machine they were 75-83% of the controller's CPU
 * (docs/performance.md). The memory it costs is the unpacked repo (about 2 MB at 300
 * services) times the reconciles running at once, inside the controller's memory limit.
 */
export function inMemoryBuilds(size: FluxSize): boolean {
  return size !== "small";
}

/** The FluxInstance patch that puts kustomize-controller's /tmp in memory (a strategic merge on the volume by name). */
export const IN_MEMORY_BUILDS_PATCH = {
  target: { kind: "Deployment", name: "kustomize-controller" },
  patch: toYaml({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "kustomize-controller" },
    spec: { template: { spec: { volumes: [{ name: "temp", emptyDir: { medium: "Memory" } }] } } },
  }),
} as const;

/** kustomize-controller's flags for a size: the same the operator's profile sets. */
export function kustomizeControllerFlags(size: FluxSize): string[] {
  const s = FLUX_SIZES[size];
  return [`--concurrent=${s.concurrent}`, `--requeue-dependency=${s.requeueDependency}`];
}

export function fluxInstance(cfg: PlatformConfig): K8sObject {
  const size = fluxSize(cfg.services.length);
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
        // Controllers' concurrency and dependency requeue from the number of services.
        size,
        multitenant: false,
        networkPolicy: true,
        domain: "cluster.local",
      },
      ...(inMemoryBuilds(size) ? { kustomize: { patches: [IN_MEMORY_BUILDS_PATCH] } } : {}),
    },
  };
}
