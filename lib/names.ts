/**
 * Names shared by the renderers and the components, in one place so that every reference
 * (dependsOn, sourceRef, secretRef, configMap) points at an object that exists.
 */
export const FLUX_NAMESPACE = "flux-system";
export const INFRASTRUCTURE = "infrastructure";
export const INFRASTRUCTURE_POLICIES = "infrastructure-policies";
export const INFRASTRUCTURE_GATEWAY = "infrastructure-gateway";

export type RepoRole = "platform" | "developer";
export const REPO_ROLES: readonly RepoRole[] = ["platform", "developer"];

/** GitRepository name for each repo (as in the seed: `flux-developer`). */
export const sourceName = (role: RepoRole): string => `flux-${role}`;
export const deployKeySecretName = (role: RepoRole): string => `${sourceName(role)}-deploy-key`;
/** The Secret with the GitHub App's id, installation and private key (`gitAuth: githubApp`). */
export const githubAppSecretName = (role: RepoRole): string => `${sourceName(role)}-github-app`;
export const configKustomizationName = (service: string): string => `config-${service}`;
/**
 * The ServiceAccount (in flux-system) every service's config Kustomization impersonates; the
 * admission policy keeps each to its own objects (lib/cluster/access.ts).
 */
export const CONFIG_ACCOUNT = "flux-platform-developer-config";
export const appKustomizationName = (service: string): string => `app-${service}`;
/** The ConfigMap the developer Kustomization builds and the Deployment mounts. */
export const configMapName = (service: string): string => `${service}-config`;
/**
 * The Secret a service team may build from its encrypted `secrets/` folder (a
 * `secretGenerator`), beside its ConfigMap; the config account may write only this one.
 */
export const secretsName = (service: string): string => `${service}-secrets`;
/**
 * The team's folder `<service>/<env>/secrets/` in the developer repo: a kustomize Component
 * the config Kustomization adds when it exists (`ignoreMissingComponents`), so a folder
 * without secrets still builds.
 */
export const SECRETS_COMPONENT = "secrets";
/**
 * The flux-system Secret holding the environment's age identities, one data key
 * `<env>-g<generation>.agekey` per kept generation: kustomize-controller decrypts the
 * developer repo's SOPS files with it (every key ending in `.agekey`).
 */
export const SOPS_AGE_SECRET = "sops-age";
/** The data key of one generation's age identity in the `sops-age` Secret. */
export const ageKeyName = (environment: string, generation: number): string =>
  `${environment}-g${generation}.agekey`;

/**
 * Folder of one environment in the platform repo: each stack writes only its own, and its
 * Flux Kustomizations read only from it, so one environment's `pulumi up` never changes
 * what another environment's cluster runs (docs/design.md "Environments and promotion").
 */
export const platformRoot = (environment: string): string => `environments/${environment}`;

/**
 * Label on each service Kustomization naming the repository it applies (`developer` for
 * config-<service>, `platform` for app-<service>): the commit-status Alert of that
 * repository selects its Kustomizations by it, one Alert per repository for every service.
 */
export const REPO_LABEL = "flux-platform/repo";

/** Annotation that makes the Pulumi Kubernetes provider wait for Flux to report Ready. */
export const WAIT_FOR_READY = { "pulumi.com/waitFor": "condition=Ready" } as const;

/**
 * Annotation that makes the provider apply and not wait: a service's Kustomizations, which
 * one wait after all of them reads instead (components/serviceRollout.ts, lib/cluster/rollout.ts).
 */
export const SKIP_AWAIT = { "pulumi.com/skipAwait": "true" } as const;

/**
 * Annotation that gives every object the provider applies one server-side apply field manager,
 * instead of a random name per Pulumi resource. An up killed between an apply and its
 * checkpoint (or run with PULUMI_SKIP_CHECKPOINTS=true) leaves objects the state does not
 * hold; the next up applies them again (a create is an apply: an upsert) and, with a random
 * name, the killed up's manager kept co-owning every field, so the next change of one of them
 * failed with "Server-Side Apply field conflict" (e2e:faults). With one name, the same manager
 * takes them back. An object that had a random manager gets this one at its next update, and
 * the provider then relinquishes the old one (pulumi-kubernetes `Update`, `ssa.Relinquish`).
 */
export const FIELD_MANAGER = { "pulumi.com/patchFieldManager": "flux-platform" } as const;

/**
 * Folders the platform repo keeps under `environments/<env>/apps/` beside one folder per
 * service (`apps/<service>/`): the generic Deployment and Service, and the route component.
 */
export const APPS_BASE = "base";
export const APPS_COMPONENTS = "components";
/** The developer repo's shared folder per service, beside one folder per environment. */
export const DEVELOPER_BASE = "base";
/**
 * The webhook receiver's HTTPRoute in the app namespace (beside one route per service, named
 * as the service) and its ReferenceGrant in flux-system.
 */
export const RECEIVER_ROUTE = "flux-webhook-receiver";

/**
 * The names a service may not take, each with what it would collide with. Derived from what
 * the renderers write: paths (`apps/<service>/` beside `apps/base/` and `apps/components/`)
 * and object names (the service's HTTPRoute `<service>` beside the receiver's route). Every
 * other name a service renders is prefixed or suffixed per service (`app-<service>`,
 * `config-<service>`, `<service>-config`), so two services never collide with each other.
 */
export const RESERVED_SERVICE_NAMES: Readonly<Record<string, string>> = {
  [APPS_BASE]: `the platform repo's shared folder apps/${APPS_BASE}/ (every service's Deployment and Service)`,
  [APPS_COMPONENTS]: `the platform repo's folder apps/${APPS_COMPONENTS}/ (the route component)`,
  [RECEIVER_ROUTE]: `the webhook receiver's HTTPRoute ${RECEIVER_ROUTE} in the app namespace`,
};

/**
 * The names an environment may not take: the developer repo keeps `<service>/<env>/` beside
 * `<service>/base/`, so an environment `base` would share every service's base config.
 */
export const RESERVED_ENVIRONMENT_NAMES: Readonly<Record<string, string>> = {
  [DEVELOPER_BASE]: `every service's shared folder <service>/${DEVELOPER_BASE}/ in the developer repo`,
};

/** Why `name` cannot be a service or environment name, or undefined when it can. */
export function nameCollision(kind: "service" | "environment", name: string): string | undefined {
  const reserved = kind === "service" ? RESERVED_SERVICE_NAMES : RESERVED_ENVIRONMENT_NAMES;
  const what = Object.hasOwn(reserved, name) ? reserved[name] : undefined;
  return what && `\`${name}\` is reserved: it collides with ${what}; choose another ${kind} name`;
}
