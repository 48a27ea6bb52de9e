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
/** ServiceAccount (in flux-system) that a service's config Kustomization impersonates. */
export const configAccountName = (service: string): string => `config-${service}`;
export const appKustomizationName = (service: string): string => `app-${service}`;
/** The ConfigMap the developer Kustomization builds and the Deployment mounts. */
export const configMapName = (service: string): string => `${service}-config`;

/**
 * Folder of one environment in the platform repo: each stack writes only its own, and its
 * Flux Kustomizations read only from it, so one environment's `pulumi up` never changes
 * what another environment's cluster runs (README "Environments and promotion").
 */
export const platformRoot = (environment: string): string => `environments/${environment}`;

/** Annotation that makes the Pulumi Kubernetes provider wait for Flux to report Ready. */
export const WAIT_FOR_READY = { "pulumi.com/waitFor": "condition=Ready" } as const;
