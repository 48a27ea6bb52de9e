/**
 * Stack configuration: one schema, one loader.
 *
 * The loader takes raw values keyed by their full Pulumi config key (`github:owner`,
 * `flux-platform:services`, ...). `index.ts` feeds it `pulumi.runtime.allConfig()` (values
 * are strings there, structured ones JSON-encoded); `npm run render` feeds it the `config:`
 * block of `Pulumi.<stack>.yaml` in the same shape (lib/render.ts `readStackFile`), with a
 * `secure:` value as `ENCRYPTED`: set, not decrypted. Every problem is collected and
 * reported at once, each naming the key, the value given and what is allowed.
 *
 * This module holds the key table, the loader and the checks that span keys; the schemas of
 * each concern are in their own module (`service`, `cluster`, `github`, `flux`, and the
 * shared primitives in `values`), and everything the rest of the program uses is exported
 * from here.
 */
import { z } from "zod";
import { nameCollision } from "../names";
import { type ClusterConfig, clusterSchema, kubeconfigSchema, minikubeSchema } from "./cluster";
import {
  componentsSchema,
  DEFAULT_FLUX_COMPONENTS,
  FLUX_DURATION,
  FLUX_INSTALL_MODES,
  type FluxComponent,
  INFRASTRUCTURE_COMPONENTS,
  type InfrastructureComponent,
  infrastructureSchema,
  POLICY_MODES,
  type PolicyMode,
} from "./flux";
import {
  appPrivateKeyProblem,
  GIT_AUTH_MODES,
  type GithubAppConfig,
  GITHUB_OWNER,
  githubAppSchema,
  githubRepo,
  githubWebUrl,
  type GitSshConfig,
  gitSshSchema,
  receiverUrlProblem,
  REPO_VISIBILITIES,
} from "./github";
import {
  autoscalingSchema,
  codeOwners,
  MAX_SERVICE_NAME,
  type ServiceConfig,
  serviceSchema,
  servicesSchema,
} from "./service";
import {
  DNS_1035_LABEL,
  DNS_LABEL,
  dnsLabel,
  isDomain,
  MAX_DOMAIN,
  show,
  wholeNumber,
} from "./values";

export {
  type ClusterConfig,
  type KubeconfigCluster,
  MIN_KUBERNETES_MINOR,
  MINIKUBE_DRIVERS,
  type MinikubeCluster,
} from "./cluster";
export {
  DEFAULT_FLUX_COMPONENTS,
  FLUX_COMPONENTS,
  FLUX_INSTALL_MODES,
  type FluxComponent,
  INFRASTRUCTURE_COMPONENTS,
  type InfrastructureComponent,
  POLICY_MODES,
  type PolicyMode,
  REQUIRED_FLUX_COMPONENTS,
} from "./flux";
export {
  appPrivateKeyProblem,
  GIT_AUTH_MODES,
  type GithubAppConfig,
  githubWebUrl,
  GITHUB_SSH,
  type GitSshConfig,
  REPO_VISIBILITIES,
} from "./github";
export { DEFAULT_RESOURCES, MAX_SERVICE_NAME, PLATFORM_ENV, type ServiceConfig } from "./service";
export { MAX_DOMAIN } from "./values";

export const PROJECT = "flux-platform";

/**
 * Longest environment name: it is a DNS-1123 label the team chooses (`dev`, `staging`,
 * `eu-prd`...), and the longest name derived from it, the default minikube profile
 * `minikube-<environment>`, must itself stay a label (63).
 */
export const MAX_ENVIRONMENT_NAME = 63 - "minikube-".length;

/** Namespaces the platform itself uses; the app namespace must be none of them. */
export const RESERVED_NAMESPACES = [
  "default",
  "flux-system",
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "kyverno",
  "reloader",
];

