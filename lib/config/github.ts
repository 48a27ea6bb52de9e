/**
 * GitHub and how Flux reads the repos: repository names and visibility, the owner's login,
 * the SSH endpoint (`gitSsh`), the GitHub App (`gitAuth: githubApp`, `githubApp` and the
 * secret `githubAppPrivateKey`), the webhook receiver's URL and GitHub's web address.
 */
import * as crypto from "node:crypto";
import { z } from "zod";
import { show, wholeNumber } from "./values";

/** GitHub.com's SSH endpoint; GitHub Enterprise Server has its own (`gitSsh`). */
export const GITHUB_SSH = { host: "github.com", port: 22 } as const;

export const REPO_VISIBILITIES = ["private", "public", "internal"] as const;

/** Where Flux reads the repositories over SSH. */
export interface GitSshConfig {
  readonly host: string;
  readonly port: number;
  /**
   * The server's host keys (`ssh-ed25519 AAAA...`), without host names. Unset: GitHub's
   * published keys for github.com, or the server's `GET /meta` for any other host.
   */
  readonly knownHosts?: readonly string[];
}

export const GIT_AUTH_MODES = ["deployKey", "githubApp"] as const;

/** A GitHub App installed on the repos' owner: Flux reads with its installation tokens. */
export interface GithubAppConfig {
  /** The App's id (its settings page: "App ID"). */
  readonly appId: number;
  /** The installation on the owner (`https://github.com/settings/installations/<id>`). */
  readonly installationId: number;
}

const GITHUB_REPO = /^[A-Za-z0-9_.-]{1,100}$/;
/** GitHub user or organisation login. */
export const GITHUB_OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

export const githubRepo = z
  .string()
  .refine(
    (v) => GITHUB_REPO.test(v) && v !== "." && v !== ".." && !v.toLowerCase().endsWith(".git"),
    {
      error: (i) =>
        `${show(i.input)} is not a GitHub repository name (1-100 of A-Z, a-z, 0-9, '-', '_', '.'; not '.', '..' or ending in '.git')`,
    },
  );

/** A host name (DNS) or an IPv4 address. */
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;
/** One host key as `/meta` and `ssh-keyscan` print it, without the host. */
const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;

export const gitSshSchema = z.strictObject({
  host: z
    .string()
    .refine((v) => HOSTNAME.test(v), {
      error: (i) => `${show(i.input)} is not a host name or IPv4 address`,
    })
    .default(GITHUB_SSH.host),
  port: wholeNumber(1, 65535).default(GITHUB_SSH.port),
  knownHosts: z
    .array(
      z.string().refine((v) => HOST_KEY.test(v), {
        error: (i) =>
          `${show(i.input)} is not a host key (\`<type> <base64>\` as GET /meta's \`ssh_keys\` or ssh-keyscan print it, without the host name)`,
      }),
    )
    .min(1, { error: "is empty: list at least one host key, or leave it out" })
    .optional(),
});

/**
 * Why `v` cannot be the receiver's public base URL, or undefined. GitHub must reach it: an
 * absolute http(s) URL, without credentials, query or fragment (the program appends
 * `/hook/<digest>`).
 */
export function receiverUrlProblem(v: string): string | undefined {
  const what =
    "is not a public base URL for Flux's webhook receiver (`https://<host>[:port][/path]`, no query, fragment or credentials)";
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return what;
  }
  // The raw `?`/`#` test as well: URL parsing drops an empty query or fragment (`/x?`).
  const extra = u.username || u.password || v.includes("?") || v.includes("#");
  return ["http:", "https:"].includes(u.protocol) && !extra ? undefined : what;
}

export const githubAppSchema = z.strictObject({
  appId: wholeNumber(1, Number.MAX_SAFE_INTEGER),
  installationId: wholeNumber(1, Number.MAX_SAFE_INTEGER),
});

/**
 * Why `pem` cannot be a GitHub App's private key, or undefined. GitHub Apps sign their JWTs
 * with RS256: the key GitHub generates is a PEM RSA private key. The message never quotes
 * the key.
 */
export function appPrivateKeyProblem(pem: unknown): string | undefined {
  const what =
    "is not a PEM RSA private key (the .pem file GitHub gives under the App's settings > Private keys: `pulumi config set --secret flux-platform:githubAppPrivateKey < app.pem`)";
  if (typeof pem !== "string" || pem.trim() === "") return what;
  try {
    const key = crypto.createPrivateKey({ key: pem, format: "pem" });
    return key.asymmetricKeyType === "rsa" ? undefined : what;
  } catch {
    return what;
  }
}

/** GitHub's web address for a `github:baseUrl` (its API address, GitHub Enterprise's `/api/v3`). */
export function githubWebUrl(baseUrl: unknown): string {
  const url = typeof baseUrl === "string" ? baseUrl.trim().replace(/\/+$/, "") : "";
  if (url === "" || /^https:\/\/api\.github\.com$/i.test(url)) return "https://github.com";
  return url.replace(/\/api\/v3$/, "");
}
