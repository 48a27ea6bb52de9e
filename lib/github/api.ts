/**
 * GitHub's REST API through Octokit, authenticated and addressed like the Pulumi GitHub
 * provider: `github:token` or `GITHUB_TOKEN`, and `github:baseUrl` for GitHub Enterprise
 * Server (the provider then calls `<baseUrl>/api/v3/...`).
 *
 * Limits (GitHub's REST guidance): writes one at a time, at least a second apart; a 403 or
 * 429 for a secondary rate limit is retried after its `retry-after` (plugin-throttling),
 * other transient failures (5xx, a dropped connection, no answer within `timeoutMs`) by
 * plugin-retry, 3 times with 1, 4 and 9 s between; a 409 Conflict is not retried.
 *
 * Which calls may be retried blindly: every call this project makes is a read or a write
 * whose repetition changes nothing but an unreferenced object (`POST .../git/blobs|trees`
 * are content-addressed, `POST .../git/commits` makes a commit no ref points at until the
 * ref update, and `PATCH .../git/refs` to the same commit is a no-op), except the Contents
 * API's `PUT` (a new commit each time), which the writer sends with `retries: 0`
 * (`NO_RETRY`) and verifies by reading the branch instead. A call that gives up throws with
 * its method, path, status and the number of attempts in the message.
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
  /** How long one attempt may wait for its answer; default 30 s. */
  readonly timeoutMs?: number;
  /** plugin-retry's wait unit: attempt n waits n² of it; default 1000 ms (tests use less). */
  readonly retryAfterBaseMs?: number;
}

/** Request option for a call that must not be repeated blindly (see the module comment). */
export const NO_RETRY = { request: { retries: 0 } } as const;

/** The status and GitHub's message of a failed request, or the transport's error. */
function failure(err: { status?: number; message: string; response?: { data?: unknown } }): string {
  const data = err.response?.data as { message?: unknown } | undefined;
  const message = typeof data?.message === "string" ? data.message : err.message;
  return err.response ? `${err.status} ${message}` : `no answer (${message})`;
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
  const timeoutMs = options.timeoutMs ?? 30_000;
  const octokit = new WithPlugins({
    ...(access.token ? { auth: access.token } : {}),
    // Every attempt gets its own deadline: an answer that never comes is a transient failure
    // (retried as above), not a hung `pulumi up`.
    request: {
      fetch: (url: string, init: RequestInit) =>
        fetch(url, {
          ...init,
          signal: init.signal
            ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)])
            : AbortSignal.timeout(timeoutMs),
        }),
    },
    baseUrl: apiBaseUrl(access.baseUrl),
    userAgent: "flux-platform",
    // plugin-retry's list plus 409: GitHub's Conflict (an empty repository, a stale Contents
    // sha) is an answer, not a transient failure; retried, each costs 1 + 4 + 9 s for nothing.
    retry: {
      doNotRetry: [400, 401, 403, 404, 409, 410, 422, 451],
      retryAfterBaseValue: options.retryAfterBaseMs ?? 1000,
    },
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
  // Outermost (added after the plugins): the final error names the call and the attempts.
  octokit.hook.wrap("request", async (request, o) => {
    try {
      return await request(o);
    } catch (err) {
      const e = err as { status?: number; message: string; response?: { data?: unknown } };
      if (typeof e.message === "string" && !e.message.startsWith("GitHub ")) {
        const { method, url } = octokit.request.endpoint.parse(o);
        const path = new URL(url).pathname.replace(/^\/api\/v3(?=\/)/, "");
        // plugin-retry counts every failed attempt there, the last one included.
        const tries = (o.request as { retryCount?: number } | undefined)?.retryCount ?? 1;
        e.message = `GitHub ${method} ${path}: ${failure(e)}${tries > 1 ? ` (gave up after ${tries} attempts)` : ""}`;
      }
      throw err;
    }
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
