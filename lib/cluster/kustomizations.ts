/**
 * The Flux Kustomizations the stack applies: the infrastructure ones and, per service, a
 * developer-config and a platform Kustomization. Ordering is Flux's own `dependsOn`:
 *
 *   infrastructure -> infrastructure-policies -> config-<svc> -> app-<svc>
 */
import { imageRef, type PlatformConfig, type ServiceConfig } from "../config";
import { routed, serviceHostname } from "../platformRepo";
import {
  FLUX_NAMESPACE,
  INFRASTRUCTURE,
  INFRASTRUCTURE_GATEWAY,
  INFRASTRUCTURE_POLICIES,
  SECRETS_COMPONENT,
  SOPS_AGE_SECRET,
  REPO_LABEL,
  SKIP_AWAIT,
  WAIT_FOR_READY,
  appKustomizationName,
  CONFIG_ACCOUNT,
  configKustomizationName,
  platformRoot,
  sourceName,
  type RepoRole,
} from "../names";
import { LABELS, type K8sObject } from "../objects";

/** Variables the developer-config Kustomization substitutes into the config files. */
export const CONFIG_VARIABLES = ["SERVICE_NAME", "ENV"] as const;

interface KustomizationSpec {
  name: string;
  role: RepoRole;
  path: string;
  dependsOn: string[];
  timeout: string;
  substitute?: Record<string, string>;
  targetNamespace?: string;
  serviceAccountName?: string;
  /** Kustomize Components added to the build; a missing folder is dropped, not an error. */
  optionalComponents?: string[];
  /** Decrypt SOPS files with the age identities of this flux-system Secret. */
  sopsSecret?: string;
  /** A service's: applied without the provider's wait (the rollout wait reads it instead). */
  service?: boolean;
}

function kustomization(cfg: PlatformConfig, k: KustomizationSpec): K8sObject {
  return {
    apiVersion: "kustomize.toolkit.fluxcd.io/v1",
    kind: "Kustomization",
    metadata: {
      name: k.name,
      namespace: FLUX_NAMESPACE,
      labels: k.service ? { ...LABELS, [REPO_LABEL]: k.role } : LABELS,
      ...(k.service
        ? { annotations: { ...SKIP_AWAIT } }
        : cfg.waitForReady
          ? { annotations: { ...WAIT_FOR_READY } }
          : {}),
    },
    spec: {
      // A new revision of the source is applied at once (kustomize-controller watches its
      // artifact); the interval only re-applies an unchanged one (drift correction). Each
      // such run emits an event that notification-controller turns into a GitHub status
      // read (and a write when it differs), so its frequency is the platform's steady API
      // load: docs/performance.md.
      interval: cfg.reconcileInterval,
      retryInterval: "1m",
      timeout: k.timeout,
      sourceRef: { kind: "GitRepository", name: sourceName(k.role) },
      path: k.path,
      prune: true,
      wait: true,
      ...(k.dependsOn.length > 0 ? { dependsOn: k.dependsOn.map((name) => ({ name })) } : {}),
      ...(k.targetNamespace ? { targetNamespace: k.targetNamespace } : {}),
      ...(k.serviceAccountName ? { serviceAccountName: k.serviceAccountName } : {}),
      ...(k.substitute ? { postBuild: { substitute: k.substitute } } : {}),
      ...(k.optionalComponents
        ? { components: k.optionalComponents, ignoreMissingComponents: true }
        : {}),
      ...(k.sopsSecret
        ? { decryption: { provider: "sops", secretRef: { name: k.sopsSecret } } }
        : {}),
    },
  };
}

/** Post-build variables of a service's developer-config Kustomization (as in the seed). */
export function configVariables(
  cfg: PlatformConfig,
  s: Pick<ServiceConfig, "name">,
): Record<(typeof CONFIG_VARIABLES)[number], string> {
  return { SERVICE_NAME: s.name, ENV: cfg.environment };
}

/** Post-build variables of a service's platform Kustomization: fill in `apps/base`. */
export function appVariables(cfg: PlatformConfig, s: ServiceConfig): Record<string, string> {
  return {
    ...configVariables(cfg, s),
    IMAGE: imageRef(s),
    PORT: String(s.port),
    REPLICAS: String(s.replicas),
    ...(routed(cfg, s) ? { HOSTNAME: serviceHostname(s.name, cfg.ingressDomain) } : {}),
  };
}