export interface PlatformConfig {
  readonly owner: string;
  /**
   * GitHub's web address (`https://github.com`, or GitHub Enterprise Server's from
   * `github:baseUrl`): the notification Providers name the repositories by it.
   */
  readonly githubUrl: string;
  /**
   * Flux posts a commit status (success or failure per environment and Kustomization) on
   * the commits it applies, with the secret `commitStatusToken`.
   */
  readonly commitStatus: boolean;
  /**
   * Public base URL of this environment's Flux webhook receiver (no trailing `/`). Set: both
   * repos get a webhook and a push is applied in seconds; unset: Flux polls every
   * `syncInterval`.
   */
  readonly webhookReceiverUrl?: string;
  /**
   * How Flux reads both repos: a read-only deploy key per repo and environment (SSH), or a
   * GitHub App's installation tokens (HTTPS); the App also posts the commit statuses.
   */
  readonly gitAuth: (typeof GIT_AUTH_MODES)[number];
  /** The App (with `gitAuth: githubApp`); its private key is the secret `githubAppPrivateKey`. */
  readonly githubApp?: GithubAppConfig;
  /** GitHub's REST API URL for Flux's App client: unset for github.com, `<GHES>/api/v3`. */
  readonly githubApiUrl?: string;
  /** Names the developer repo folder per service, the deploy keys and the default profile. */
  readonly environment: string;
  readonly policyMode: PolicyMode;
  readonly platformRepo: string;
  readonly developerRepo: string;
  readonly repoVisibility: (typeof REPO_VISIBILITIES)[number];
  readonly adoptRepos: boolean;
  readonly fluxVersion: string;
  readonly fluxComponents: readonly FluxComponent[];
  readonly fluxInstall: (typeof FLUX_INSTALL_MODES)[number];
  /** Which infrastructure components the platform repo installs. */
  readonly infrastructure: Readonly<Record<InfrastructureComponent, boolean>>;
  readonly gitSsh: GitSshConfig;
  /** Services are reached at `<service>.<ingressDomain>`. */
  readonly ingressDomain: string;
  /** How often Flux fetches both repos (a push through the webhooks comes at once). */
  readonly syncInterval: string;
  /**
   * How often each Kustomization applies its source again with no change in it (drift
   * correction); a new revision is applied at once, a failure retried every minute.
   */
  readonly reconcileInterval: string;
  readonly appNamespace: string;
  readonly waitForReady: boolean;
  /** Bump to rotate both deploy keys of this environment in one `pulumi up`. */
  readonly deployKeyGeneration: number;
  /**
   * Bump to rotate the environment's age key: the new identity is added and the previous
   * one kept, so files still encrypted to it decrypt until they are re-encrypted
   * (`sops updatekeys`); bumping again drops the one before.
   */
  readonly secretsKeyGeneration: number;
  readonly cluster: ClusterConfig;
  /**
   * The platform team in the developer repo's CODEOWNERS (`@org/team`, `@user` or an
   * e-mail): its review is what a change to the files the stack owns there needs.
   */
  readonly platformOwners?: readonly string[];
  /** Sorted by name, so everything derived from it is in a stable order. */
  readonly services: readonly ServiceConfig[];
}

