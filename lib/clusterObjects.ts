/**
 * The objects the stack applies to the cluster besides the Flux install: the app namespace,
 * the developer-config ServiceAccount and its RBAC, one deploy-key Secret and GitRepository
 * per repo, the infrastructure Kustomizations, the age-key Secret SOPS decrypts with and,
 * per service, a developer-config and a platform Kustomization. Ordering is Flux's own `dependsOn`:
 *
 *   infrastructure -> infrastructure-policies -> config-<svc> -> app-<svc>
 */
import { GITHUB_SSH, type GitSshConfig, type PlatformConfig, type ServiceConfig } from "./config";
import { imageRef } from "./config/service";
import { CONFIG_VARIABLES } from "./developerRepo";
import { routed, serviceHostname } from "./gateway";
import { configAccount, configPolicy } from "./configAccess";
import { commitStatusObjects, receiverObjects } from "./notifications";
import {
  FLUX_NAMESPACE,
  INFRASTRUCTURE,
  INFRASTRUCTURE_GATEWAY,
  INFRASTRUCTURE_POLICIES,
  REPO_ROLES,
  SECRETS_COMPONENT,
  SOPS_AGE_SECRET,
  REPO_LABEL,
  SKIP_AWAIT,
  WAIT_FOR_READY,
  ageKeyName,
  appKustomizationName,
  configAccountName,
  configKustomizationName,
  deployKeySecretName,
  githubAppSecretName,
  platformRoot,
  sourceName,
  type RepoRole,
} from "./names";

export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/**
 * GitHub's SSH host keys (github.com/meta `ssh_keys`; the RSA key rotated 2023-03-24).
 * Flux's SSH client only offers the algorithms listed here, so ed25519 and ECDSA suffice.
 */
export const GITHUB_SSH_KEYS = [
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
  "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg=",
];

/**
 * `known_hosts` lines for a host's keys. Flux matches host AND port: on a port other than
 * 22 the name is `[host]:port`, as `ssh-keyscan -p` prints it.
 */
export function knownHosts(ssh: { host: string; port: number }, keys: readonly string[]): string {
  const name = ssh.port === 22 ? ssh.host : `[${ssh.host}]:${ssh.port}`;
  return keys.map((k) => `${name} ${k}`).join("\n");
}

export const GITHUB_KNOWN_HOSTS = knownHosts(GITHUB_SSH, GITHUB_SSH_KEYS);

/** Written in place of key material: the real keys exist only in Pulumi state, as secrets. */
export const KEY_PLACEHOLDER = "<set by pulumi from the deploy key pair; never rendered>";
/** Written in place of host keys that `pulumi up` reads from the server's `GET /meta`. */
export const KNOWN_HOSTS_PLACEHOLDER = "<set by pulumi from GET /meta of the git server>";

/** The host keys the config names, GitHub's own, or `undefined`: ask the server's /meta. */
export function configuredHostKeys(ssh: GitSshConfig): readonly string[] | undefined {
  if (ssh.knownHosts) return ssh.knownHosts;
  return ssh.host === GITHUB_SSH.host && ssh.port === GITHUB_SSH.port ? GITHUB_SSH_KEYS : undefined;
}

export const LABELS = { "app.kubernetes.io/part-of": "flux-platform" };

/** Flux's form of an SSH repository URL: `ssh://git@host[:port]/<owner>/<repo>`. */
export function repoUrl(ssh: { host: string; port: number }, owner: string, repo: string): string {
  return `ssh://git@${ssh.host}${ssh.port === 22 ? "" : `:${ssh.port}`}/${owner}/${repo}`;
}

export function repoName(cfg: PlatformConfig, role: RepoRole): string {
  return role === "platform" ? cfg.platformRepo : cfg.developerRepo;
}

/** The credentials Secret of a repo's source: its deploy key, or the GitHub App's. */
export function sourceSecret(cfg: PlatformConfig, role: RepoRole): K8sObject {
  return cfg.gitAuth === "githubApp" ? githubAppSecret(cfg, role) : deployKeySecret(cfg, role);
}

/**
 * The keys source-controller's and notification-controller's GitHub App client reads
 * (fluxcd/pkg/auth githubapp): the App id, the installation, the private key (a placeholder
 * here) and, for GitHub Enterprise Server, the API URL.
 */
export function githubAppSecret(cfg: PlatformConfig, role: RepoRole): K8sObject {
  const app = cfg.githubApp!;
  return fluxSecret(githubAppSecretName(role), {
    githubAppID: String(app.appId),
    githubAppInstallationID: String(app.installationId),
    githubAppPrivateKey: KEY_PLACEHOLDER,
    ...(cfg.githubApiUrl ? { githubAppBaseURL: cfg.githubApiUrl } : {}),
  });
}

/** An Opaque Secret in flux-system; key material in it is a placeholder the program fills. */
export function fluxSecret(name: string, stringData: Record<string, string>): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: FLUX_NAMESPACE, labels: LABELS },
    type: "Opaque",
    stringData,
  };
}

export function deployKeySecret(cfg: PlatformConfig, role: RepoRole): K8sObject {
  const keys = configuredHostKeys(cfg.gitSsh);
  return fluxSecret(deployKeySecretName(role), {
    identity: KEY_PLACEHOLDER,
    "identity.pub": KEY_PLACEHOLDER,
    known_hosts: keys ? knownHosts(cfg.gitSsh, keys) : KNOWN_HOSTS_PLACEHOLDER,
  });
}

