/**
 * flux-platform: one stack per environment. Loads and validates the stack config once,
 * renders everything the stack commits and applies (lib/), and turns that data into
 * resources (components/). Nothing is created when the config is invalid.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  Cluster,
  CommitStatus,
  FluxInstall,
  FluxService,
  FluxSource,
  GitopsRepo,
  PlatformInfrastructure,
  PushReceiver,
  SecretsKey,
  ServiceRollout,
  repositoryExists,
} from "./components";
import { ageKeyFiles, configuredHostKeys, knownHosts } from "./lib/cluster";
import { ConfigError, loadConfig, placeholderProblem } from "./lib/config";
import { RECIPIENT_PLACEHOLDER } from "./lib/developerRepo";
import { RECIPIENTS_PLACEHOLDER } from "./lib/developerRepo";
import { routed, serviceHostname } from "./lib/platformRepo";
import { publishedSshKeys } from "./lib/github";
import { FLUX_NAMESPACE, REPO_ROLES, type RepoRole } from "./lib/names";
import { renderStack } from "./lib/render";
import { ROLLOUT_TIMEOUT_SECONDS, fingerprint, rolloutWarnings } from "./lib/cluster";

/** The validated config; bad config stops the program with every problem and no stack trace. */
function loadStackConfig() {
  try {
    const cfg = loadConfig(pulumi.runtime.allConfig(), pulumi.getStack());
    const placeholder = placeholderProblem(cfg);
    if (placeholder) throw new pulumi.RunError(placeholder);
    return cfg;
  } catch (err) {
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

/**
 * How the repository files are written: with the GitHub provider's own credentials
 * (`github:token`, else `GITHUB_TOKEN`) and `github:baseUrl` (GitHub Enterprise Server).
 */
function githubAccess(): { token: pulumi.Output<string>; baseUrl?: string } {
  const github = new pulumi.Config("github");
  const token = github.getSecret("token") ?? (process.env.GITHUB_TOKEN || undefined);
  if (token === undefined) {
    throw new pulumi.RunError(
      "github:token: is not set and GITHUB_TOKEN is empty; the repositories are written with it (`pulumi config set --secret github:token <token>`, or export GITHUB_TOKEN)",
    );
  }
  return { token: pulumi.secret(token), baseUrl: github.get("baseUrl") || undefined };
}

const config = loadStackConfig();
const rendered = renderStack(config);

/** Declares the stack's resources; its result is the stack's outputs. */
async function main() {
  const github = githubAccess();
  const repoSettings = {
    platform: {
      repository: config.platformRepo,
      files: rendered.platformFiles,
      description:
        "Platform manifests (apps/, infrastructure/) applied by Flux. Managed by flux-platform.",
    },
    developer: {
      repository: config.developerRepo,
      files: rendered.developerFiles,
      description: "Per-service, per-environment configuration owned by the service teams.",
    },
  };
  // Asked before anything is declared: a repository kept by an earlier `pulumi destroy` is
  // imported, not created again.
  const exists = await Promise.all(
    REPO_ROLES.map((role) =>
      config.adoptRepos ? false : repositoryExists(repoSettings[role].repository),
    ),
  );
  const cluster = new Cluster("cluster", { cluster: config.cluster });
  const kube = {
    provider: cluster.provider,
    deletedWith: cluster.minikube,
    // A cluster the stack did not create may already have the namespaces.
    adoptNamespaces: config.cluster.provider === "kubeconfig",
  };
  // Flux itself: installed by the Flux Operator, or already on the cluster.
  const flux =
    config.fluxInstall === "operator"
      ? [new FluxInstall("flux", { instance: rendered.fluxInstance, kube })]
      : [];
  const appMode = config.gitAuth === "githubApp";
  // Over SSH, the git server's host keys: the rendered Secret has them from the config or
  // GitHub's published ones; any other server is asked (its /meta).
  const knownHostsLines =
    appMode || configuredHostKeys(config.gitSsh)
      ? undefined
      : knownHosts(config.gitSsh, await publishedSshKeys(github.baseUrl));
  // With a GitHub App: its installation, and its private key, secret from the encrypted
  // config to the cluster only.
  const app = config.githubApp && {
    installationId: config.githubApp.installationId,
    privateKey: new pulumi.Config().requireSecret("githubAppPrivateKey"),
  };

  // The age keys SOPS decrypts the developer repo's secrets with: made before the repos, whose
  // `.sops.yaml` names the newest one's recipient, and in the cluster before any config
  // Kustomization that reads them.
  const secretsKey = new SecretsKey(
    "secrets-key",
    { secret: rendered.cluster.secretsKey, keys: ageKeyFiles(config), kube },
    { dependsOn: flux },
  );
  const newestRecipient = secretsKey.recipients.apply((r) => r[config.secretsKeyGeneration]);
  // Only the developer repo's `.sops.yaml` waits for a value from another resource.
  const placeholders: Partial<Record<RepoRole, Record<string, pulumi.Input<string>>>> = {
    developer: {
      [RECIPIENT_PLACEHOLDER]: newestRecipient,
      // The pull request check's facts: every kept recipient (the cluster decrypts with each).
      [RECIPIENTS_PLACEHOLDER]: secretsKey.recipients.apply((r) =>
        Object.keys(r)
          .map(Number)
          .sort((a, b) => a - b)
          .map((g) => r[g])
          .join(","),
      ),
    },
  };

  const repos = Object.fromEntries(
    REPO_ROLES.map((role, i) => [
      role,
      new GitopsRepo(`${role}-repo`, {
        ...repoSettings[role],
        placeholders: placeholders[role],
        visibility: config.repoVisibility,
        adopt: config.adoptRepos,
        exists: exists[i],
        environment: config.environment,
        keyGeneration: config.deployKeyGeneration,
        app,
        owner: config.owner,
        github,
      }),
    ]),
  ) as Record<RepoRole, GitopsRepo>;

  const sources = REPO_ROLES.map(
    (role) =>
      new FluxSource(
        `${role}-source`,
        {
          ...rendered.cluster.sources[role],
          secretData: knownHostsLines
            ? pulumi.secret(
                repos[role].fluxCredentials.apply((c) => ({ ...c, known_hosts: knownHostsLines })),
              )
            : repos[role].fluxCredentials,
          kube,
        },
        // Flux's CRDs exist, and the key is registered and the files committed, before Flux looks.
        { dependsOn: [...flux, repos[role]] },
      ),
  );

  const infrastructure = new PlatformInfrastructure(
    "infrastructure",
    {
      base: rendered.cluster.base,
      kustomizations: rendered.cluster.infrastructure,
      kube,
    },
    // The age key's Secret too, so that its last object is the one anchor every service names
    // (no wait added: the Secret needs only Flux, the sources need the repos first).
    { dependsOn: [...flux, ...sources, secretsKey.secret] },
  );

  if (rendered.cluster.notifications.length > 0) {
    new CommitStatus(
      "commit-status",
      {
        objects: rendered.cluster.notifications,
        token: appMode ? undefined : new pulumi.Config().requireSecret("commitStatusToken"),
        kube,
      },
      { dependsOn: [...flux, infrastructure] },
    );
  }

  // Push to apply: GitHub's webhooks call Flux's receiver, which fetches the pushed repo now.
  if (config.webhookReceiverUrl !== undefined) {
    new PushReceiver(
      "push-receiver",
      {
        objects: rendered.cluster.receivers,
        baseUrl: config.webhookReceiverUrl,
        repositories: {
          platform: repos.platform.repositoryName,
          developer: repos.developer.repositoryName,
        },
        owner: config.owner,
        github,
        kube,
      },
      // After the infrastructure: the receiver's route needs the Gateway API's CRDs.
      { dependsOn: [...flux, ...sources, infrastructure] },
    );
  }

  const services = rendered.cluster.services.map(
    (s) =>
      new FluxService(
        `service-${s.name}`,
        // The last infrastructure object, after everything else a service needs (Flux, the
        // sources, the namespace, the age key's Secret): one name, not the components, which
        // the SDK expands to every child of theirs, in each service object's state.
        { config: s.config, app: s.app, kube, after: infrastructure.ready },
      ),
  );

  // One wait for every service's Kustomizations, Ready or not: a team's broken config is
  // named in the output and does not fail the platform's up (lib/cluster/rollout.ts).
  if (config.waitForReady && rendered.cluster.services.length > 0) {
    // Kustomization name -> service, in the services' order (config, then app).
    const serviceOf = new Map(
      rendered.cluster.services.flatMap((s) => [
        [s.config.metadata.name, s.name],
        [s.app.metadata.name, s.name],
      ]),
    );
    const kustomizations = [...serviceOf.keys()];
    const rollout = new ServiceRollout(
      "services-rollout",
      {
        context: cluster.kubeContext,
        kubeconfig: cluster.kubeconfig,
        namespace: FLUX_NAMESPACE,
        kustomizations,
        fingerprint: fingerprint(rendered.cluster.services),
        timeoutSeconds: ROLLOUT_TIMEOUT_SECONDS,
      },
      { dependsOn: services.map((s) => s.app) },
    );
    pulumi.all([rollout.verdict, rollout.waitedSeconds]).apply(([verdict, waited]) => {
      for (const w of rolloutWarnings(verdict, (k) => serviceOf.get(k), waited)) {
        void pulumi.log.warn(w, rollout);
      }
    });
  }

  return {
    environment: config.environment,
    kubeContext: cluster.kubeContext,
    fluxVersion: flux[0]?.version ?? "installed outside this stack (fluxInstall: existing)",
    platformRepoUrl: repos.platform.htmlUrl,
    developerRepoUrl: repos.developer.htmlUrl,
    // What the environment's files are encrypted to: `sops --age <recipient>`. Public.
    secretsRecipient: newestRecipient,
    fluxObjects: rendered.clusterObjects
      .filter((o) => o.apiVersion.includes("fluxcd.io"))
      .map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`),
    watch: pulumi.interpolate`flux get kustomizations --context ${cluster.kubeContext}`,
    // Where each service with a route answers, through the environment's Gateway.
    serviceUrls: Object.fromEntries(
      config.services
        .filter((s) => routed(config, s))
        .map((s) => [s.name, `http://${serviceHostname(s.name, config.ingressDomain)}`]),
    ),
  };
}

export = main();
