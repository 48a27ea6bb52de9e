/**
 * GitHub's REST API through Octokit, authenticated and addressed like the Pulumi GitHub
 * provider: `github:token` or `GITHUB_TOKEN`, and `github:baseUrl` for GitHub Enterprise
 * Server (the provider then calls `<baseUrl>/api/v3/...`).
 *
 * Limits (GitHub's REST guidance): writes one at a time, at least a second apart; a 403 or
 * 429 for a secondary rate limit is retried after its `retry-after` (plugin-throttling),
 * other transient failures (5xx) by plugin-retry; a 409 Conflict is not retried.
 *
 * Octokit is ESM-only: it is `require`d inside the function (Node >= 22 loads ESM that way),
 * so this module can be captured by the Pulumi dynamic provider that uses it.
 */
import type { Octokit } from "@octokit/core";

export type GitHubClient = Octokit;

export interface GitHubAccess {
  /** Token with Contents read/write on the repositories (never logged); unset: anonymous. */
  readonly token?: string;
  /** `github:baseUrl`; unset or `https://api.github.com/` for github.com. */
  readonly baseUrl?: string;
}

export interface ClientOptions {
  /** Gap between two writes; GitHub asks for at least one second. Tests and bench use 0. */
  readonly minWriteIntervalMs?: number;
  /** How many times one request is retried after a secondary rate limit. */
  readonly secondaryLimitRetries?: number;
  /** Called for every response, to count requests (bench, tests). */
  readonly onResponse?: (method: string, url: string, status: number) => void;
}

/** The REST API root for a `github:baseUrl` value, as the GitHub provider derives it. */
export function apiBaseUrl(baseUrl?: string): string {
  const trimmed = (baseUrl ?? "").trim().replace(/\/+$/, "");
  if (trimmed === "" || /^https:\/\/api\.github\.com$/i.test(trimmed)) {
    return "https://api.github.com";
  }
  return trimmed.endsWith("/api/v3") ? trimmed : `${trimmed}/api/v3`;
}

export function githubClient(access: GitHubAccess, options: ClientOptions = {}): GitHubClient {
  const { Octokit: Core } = require("@octokit/core") as typeof import("@octokit/core");
  const { throttling } =
    require("@octokit/plugin-throttling") as typeof import("@octokit/plugin-throttling");
  const { retry } = require("@octokit/plugin-retry") as typeof import("@octokit/plugin-retry");
  const Bottleneck = require("bottleneck/light.js") as {
    Group: new (options: { maxConcurrent: number; minTime: number }) => unknown;
  };
  const retries = options.secondaryLimitRetries ?? 5;
  const WithPlugins = Core.plugin(throttling, retry);
  const octokit = new WithPlugins({
    ...(access.token ? { auth: access.token } : {}),
    baseUrl: apiBaseUrl(access.baseUrl),
    userAgent: "flux-platform",
    // plugin-retry's list plus 409: GitHub's Conflict (an empty repository, a stale Contents
    // sha) is an answer, not a transient failure; retried, each costs 1 + 4 + 9 s for nothing.
    retry: { doNotRetry: [400, 401, 403, 404, 409, 410, 422, 451] },
    // No request or response bodies in logs: they carry file contents.
    log: { debug: () => {}, info: () => {}, warn: console.warn, error: console.error },
    throttle: {
      write: new Bottleneck.Group({
        maxConcurrent: 1,
        minTime: options.minWriteIntervalMs ?? 1000,
      }),
      onSecondaryRateLimit: (_after: number, _opts: unknown, _o: unknown, count: number) =>
        count < retries,
      onRateLimit: (_after: number, _opts: unknown, _o: unknown, count: number) => count < 1,
    },
  });
  if (options.onResponse) {
    const report = options.onResponse;
    octokit.hook.wrap("request", async (request, o) => {
      try {
        const r = await request(o);
        report(o.method, o.url, r.status);
        return r;
      } catch (err) {
        report(o.method, o.url, (err as { status?: number }).status ?? 0);
        throw err;
      }
    });
  }
  return octokit as unknown as GitHubClient;
}

/**
 * The SSH host keys a GitHub server publishes in `GET /meta` (`ssh_keys`, `<type> <base64>`
 * each). Public on github.com and GitHub Enterprise Server: no token is sent.
 */
export async function publishedSshKeys(baseUrl?: string): Promise<string[]> {
  const gh = githubClient({ baseUrl }, { minWriteIntervalMs: 0 });
  const meta = await gh.request("GET /meta");
  const keys = (meta.data as { ssh_keys?: string[] }).ssh_keys ?? [];
  if (keys.length === 0) {
    throw new Error(
      `${apiBaseUrl(baseUrl)}/meta lists no ssh_keys; set flux-platform:gitSsh.knownHosts`,
    );
  }
  return keys;
}
