/**
 * The platform repo: manifests owned by the platform team. Pulumi keeps every file here in
 * sync with this renderer. Each stack writes its environment's folder only
 * (`environments/<env>/`); the manifests in it are the same for every environment
 * (per-environment values come from the Flux Kustomizations' post-build substitution), so
 * environments differ only while a change is promoted from one stack to the next.
 */
import {
  INFRASTRUCTURE_COMPONENTS,
  type InfrastructureComponent,
  type PlatformConfig,
} from "./config";
import { envoyGatewayInstall, gatewayObjects, httpRoute, routed } from "./gateway";
import { configMapName, platformRoot } from "./names";
import { yamlFile } from "./yaml";

export interface RepoFile {
  /** Path inside the repository, `/`-separated. */
  readonly path: string;
  readonly content: string;
  /**
   * `sync`: Pulumi owns the content and puts it back on every `pulumi up`.
   * `scaffold`: written once; later edits in the repo are kept.
   */
  readonly mode: "sync" | "scaffold";
  /** The same path for every environment (several stacks share one repo), or this one's only. */
  readonly shared: boolean;
}

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

const MANAGED = [
  "Managed by flux-platform (Pulumi). Do not edit in this repo: `pulumi up` puts it back.",
  "Change it in the flux-platform program (lib/platformRepo.ts) and run `pulumi up`.",
];

const PART_OF = { "app.kubernetes.io/part-of": "flux-platform" };

/** Variables every service's platform Kustomization substitutes into `apps/base`. */
export const APP_VARIABLES = ["SERVICE_NAME", "ENV", "IMAGE", "PORT", "REPLICAS"] as const;

function deployment(): object {
  const labels = { "app.kubernetes.io/name": "${SERVICE_NAME}" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "${SERVICE_NAME}",
      labels: { ...labels, "app.kubernetes.io/instance": "${SERVICE_NAME}-${ENV}" },
      annotations: {
        // Stakater Reloader (infrastructure/controllers) rolls the pods when the ConfigMap
        // that the developer Kustomization builds changes: Flux itself never restarts pods.
        "configmap.reloader.stakater.com/reload": configMapName("${SERVICE_NAME}"),
      },
    },
    spec: {
      replicas: "${REPLICAS}",
      revisionHistoryLimit: 3,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...labels, "app.kubernetes.io/instance": "${SERVICE_NAME}-${ENV}" } },
        spec: {
          securityContext: { seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "app",
              image: "${IMAGE}",
              ports: [{ name: "http", containerPort: "${PORT}", protocol: "TCP" }],
              env: [
                { name: "SERVICE_NAME", value: "${SERVICE_NAME}" },
                { name: "ENV", value: "${ENV}" },
                { name: "CONFIG_DIR", value: "/etc/config" },
              ],
              readinessProbe: { tcpSocket: { port: "http" }, periodSeconds: 10 },
              resources: {
                requests: { cpu: "50m", memory: "64Mi" },
                limits: { memory: "128Mi" },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [{ name: "config", mountPath: "/etc/config", readOnly: true }],
            },
          ],
          volumes: [{ name: "config", configMap: { name: configMapName("${SERVICE_NAME}") } }],
        },
      },
    },
  };
}

function service(): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "${SERVICE_NAME}", labels: { "app.kubernetes.io/name": "${SERVICE_NAME}" } },
    spec: {
      selector: { "app.kubernetes.io/name": "${SERVICE_NAME}" },
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    },
  };
}

function kustomization(resources: string[], extra: object = {}): object {
  return {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources,
    ...extra,
  };
}

