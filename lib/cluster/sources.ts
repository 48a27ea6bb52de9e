/**
 * The two repositories as Flux reads them: a GitRepository per repo and the Secret with its
 * credentials (a deploy key over SSH, or the GitHub App's installation), with the host keys
 * Flux checks the git server against.
 */
import { GITHUB_SSH, type GitSshConfig, type PlatformConfig } from "../config";
import {
  FLUX_NAMESPACE,
  deployKeySecretName,
  githubAppSecretName,
  sourceName,
  type RepoRole,
} from "../names";
import { LABELS, type K8sObject } from "../objects";

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