/** Thrown with every problem found; `problems` holds one line each. */
export class ConfigError extends Error {
  constructor(public readonly problems: readonly string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/**
 * One entry per config key: the schema for its value and whether Pulumi hands it over as
 * JSON text (structured, numeric and boolean keys).
 */
/**
 * A Flux interval: a duration of at least 10 s. `what` is what would reconcile that often.
 */
function intervalSchema(what: string) {
  return (
    z
      .string()
      .refine((v) => FLUX_DURATION.test(v), {
        error: (i) => `${show(i.input)} is not a Flux duration (e.g. \`30s\`, \`1m\`, \`1h30m\`)`,
      })
      // `0s` is a valid duration but no interval: Flux would reconcile without pause.
      .refine((v) => !FLUX_DURATION.test(v) || /[1-9]/.test(v), {
        error: (i) =>
          `${show(i.input)} is zero; the interval must be at least \`10s\` (e.g. \`1m\`)`,
      })
      .refine((v) => !/[1-9]/.test(v) || !FLUX_DURATION.test(v) || durationMs(v) >= 10_000, {
        error: (i) =>
          `${show(i.input)} is shorter than \`10s\`: ${what} would reconcile that often; use \`1m\` or more (pushes arrive faster through \`webhookReceiverUrl\`)`,
      })
  );
}

const KEYS = {
  environment: {
    schema: z
      .string()
      .refine((v) => DNS_LABEL.test(v) && v.length <= MAX_ENVIRONMENT_NAME, {
        error: (i) =>
          `${show(i.input)} is not an environment name (DNS-1123 label: lowercase a-z, 0-9 and '-', at most ${MAX_ENVIRONMENT_NAME} characters so that \`minikube-<environment>\` stays a label)`,
      })
      .refine((v) => nameCollision("environment", v) === undefined, {
        error: (i) => nameCollision("environment", String(i.input))!,
      }),
    json: false,
  },
  policyMode: { schema: z.enum(POLICY_MODES).default("audit"), json: false },
  platformRepo: { schema: githubRepo.default("flux_platform"), json: false },
  developerRepo: { schema: githubRepo.default("flux_developer"), json: false },
  repoVisibility: { schema: z.enum(REPO_VISIBILITIES).default("private"), json: false },
  adoptRepos: { schema: z.boolean().default(false), json: true },
  fluxVersion: {
    schema: z
      .string()
      .refine((v) => /^2\.\d+\.\d+$/.test(v), {
        error: (i) =>
          `${show(i.input)} is not an exact Flux 2.x version (e.g. \`2.9.5\`; no \`v\`, ranges or \`latest\`)`,
      })
      // Flux v2.9.5 (2026-08-31), the latest release when checked on 2026-11-27.
      .default("2.9.5"),
    json: false,
  },
  fluxComponents: { schema: componentsSchema.default([...DEFAULT_FLUX_COMPONENTS]), json: true },
  fluxInstall: { schema: z.enum(FLUX_INSTALL_MODES).default("operator"), json: false },
  infrastructure: { schema: infrastructureSchema.prefault({}), json: true },
  gitSsh: { schema: gitSshSchema.prefault({}), json: true },
  ingressDomain: {
    schema: z
      .string()
      .refine((v) => isDomain(v), {
        error: (i) =>
          `${show(i.input)} is not a DNS domain (lowercase labels of a-z, 0-9 and '-', each at most 63, joined by '.', at most ${MAX_DOMAIN} in all)`,
      })
      .optional(),
    json: false,
  },
  syncInterval: { schema: intervalSchema("both sources").default("1m"), json: false },
  reconcileInterval: {
    schema: intervalSchema("every service's Kustomizations").default("1h"),
    json: false,
  },
  appNamespace: {
    schema: dnsLabel("namespace name")
      .refine((v) => !RESERVED_NAMESPACES.includes(v), {
        error: (i) => `${show(i.input)} is reserved (not one of ${RESERVED_NAMESPACES.join(", ")})`,
      })
      .default("apps"),
    json: false,
  },
  waitForReady: { schema: z.boolean().default(true), json: true },
  commitStatus: { schema: z.boolean().default(false), json: true },
  webhookReceiverUrl: {
    schema: z
      .string()
      .refine((v) => receiverUrlProblem(v) === undefined, {
        error: (i) => `${show(i.input)} ${receiverUrlProblem(String(i.input))}`,
      })
      .transform((v) => v.replace(/\/+$/, ""))
      .optional(),
    json: false,
  },
  gitAuth: { schema: z.enum(GIT_AUTH_MODES).default("deployKey"), json: false },
  githubApp: { schema: githubAppSchema.optional(), json: true },
  deployKeyGeneration: { schema: wholeNumber(1, 1_000_000).default(1), json: true },
  secretsKeyGeneration: { schema: wholeNumber(1, 1_000_000).default(1), json: true },
  cluster: { schema: clusterSchema.prefault({ provider: "minikube" }), json: true },
  platformOwners: { schema: codeOwners.optional(), json: true },
  services: { schema: servicesSchema, json: true },
} as const;

type Key = keyof typeof KEYS;

/**
 * The owner the example stack files carry. `npm run render` takes it (it reaches no GitHub);
 * the program refuses it before declaring anything (`placeholderProblem`), so it never
 * reaches GitHub.
 */
export const PLACEHOLDER_OWNER = "your-github-org";

/** Why the program must not run with this config's owner, or undefined. */
export function placeholderProblem(cfg: { owner: string }): string | undefined {
  return cfg.owner === PLACEHOLDER_OWNER
    ? `github:owner: ${show(cfg.owner)} is the example stack's placeholder; set the GitHub user or organisation that owns both repos: \`pulumi config set github:owner <name>\``
    : undefined;
}

/** A Flux duration (`1h30m`, `1.5s`, `250ms`) in milliseconds. */
function durationMs(v: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of v.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g))
    total += Number(m[1]) * unit[m[2]];
  return total;
}
/**
 * Secret keys: only their presence is checked here; the program reads them as secrets
 * (`pulumi config set --secret`), so their values never enter the validated config.
 */
