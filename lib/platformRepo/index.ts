/**
 * The platform repo: manifests owned by the platform team. Pulumi keeps every file here in
 * sync with this renderer. Each stack writes its environment's folder only
 * (`environments/<env>/`); the manifests in it are the same for every environment
 * (per-environment values come from the Flux Kustomizations' post-build substitution), so
 * environments differ only while a change is promoted from one stack to the next.
 *
 * This module lists the files; their content comes from ./templates (apps/base),
 * ./infrastructure (the Helm-installed controllers), ./policies (Kyverno), ./services (each
 * service's folder) and ./readme.
 */
import {
  INFRASTRUCTURE_COMPONENTS,
  type InfrastructureComponent,
  type PlatformConfig,
} from "../config";
import { envoyGatewayInstall, gatewayObjects, httpRoute, routed } from "./gateway";
import { APPS_BASE, APPS_COMPONENTS, platformRoot } from "../names";
import { yamlFile, type RepoFile } from "../yaml";
import { helmInstall } from "./infrastructure";
import { POLICIES, validatingPolicy } from "./policies";
import { PLATFORM_README } from "./readme";
import { serviceFiles } from "./services";
import { MANAGED, PART_OF, deployment, kustomization, service } from "./templates";

export { GATEWAY, GATEWAY_CHART, routed, serviceHostname } from "./gateway";
export { INFRASTRUCTURE_CHARTS } from "./infrastructure";
export { POLICIES } from "./policies";
export { APP_VARIABLES } from "./templates";

/**
 * Every file of the platform repo this stack writes, sorted by path: its own environment's
 * folder (`environments/<env>/`), and the repository's README (shared: written by the stack
 * that created the repository).
 */
export function renderPlatformRepo(cfg: PlatformConfig): RepoFile[] {
  const root = platformRoot(cfg.environment);
  const on = cfg.infrastructure;
  const all: RepoFile[] = [
    {
      path: `apps/${APPS_BASE}/kustomization.yaml`,
      content: yamlFile(
        [...MANAGED, "", "Generic manifests for every service: see README.md for the variables."],
        kustomization(["deployment.yaml", "service.yaml"], {
          labels: [{ pairs: PART_OF, includeSelectors: false }],
        }),
      ),
      mode: "sync",
      shared: true,
    },
    {
      path: `apps/${APPS_BASE}/deployment.yaml`,
      content: yamlFile(MANAGED, deployment()),
      mode: "sync",
      shared: true,
    },
    {
      path: `apps/${APPS_BASE}/service.yaml`,
      content: yamlFile(MANAGED, service()),
      mode: "sync",
      shared: true,
    },
    {
      path: "infrastructure/controllers/kustomization.yaml",
      content: yamlFile(
        MANAGED,
        kustomization(INFRASTRUCTURE_COMPONENTS.filter((c) => on[c]).map((c) => `${c}.yaml`)),
      ),
      mode: "sync",
      shared: true,
    },
    {
      path: "infrastructure/controllers/kyverno.yaml",
      content: yamlFile(
        [...MANAGED, "", "Kyverno: admission policies for the app namespace (see ../policies)."],
        ...helmInstall("kyverno", "kyverno", {
          admissionController: { replicas: 1 },
          backgroundController: { replicas: 1 },
          cleanupController: { replicas: 1 },
          reportsController: { replicas: 1 },
        }),
      ),
      mode: "sync",
      shared: true,
    },
    {
      path: "infrastructure/controllers/reloader.yaml",
      content: yamlFile(
        [
          ...MANAGED,
          "",
          "Stakater Reloader: rolls a Deployment when the ConfigMap it names in",
          "`configmap.reloader.stakater.com/reload` changes (Flux does not restart pods).",
        ],
        ...helmInstall("reloader", "reloader", {
          reloader: { reloadStrategy: "annotations", watchGlobally: true },
        }),
      ),
      mode: "sync",
      shared: true,
    },
    {
      path: "infrastructure/controllers/gateway.yaml",
      content: yamlFile(
        [
          ...MANAGED,
          "",
          "Envoy Gateway: the Gateway API implementation (its chart also installs the CRDs).",
        ],
        ...envoyGatewayInstall(PART_OF),
      ),
      mode: "sync",
      shared: true,
    },
    {
      path: "infrastructure/gateway/kustomization.yaml",
      content: yamlFile(MANAGED, kustomization(["gateway.yaml"])),
      mode: "sync",
      shared: true,
    },
    {
      path: "infrastructure/gateway/gateway.yaml",
      content: yamlFile(
        [...MANAGED, "", "The environment's Gateway: every service's HTTPRoute attaches to it."],
        ...gatewayObjects(),
      ),
      mode: "sync",
      shared: true,
    },
    {
      path: `apps/${APPS_COMPONENTS}/route/kustomization.yaml`,
      content: yamlFile(MANAGED, {
        apiVersion: "kustomize.config.k8s.io/v1alpha1",
        kind: "Component",
        resources: ["httproute.yaml"],
      }),
      mode: "sync",
      shared: true,
    },
    {
      path: `apps/${APPS_COMPONENTS}/route/httproute.yaml`,
      content: yamlFile(
        [...MANAGED, "", "A service's route on the environment's Gateway, at ${HOSTNAME}."],
        httpRoute(),
      ),
      mode: "sync",
      shared: true,
    },
    {
      path: "infrastructure/policies/kustomization.yaml",
      content: yamlFile(MANAGED, kustomization(POLICIES.map((p) => `${p.name}.yaml`))),
      mode: "sync",
      shared: true,
    },
    ...POLICIES.map((p): RepoFile => ({
      path: `infrastructure/policies/${p.name}.yaml`,
      content: yamlFile(MANAGED, validatingPolicy(p)),
      mode: "sync",
      shared: true,
    })),
    ...cfg.services.flatMap((s) => serviceFiles(cfg, s)),
  ];
  // Infrastructure that is switched off is not written at all.
  const own = all.filter((f) => {
    const controller = /^infrastructure\/controllers\/(\w+)\.yaml$/.exec(f.path)?.[1];
    if (controller && controller !== "kustomization") {
      return on[controller as InfrastructureComponent];
    }
    if (f.path.startsWith("infrastructure/controllers/")) return Object.values(on).some(Boolean);
    if (f.path.startsWith("infrastructure/policies/")) return on.kyverno;
    if (f.path.startsWith("infrastructure/gateway/")) return on.gateway;
    if (f.path.startsWith(`apps/${APPS_COMPONENTS}/route/`)) {
      return cfg.services.some((s) => routed(cfg, s));
    }
    return true;
  });
  const files: RepoFile[] = [
    { path: "README.md", content: PLATFORM_README, mode: "sync", shared: true },
    ...own.map((f) => ({ ...f, path: `${root}/${f.path}`, shared: false })),
  ];
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
