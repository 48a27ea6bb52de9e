/**
 * The platform repo's infrastructure controllers (`infrastructure/controllers/`): the pinned
 * Helm charts (`INFRASTRUCTURE_CHARTS`) and `helmInstall`, which writes a chart's Namespace,
 * Flux HelmRepository and HelmRelease. Envoy Gateway's install lives in ../gateway.ts.
 */
import { PART_OF } from "./templates";

/**
 * Helm charts the infrastructure installs, pinned. Checked 2026-11-27 against the versions
 * the team recorded in late 2026 (this build machine reaches no Helm repository); bump them
 * in a commit of their own.
 */
export const INFRASTRUCTURE_CHARTS = {
  // Kyverno 1.19.1: CEL ValidatingPolicy is GA (policies.kyverno.io/v1) since 1.17.
  kyverno: { repo: "https://kyverno.github.io/kyverno/", chart: "kyverno", version: "3.9.1" },
  // Stakater Reloader app v1.4.22.
  reloader: {
    repo: "https://stakater.github.io/stakater-charts",
    chart: "reloader",
    version: "2.2.17",
  },
} as const;

export function helmInstall(
  name: keyof typeof INFRASTRUCTURE_CHARTS,
  namespace: string,
  values: object,
): object[] {
  const chart = INFRASTRUCTURE_CHARTS[name];
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: PART_OF } },
    {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "HelmRepository",
      metadata: { name, namespace },
      spec: { interval: "24h", url: chart.repo },
    },
    {
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { name, namespace },
      spec: {
        interval: "30m",
        timeout: "10m",
        chart: {
          spec: {
            chart: chart.chart,
            version: chart.version,
            sourceRef: { kind: "HelmRepository", name },
            interval: "12h",
          },
        },
        install: { crds: "CreateReplace", remediation: { retries: 3 } },
        upgrade: { crds: "CreateReplace", remediation: { retries: 3 } },
        values,
      },
    },
  ];
}