export const SECRET_KEYS = ["commitStatusToken", "githubAppPrivateKey"];
/**
 * A secret as `npm run render` reads it from the stack file: set (`secure: <ciphertext>`) but
 * not decrypted. The checks count it as present and skip its content, which the program
 * checks under Pulumi, where the engine hands over the decrypted value.
 */
export const ENCRYPTED: unique symbol = Symbol("encrypted secret");
export const CONFIG_KEYS = Object.keys(KEYS) as Key[];

/** Defaults of the keys that have one: checked against `Pulumi.yaml` by a test. */
export function configDefaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const r = KEYS[key].schema.safeParse(undefined);
    if (r.success && r.data !== undefined) out[key] = r.data;
  }
  return out;
}

/** One line per issue: messages written in these modules are kept as they are; zod's generic
 * ones (wrong type, not in an enum, unknown key) are rewritten to name the value. */
function formatIssue(prefix: string, issue: z.core.$ZodIssue): string {
  const path = [prefix, ...issue.path.map(String)].join(".");
  if (!/^(Invalid|Unrecognized)/.test(issue.message)) return `${path}: ${issue.message}`;
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return `${path}: is required`;
      const expected = issue.expected === "object" ? "a map" : `a ${issue.expected}`;
      const hint =
        issue.expected === "number" && typeof issue.input === "string"
          ? " (write it without quotes)"
          : "";
      return `${path}: ${show(issue.input)} is not ${expected}${hint}`;
    }
    case "invalid_value":
      return `${path}: ${show(issue.input)} is not allowed (allowed: ${issue.values.map(String).join(", ")})`;
    case "unrecognized_keys": {
      const shapes: Record<string, string> = {
        cluster: `${Object.keys(minikubeSchema.shape).join(", ")} (minikube); ${Object.keys(kubeconfigSchema.shape).join(", ")} (kubeconfig)`,
        infrastructure: INFRASTRUCTURE_COMPONENTS.join(", "),
        gitSsh: Object.keys(gitSshSchema.shape).join(", "),
        githubApp: Object.keys(githubAppSchema.shape).join(", "),
      };
      // Under a service: the keys of the object the unknown key is in.
      const nested: Record<string, string> = {
        resources: "requests, limits",
        requests: "cpu, memory",
        limits: "cpu, memory",
        autoscaling: Object.keys(autoscalingSchema.shape).join(", "),
      };
      const segments = path.split(".");
      const allowed =
        shapes[segments[0]] ??
        (segments[0] === "services" && segments.length > 2
          ? nested[segments[segments.length - 1]]
          : undefined) ??
        Object.keys(serviceSchema.shape).join(", ");
      return issue.keys
        .map((k) => `${path}.${k}: unknown key ${show(k)} (allowed: ${allowed})`)
        .join("\n");
    }
    default:
      return `${path}: ${issue.message}`;
  }
}

/** Raw config as Pulumi hands it over: `pulumi.runtime.allConfig()`. */
export type RawConfig = Readonly<Record<string, unknown>>;

/**
 * Validates raw stack config and returns the typed platform config.
 * @throws ConfigError listing every problem
 */