export function gitRepository(cfg: PlatformConfig, role: RepoRole): K8sObject {
  // With a GitHub App: HTTPS with its installation tokens (`provider: github`) at GitHub's
  // web URL; else SSH with the repo's deploy key.
  const app = cfg.gitAuth === "githubApp";
  return {
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind: "GitRepository",
    metadata: { name: sourceName(role), namespace: FLUX_NAMESPACE, labels: LABELS },
    spec: {
      interval: cfg.syncInterval,
      timeout: "60s",
      url: app
        ? `${cfg.githubUrl}/${cfg.owner}/${repoName(cfg, role)}`
        : repoUrl(cfg.gitSsh, cfg.owner, repoName(cfg, role)),
      ref: { branch: "main" },
      ...(app ? { provider: "github" } : {}),
      secretRef: { name: app ? githubAppSecretName(role) : deployKeySecretName(role) },
    },
  };
}

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
  s: ServiceConfig,
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
 * The age key generations the `sops-age` Secret keeps: the current one and, after a bump,
 * the one before, so files not yet re-encrypted still decrypt.
 */
export function secretsKeyGenerations(cfg: PlatformConfig): number[] {
  const n = cfg.secretsKeyGeneration;
  return n > 1 ? [n - 1, n] : [n];
}

/** The `sops-age` Secret's data key per kept generation: `<env>-g<N>.agekey`, oldest first. */
export function ageKeyFiles(cfg: PlatformConfig): Record<number, string> {
  return Object.fromEntries(
    secretsKeyGenerations(cfg).map((g) => [g, ageKeyName(cfg.environment, g)]),
  );
}

/**
 * `flux-system/sops-age`: one `<env>-g<N>.agekey` per kept generation, a placeholder here;
 * the program fills in the identities from state (components/secretsKey.ts).
 */
export function sopsAgeSecret(cfg: PlatformConfig): K8sObject {
  return fluxSecret(
    SOPS_AGE_SECRET,
    Object.fromEntries(Object.values(ageKeyFiles(cfg)).map((k) => [k, KEY_PLACEHOLDER])),
  );
}

/** The two Flux Kustomizations of one service: its config first, then its manifests. */
export function serviceKustomizations(cfg: PlatformConfig, s: ServiceConfig): K8sObject[] {
  return [
    kustomization(cfg, {
      name: configKustomizationName(s.name),
      role: "developer",
      path: `./${s.name}/${cfg.environment}`,
      dependsOn: lastInfrastructure(cfg),
      timeout: "2m",
      targetNamespace: cfg.appNamespace,
      // The developer repo may only write this service's ConfigMap and Secret (lib/configAccess.ts).
      serviceAccountName: configAccountName(s.name),
      substitute: configVariables(cfg, s),
      // The team's `secrets/` Component when the folder exists, its SOPS files decrypted
      // with the environment's age key; a folder without it builds as before.
      optionalComponents: [SECRETS_COMPONENT],
      sopsSecret: SOPS_AGE_SECRET,
      service: true,
    }),
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

/**
 * What the developer-config Kustomizations run as instead of kustomize-controller's
 * cluster-admin: a ServiceAccount that may only manage ConfigMaps in the app namespace.
 */
/** The cluster objects grouped as the components create them. */
export interface ClusterObjects {
  /** The app namespace and the policy that keeps each service's config account to its own. */
  readonly base: readonly K8sObject[];
  readonly sources: Readonly<
    Record<RepoRole, { readonly secret: K8sObject; readonly gitRepository: K8sObject }>
  >;
  /** `infrastructure`, then `infrastructure-policies`. */
  readonly infrastructure: readonly K8sObject[];
  /** `flux-system/sops-age`: the age identities the config Kustomizations decrypt with. */
  readonly secretsKey: K8sObject;
  readonly services: readonly {
    readonly name: string;
    /** The ServiceAccount its config Kustomization impersonates and its RoleBinding. */
    readonly access: readonly K8sObject[];
    readonly config: K8sObject;
    readonly app: K8sObject;
  }[];
  /** The commit-status Secret, Providers and Alerts (empty without `commitStatus`). */
  readonly notifications: readonly K8sObject[];
  /** The webhook token Secret and a Receiver per repo (empty without `webhookReceiverUrl`). */
  readonly receivers: readonly K8sObject[];
}

export function renderClusterObjects(cfg: PlatformConfig): ClusterObjects {
  const source = (role: RepoRole) => ({
    secret: sourceSecret(cfg, role),
    gitRepository: gitRepository(cfg, role),
  });
  return {
    base: [appNamespace(cfg), ...configPolicy(cfg)],
    sources: { platform: source("platform"), developer: source("developer") },
    infrastructure: infrastructureKustomizations(cfg),
    secretsKey: sopsAgeSecret(cfg),
    services: cfg.services.map((s) => {
      const [config, app] = serviceKustomizations(cfg, s);
      return { name: s.name, access: configAccount(cfg, s), config, app };
    }),
    notifications: commitStatusObjects(cfg),
    receivers: receiverObjects(cfg),
  };
}

/** Every object the stack applies besides the Flux install, in apply order. */
export function allClusterObjects(c: ClusterObjects): K8sObject[] {
  return [
    ...c.base,
    ...REPO_ROLES.flatMap((role) => [c.sources[role].secret, c.sources[role].gitRepository]),
    ...c.infrastructure,
    c.secretsKey,
    ...c.services.flatMap((s) => [...s.access, s.config, s.app]),
    ...c.notifications,
    ...c.receivers,
  ];
}