function helmInstall(
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

interface Policy {
  name: string;
  title: string;
  message: string;
  /** CEL over the Pod (`object`); true means compliant. */
  expression: string;
}

/**
 * Kyverno ValidatingPolicies (CEL, `policies.kyverno.io/v1`) for the pods of the app
 * namespace. Not `ClusterPolicy`: Kyverno 1.17 deprecated it for removal in 1.20. Whether
 * a violation is denied or only reported comes from `${POLICY_ACTION}` (`Deny` where the stack's policyMode is `enforce`).
 */
export const POLICIES: readonly Policy[] = [
  {
    name: "disallow-latest-tag",
    title: "Pin images to a tag",
    message: "Images in ${APP_NAMESPACE} must name a tag (or digest) other than `latest`.",
    expression:
      "object.spec.containers.all(c, c.image.contains('@sha256:') || " +
      "(c.image.lastIndexOf(':') > c.image.lastIndexOf('/') && !c.image.endsWith(':latest')))",
  },
  {
    name: "require-requests-limits",
    title: "Require resource requests and a memory limit",
    message: "Containers in ${APP_NAMESPACE} must request cpu and memory and limit memory.",
    expression:
      "object.spec.containers.all(c, has(c.resources) && has(c.resources.requests) && " +
      "'cpu' in c.resources.requests && 'memory' in c.resources.requests && " +
      "has(c.resources.limits) && 'memory' in c.resources.limits)",
  },
  {
    name: "disallow-privilege-escalation",
    title: "Disallow privilege escalation",
    message:
      "Containers in ${APP_NAMESPACE} must set securityContext.allowPrivilegeEscalation: false.",
    expression:
      "object.spec.containers.all(c, has(c.securityContext) && " +
      "has(c.securityContext.allowPrivilegeEscalation) && " +
      "c.securityContext.allowPrivilegeEscalation == false)",
  },
];

function validatingPolicy(p: Policy): object {
  return {
    apiVersion: "policies.kyverno.io/v1",
    kind: "ValidatingPolicy",
    metadata: {
      name: p.name,
      annotations: { "policies.kyverno.io/title": p.title },
    },
    spec: {
      validationActions: ["${POLICY_ACTION}"],
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE", "UPDATE"],
            resources: ["pods"],
          },
        ],
        namespaceSelector: {
          matchLabels: { "kubernetes.io/metadata.name": "${APP_NAMESPACE}" },
        },
      },
      validations: [{ expression: p.expression, message: p.message }],
    },
  };
}

const PLATFORM_README = `# Platform repo

Managed by flux-platform (Pulumi). Pulumi writes it, so change the program and run
\`pulumi up\` rather than editing here: a hand edit is put back by the next \`pulumi up\`.

Each environment has its own folder, \`environments/<env>/\`, written only by that
environment's stack and read only by that environment's cluster. A change reaches an
environment when its own stack is updated: \`pulumi preview --stack prd\` shows exactly what
prd is about to receive, \`pulumi up --stack prd\` promotes it.

| Path (under \`environments/<env>/\`) | What | Applied by (Flux Kustomization) |
| --- | --- | --- |
| \`infrastructure/controllers/\` | Kyverno and Stakater Reloader, as HelmRepository + HelmRelease (pinned) | \`infrastructure\` |
| \`infrastructure/policies/\` | Kyverno ValidatingPolicies (CEL) for the app namespace's pods (each stack's \`policyMode\`: Audit reports, Deny refuses) | \`infrastructure-policies\` |
| \`apps/base/\` | Generic Deployment and Service, filled in by post-build substitution | - |
| \`apps/<service>/\` | One folder per service: \`../base\` plus the service's own patches | \`app-<service>\` |

Variables every service gets: \`\${SERVICE_NAME}\`, \`\${ENV}\`, \`\${IMAGE}\`, \`\${PORT}\`,
\`\${REPLICAS}\` (from the stack config). The service's configuration comes from the developer
repo as the ConfigMap \`<service>-config\`, mounted at \`/etc/config\`.
`;

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
      path: "apps/base/kustomization.yaml",
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
      path: "apps/base/deployment.yaml",
      content: yamlFile(MANAGED, deployment()),
      mode: "sync",
      shared: true,
    },
    {
      path: "apps/base/service.yaml",
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
      path: "apps/components/route/kustomization.yaml",
      content: yamlFile(MANAGED, {
        apiVersion: "kustomize.config.k8s.io/v1alpha1",
        kind: "Component",
        resources: ["httproute.yaml"],
      }),
      mode: "sync",
      shared: true,
    },
    {
      path: "apps/components/route/httproute.yaml",
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
    ...cfg.services.map((s): RepoFile => ({
      path: `apps/${s.name}/kustomization.yaml`,
      content: yamlFile(
        [
          ...MANAGED,
          "",
          `${s.name}: the generic base plus ${s.name}'s own patches (add them in lib/platformRepo.ts).`,
        ],
        kustomization(["../base"], routed(cfg, s) ? { components: ["../components/route"] } : {}),
      ),
      mode: "sync",
      shared: false,
    })),
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
    if (f.path.startsWith("apps/components/route/")) {
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