/**
 * A service's developer-config Kustomization: only its name sets it apart from another
 * service's (the pull request check's template relies on it: lib/developerRepo/checks.ts).
 */
export function configKustomization(
  cfg: PlatformConfig,
  s: Pick<ServiceConfig, "name">,
): K8sObject {
  return kustomization(cfg, {
    name: configKustomizationName(s.name),
    role: "developer",
    path: `./${s.name}/${cfg.environment}`,
    dependsOn: lastInfrastructure(cfg),
    timeout: "2m",
    targetNamespace: cfg.appNamespace,
    // The developer repo may only write this service's ConfigMap and Secret: the one config
    // account, which the admission policy holds to the applying service's objects (lib/cluster/access.ts).
    serviceAccountName: CONFIG_ACCOUNT,
    substitute: configVariables(cfg, s),
    // The team's `secrets/` Component when the folder exists, its SOPS files decrypted
    // with the environment's age key; a folder without it builds as before.
    optionalComponents: [SECRETS_COMPONENT],
    sopsSecret: SOPS_AGE_SECRET,
    service: true,
  });
}

/** The two Flux Kustomizations of one service: its config first, then its manifests. */
export function serviceKustomizations(cfg: PlatformConfig, s: ServiceConfig): K8sObject[] {
  return [
    configKustomization(cfg, s),
    kustomization(cfg, {
      name: appKustomizationName(s.name),
      role: "platform",
      path: `./${platformRoot(cfg.environment)}/apps/${s.name}`,
      dependsOn: [configKustomizationName(s.name)],
      timeout: "5m",
      targetNamespace: cfg.appNamespace,
      substitute: appVariables(cfg, s),
      service: true,
    }),
  ];
}

/**
 * `infrastructure` (the controllers switched on) and, with Kyverno, `infrastructure-policies`
 * after it; nothing when every infrastructure component is off.
 */
export function infrastructureKustomizations(cfg: PlatformConfig): K8sObject[] {
  const out: K8sObject[] = [];
  if (Object.values(cfg.infrastructure).some(Boolean)) {
    out.push(
      kustomization(cfg, {
        name: INFRASTRUCTURE,
        role: "platform",
        path: `./${platformRoot(cfg.environment)}/infrastructure/controllers`,
        dependsOn: [],
        timeout: "10m",
      }),
    );
  }
  if (cfg.infrastructure.gateway) {
    out.push(
      kustomization(cfg, {
        name: INFRASTRUCTURE_GATEWAY,
        role: "platform",
        path: `./${platformRoot(cfg.environment)}/infrastructure/gateway`,
        // Envoy Gateway and the Gateway API CRDs come with the controllers.
        dependsOn: [INFRASTRUCTURE],
        timeout: "5m",
        substitute: { APP_NAMESPACE: cfg.appNamespace, INGRESS_DOMAIN: cfg.ingressDomain },
      }),
    );
  }
  if (cfg.infrastructure.kyverno) {
    out.push(
      kustomization(cfg, {
        name: INFRASTRUCTURE_POLICIES,
        role: "platform",
        path: `./${platformRoot(cfg.environment)}/infrastructure/policies`,
        dependsOn: [INFRASTRUCTURE],
        timeout: "5m",
        substitute: {
          APP_NAMESPACE: cfg.appNamespace,
          // Kyverno validationActions, from the stack's policyMode: refuse or only report.
          POLICY_ACTION: cfg.policyMode === "enforce" ? "Deny" : "Audit",
        },
      }),
    );
  }
  return out;
}

/**
 * What a service's config waits for: every infrastructure Kustomization but the one the
 * others depend on (so the policies are enforced and the Gateway is ready before any
 * service, and so its route, is applied).
 */
function lastInfrastructure(cfg: PlatformConfig): string[] {
  const infra = infrastructureKustomizations(cfg).map((k) => k.metadata.name);
  return infra.length > 1 ? infra.filter((n) => n !== INFRASTRUCTURE) : infra;
}

export function appNamespace(cfg: PlatformConfig): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: cfg.appNamespace,
      labels: { ...LABELS, "flux-platform/environment": cfg.environment },
    },
  };
}
