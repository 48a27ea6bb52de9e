/**
 * flux-platform: one stack per environment. Loads and validates the stack config once,
 * renders everything the stack commits and applies (lib/), and turns that data into
 * resources (components/). Nothing is created when the config is invalid.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  Cluster,
  FluxInstall,
  FluxService,
  FluxSource,
  GitopsRepo,
  PlatformInfrastructure,
} from "./components";
import { ConfigError, loadConfig } from "./lib/config";
import { REPO_ROLES, type RepoRole } from "./lib/names";
import { renderStack } from "./lib/render";

/** The validated config; bad config stops the program with every problem and no stack trace. */
function loadStackConfig() {
  try {
    return loadConfig(pulumi.runtime.allConfig(), pulumi.getStack());
  } catch (err) {
    if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
    throw err;
  }
}

const config = loadStackConfig();
const rendered = renderStack(config);
const cluster = new Cluster("cluster", { cluster: config.cluster });
const kube = { provider: cluster.provider, deletedWith: cluster.minikube };
const flux = new FluxInstall("flux", { instance: rendered.fluxInstance, kube });

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
const repos = Object.fromEntries(
  REPO_ROLES.map((role) => [
    role,
    new GitopsRepo(`${role}-repo`, {
      ...repoSettings[role],
      visibility: config.repoVisibility,
      adopt: config.adoptRepos,
      environment: config.environment,
      keyGeneration: config.deployKeyGeneration,
    }),
  ]),
) as Record<RepoRole, GitopsRepo>;

const sources = REPO_ROLES.map(
  (role) =>
    new FluxSource(
      `${role}-source`,
      {
        ...rendered.cluster.sources[role],
        privateKey: repos[role].privateKey,
        publicKey: repos[role].publicKey,
        kube,
      },
      // Flux's CRDs exist, and the key is registered and the files committed, before Flux looks.
      { dependsOn: [flux, repos[role]] },
    ),
);

const infrastructure = new PlatformInfrastructure(
  "infrastructure",
  {
    base: rendered.cluster.base,
    kustomizations: rendered.cluster.infrastructure,
    kube,
  },
  { dependsOn: [flux, ...sources] },
);

for (const s of rendered.cluster.services) {
  new FluxService(
    `service-${s.name}`,
    { config: s.config, app: s.app, kube },
    { dependsOn: [infrastructure] },
  );
}

export const environment = config.environment;
export const kubeContext = cluster.kubeContext;
export const fluxVersion = flux.version;
export const platformRepoUrl = repos.platform.htmlUrl;
export const developerRepoUrl = repos.developer.htmlUrl;
export const fluxObjects = rendered.clusterObjects
  .filter((o) => o.apiVersion.includes("fluxcd.io"))
  .map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`);
export const watch = pulumi.interpolate`flux get kustomizations --context ${cluster.kubeContext}`;