export function loadConfig(raw: RawConfig, stack: string): PlatformConfig {
  const problems: string[] = [];
  const values: Partial<Record<Key, unknown>> = {};
  const inputs: Partial<Record<Key, unknown>> = {};

  for (const fullKey of Object.keys(raw).sort()) {
    const [ns, key] = fullKey.includes(":") ? fullKey.split(/:(.*)/s) : [PROJECT, fullKey];
    if (ns === PROJECT && !(key in KEYS) && !SECRET_KEYS.includes(key)) {
      problems.push(`${key}: unknown key (allowed: ${CONFIG_KEYS.join(", ")}, and github:owner)`);
    }
  }

  const owner = raw["github:owner"];
  if (owner === undefined || owner === "") {
    problems.push(
      "github:owner: is required (the GitHub user or organisation that owns both repos; `pulumi config set github:owner <name>`)",
    );
  } else if (typeof owner !== "string" || !GITHUB_OWNER.test(owner)) {
    problems.push(
      `github:owner: ${show(owner)} is not a GitHub user or organisation name (1-39 of A-Z, a-z, 0-9 and inner '-')`,
    );
  }

  for (const key of CONFIG_KEYS) {
    let value = raw[`${PROJECT}:${key}`] ?? raw[key];
    if (key === "environment" && value === undefined) value = stack;
    if (KEYS[key].json && typeof value === "string") {
      try {
        value = JSON.parse(value);
      } catch {
        problems.push(`${key}: ${show(value)} is not valid JSON/YAML for a structured value`);
        continue;
      }
    }
    inputs[key] = value;
    const result = KEYS[key].schema.safeParse(value, { reportInput: true });
    if (result.success) {
      values[key] = result.data;
    } else {
      const fromStack = key === "environment" && raw[`${PROJECT}:environment`] === undefined;
      for (const issue of result.error.issues) {
        const line = formatIssue(key, issue);
        problems.push(
          fromStack ? `${line}; it defaults to the stack name, so set it explicitly` : line,
        );
      }
    }
  }

  const rawServices = inputs.services;
  if (rawServices !== null && typeof rawServices === "object" && !Array.isArray(rawServices)) {
    for (const name of Object.keys(rawServices).sort()) {
      if (!DNS_1035_LABEL.test(name) || name.length > MAX_SERVICE_NAME) {
        problems.push(
          `services.${name}: ${show(name)} is not a valid service name (lowercase a-z, 0-9 and '-', starting with a letter, at most ${MAX_SERVICE_NAME} characters so that \`config-${name}\` stays a valid label value)`,
        );
      }
      const collision = nameCollision("service", name);
      if (collision) problems.push(`services.${name}: ${collision}`);
    }
  }

  const { platformRepo, developerRepo } = values as {
    platformRepo?: string;
    developerRepo?: string;
  };
  if (platformRepo && developerRepo && platformRepo.toLowerCase() === developerRepo.toLowerCase()) {
    problems.push(
      `developerRepo: ${show(developerRepo)} is the same repository as platformRepo; the platform and developer repos must differ`,
    );
  }

  const infrastructure = values.infrastructure as PlatformConfig["infrastructure"] | undefined;
  const components = values.fluxComponents as string[] | undefined;
  if (
    values.fluxInstall === "operator" &&
    infrastructure &&
    components &&
    Object.values(infrastructure).some(Boolean) &&
    !components.includes("helm-controller")
  ) {
    const on = INFRASTRUCTURE_COMPONENTS.filter((c) => infrastructure[c]).join(", ");
    problems.push(
      `fluxComponents: ${show(components)} lacks \`helm-controller\`, which installs the infrastructure's HelmReleases (${on}); add it, or switch them off under \`infrastructure\``,
    );
  }

  // GitHub App mode: every setting is checked here, before anything is created.
  const appMode = values.gitAuth === "githubApp";
  const appKey = raw[`${PROJECT}:githubAppPrivateKey`];
  if (appMode) {
    if (inputs.githubApp === undefined) {
      problems.push(
        "githubApp: is required when `gitAuth` is githubApp ({appId: <App ID>, installationId: <the installation on the repos' owner>})",
      );
    }
    if (appKey === undefined || appKey === "") {
      problems.push(
        "githubAppPrivateKey: is required when `gitAuth` is githubApp (secret: `pulumi config set --secret flux-platform:githubAppPrivateKey < app.pem`)",
      );
    } else if (appKey !== ENCRYPTED) {
      const why = appPrivateKeyProblem(appKey);
      if (why) problems.push(`githubAppPrivateKey: ${why}`);
    }
  } else if (inputs.githubApp !== undefined || appKey !== undefined) {
    problems.push(
      `${inputs.githubApp !== undefined ? "githubApp" : "githubAppPrivateKey"}: is set but \`gitAuth\` is ${show(values.gitAuth ?? "deployKey")}; set \`gitAuth: githubApp\` to read the repos with the App, or remove it`,
    );
  }

  const statusToken = raw[`${PROJECT}:commitStatusToken`];
  if (
    values.commitStatus === true &&
    !appMode &&
    statusToken !== ENCRYPTED &&
    (typeof statusToken !== "string" || statusToken === "")
  ) {
    problems.push(
      "commitStatusToken: is required when `commitStatus` is true and `gitAuth` is deployKey (a token that may write commit statuses on both repos: `pulumi config set --secret flux-platform:commitStatusToken <token>`; with `gitAuth: githubApp` the App posts them)",
    );
  }

  const needNotifications = [
    values.commitStatus === true ? "`commitStatus`" : undefined,
    values.webhookReceiverUrl !== undefined ? "`webhookReceiverUrl`" : undefined,
  ].filter(Boolean);
  if (
    components &&
    needNotifications.length > 0 &&
    !components.includes("notification-controller")
  ) {
    problems.push(
      `fluxComponents: ${show(components)} lacks \`notification-controller\`, which ${needNotifications.join(" and ")} need${needNotifications.length > 1 ? "" : "s"}; add it, or turn ${needNotifications.length > 1 ? "them" : "it"} off`,
    );
  }

  // Each service's host name `<service>.<domain>` must fit DNS (253 characters).
  const domain =
    (values.ingressDomain as string | undefined) ??
    (typeof values.environment === "string" ? `${values.environment}.localhost` : undefined);
  const servicesIn = values.services as Record<string, { ingress: boolean }> | undefined;
  if (domain && servicesIn) {
    for (const [name, s] of Object.entries(servicesIn)) {
      const host = `${name}.${domain}`;
      if (s.ingress && host.length > 253) {
        problems.push(
          `services.${name}: its host name \`${host}\` has ${host.length} characters, more than DNS allows (253); shorten \`ingressDomain\` or set \`ingress: false\``,
        );
      }
      // The receiver's route takes its host on the same Gateway (lib/notifications.ts
      // receiverRouteHost): a service there would share it with GitHub's webhooks.
      const receiver = values.webhookReceiverUrl as string | undefined;
      if (s.ingress && infrastructure?.gateway && receiver && new URL(receiver).hostname === host) {
        problems.push(
          `services.${name}: its host name \`${host}\` is the webhook receiver's (\`webhookReceiverUrl\`), which the platform routes on the same Gateway; rename the service, move the receiver to another host, or set \`ingress: false\``,
        );
      }
    }
  }

  if (problems.length > 0) throw new ConfigError(problems.flatMap((p) => p.split("\n")));

  const services = values.services as Record<string, Omit<ServiceConfig, "name">>;
  const githubUrl = githubWebUrl(raw["github:baseUrl"]);
  const environment = values.environment as string;
  const rawCluster = values.cluster as z.infer<typeof clusterSchema>;
  const cluster: ClusterConfig =
    rawCluster.provider === "minikube"
      ? { ...rawCluster, profile: rawCluster.profile ?? `minikube-${environment}` }
      : rawCluster;

  return {
    owner: owner as string,
    githubUrl,
    commitStatus: values.commitStatus as boolean,
    ...(values.webhookReceiverUrl !== undefined
      ? { webhookReceiverUrl: values.webhookReceiverUrl as string }
      : {}),
    gitAuth: values.gitAuth as PlatformConfig["gitAuth"],
    ...(appMode ? { githubApp: values.githubApp as GithubAppConfig } : {}),
    ...(githubUrl !== "https://github.com" ? { githubApiUrl: `${githubUrl}/api/v3` } : {}),
    environment,
    platformRepo: platformRepo as string,
    developerRepo: developerRepo as string,
    policyMode: values.policyMode as PolicyMode,
    repoVisibility: values.repoVisibility as PlatformConfig["repoVisibility"],
    adoptRepos: values.adoptRepos as boolean,
    fluxVersion: values.fluxVersion as string,
    fluxComponents: values.fluxComponents as FluxComponent[],
    fluxInstall: values.fluxInstall as PlatformConfig["fluxInstall"],
    infrastructure: infrastructure as PlatformConfig["infrastructure"],
    gitSsh: values.gitSsh as GitSshConfig,
    // A laptop's default: *.localhost resolves to 127.0.0.1 (minikube tunnel, port-forward).
    ingressDomain: domain as string,
    syncInterval: values.syncInterval as string,
    reconcileInterval: values.reconcileInterval as string,
    appNamespace: values.appNamespace as string,
    waitForReady: values.waitForReady as boolean,
    deployKeyGeneration: values.deployKeyGeneration as number,
    secretsKeyGeneration: values.secretsKeyGeneration as number,
    cluster,
    ...(values.platformOwners !== undefined
      ? { platformOwners: values.platformOwners as string[] }
      : {}),
    services: Object.entries(services)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, s]) => ({ name, ...s })),
  };
}
