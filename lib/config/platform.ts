/** What a stack's validated config is: the typed platform config and its fixed names. */
import { type ClusterConfig } from "./cluster";
import {
  FLUX_INSTALL_MODES,
  type FluxComponent,
  type InfrastructureComponent,
  type PolicyMode,
} from "./flux";
import {
  GIT_AUTH_MODES,
  type GithubAppConfig,
  type GitSshConfig,
  REPO_VISIBILITIES,
} from "./github";
import { type ServiceConfig } from "./service";

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
