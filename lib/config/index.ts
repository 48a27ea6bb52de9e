/**
 * Stack configuration: one schema, one loader.
 *
 * The loader takes raw values keyed by their full Pulumi config key (`github:owner`,
 * `flux-platform:services`, ...). `index.ts` feeds it `pulumi.runtime.allConfig()` (values
 * are strings there, structured ones JSON-encoded); `npm run render` feeds it the `config:`
 * block of `Pulumi.<stack>.yaml` in the same shape (lib/render/stackFile.ts `readStackFile`), with a
 * `secure:` value as `ENCRYPTED`: set, not decrypted. Every problem is collected and
 * reported at once, each naming the key, the value given and what is allowed.
 *
 * This module is the loader and the checks that span keys, and the one entrance to
 * `lib/config/`: the key table is in `keys`, the typed result in `platform`, the error
 * messages in `errors`, the schemas of each concern in their own module (`service`,
 * `cluster`, `github`, `flux`, and the shared primitives in `values`).
 */
import { z } from "zod";
import { nameCollision } from "../names";
import { type ClusterConfig, clusterSchema } from "./cluster";
import { type FluxComponent, INFRASTRUCTURE_COMPONENTS, type PolicyMode } from "./flux";
import {
  appPrivateKeyProblem,
  type GithubAppConfig,
  GITHUB_OWNER,
  githubWebUrl,
  type GitSshConfig,
} from "./github";
import { MAX_SERVICE_NAME, type ServiceConfig } from "./service";
import { DNS_1035_LABEL, show } from "./values";

import { ConfigError, formatIssue } from "./errors";
import { CONFIG_KEYS, ENCRYPTED, KEYS, SECRET_KEYS, type Key } from "./keys";
import { PROJECT, type PlatformConfig } from "./platform";

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
export {
  DEFAULT_RESOURCES,
  imageRef,
  MAX_SERVICE_NAME,
  PLATFORM_ENV,
  type ServiceConfig,
} from "./service";
export { MAX_DOMAIN, show } from "./values";
export { ConfigError } from "./errors";
export {
  CONFIG_KEYS,
  configDefaults,
  ENCRYPTED,
  PLACEHOLDER_OWNER,
  placeholderProblem,
  SECRET_KEYS,
} from "./keys";
export {
  MAX_ENVIRONMENT_NAME,
  PROJECT,
  RESERVED_NAMESPACES,
  type PlatformConfig,
} from "./platform";

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
      // The receiver's route takes its host on the same Gateway (lib/cluster/notifications.ts
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
