/**
 * Git over smart HTTP, as GitHub serves it: `/{owner}/{repo}.git/info/refs?service=…`,
 * `POST /{owner}/{repo}.git/git-upload-pack` and `…/git-receive-pack` (also without `.git`,
 * which GitHub accepts too), answered by `git http-backend` run as a CGI program over the
 * bare repositories under root. Bodies are streamed both ways; a gzip request body (git sends
 * one for a long negotiation) is inflated on the way in.
 *
 * Authentication is GitHub's: HTTP basic auth whose password (or, with none, user name) is a
 * token. Flux's source-controller sends `x-access-token:<installation token>` (fluxcd/pkg
 * githubapp.GetCredentials). The stand-in's own token (any token when none is set) reads and
 * pushes everything; an installation token reads the repositories granted to it and pushes
 * only with `contents: write`. Public repositories are read by anyone, without credentials too.
 *   no or bad credentials           401, `WWW-Authenticate: Basic realm="GitHub"`
 *   not granted, or no repository    404 "Repository not found." (GitHub hides which)
 *   push without write access        403 "Permission to o/r.git denied to <slug>[bot]."
 *   dumb HTTP (no `service`)         403, as GitHub refuses it
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import type * as http from "node:http";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { credential, installationCaller, installationMay, installationSees } from "./apps";
import type { StandInContext } from "./server";

const GIT_PATH = /^\/([^/]+)\/([^/]+?)(?:\.git)?\/(info\/refs|git-upload-pack|git-receive-pack)$/;

/** Whether a request path (not `/api/v3/…`, not `/_standin/…`) is git's smart HTTP. */
export function isGitHttpPath(pathname: string): boolean {
  const m = GIT_PATH.exec(pathname);
  return m !== null && !["api", "_standin", "repos"].includes(m[1]);
}

type Access = "read" | "write";

/** Whether the credentials may read or write the repository; the refusal otherwise. */
function authorize(
  ctx: StandInContext,
  header: string | undefined,
  o: string,
  r: string,
  access: Access,
): { login: string } | { status: number; message: string; challenge?: boolean } {
  const exists = fs.existsSync(ctx.repoDir(o, r));
  const missing = { status: 404, message: "Repository not found." };
  const challenge = {
    status: 401,
    message:
      "Invalid username or token. Password authentication is not supported for Git operations.",
    challenge: true,
  };
  const token = /^basic\s/i.test(header ?? "") ? credential(header) : undefined;
  if (token === undefined) {
    if (exists && access === "read" && visibility(ctx, o, r) === "public") {
      return { login: "anonymous" };
    }
    return { ...challenge, message: "Authentication required." };
  }
  if (token.startsWith("ghs_")) {
    const caller = installationCaller(ctx, token);
    if (!caller) return challenge;
    if (!exists) return missing;
    if (!installationSees(ctx, caller, o, r)) {
      // Anyone reads a public repository; the token adds nothing to it.
      const open = access === "read" && visibility(ctx, o, r) === "public";
      return open ? { login: `${caller.app.slug}[bot]` } : missing;
    }
    if (!installationMay(caller, "contents", access)) {
      return {
        status: 403,
        message: `Permission to ${o}/${r}.git denied to ${caller.app.slug}[bot].`,
      };
    }
    return archived(ctx, o, r, access) ?? { login: `${caller.app.slug}[bot]` };
  }
  const user = ctx.options.token;
  if (user && token !== user) return challenge;
  if (!exists) return missing;
  return archived(ctx, o, r, access) ?? { login: ctx.options.user ?? "acme" };
}

function settings(ctx: StandInContext, o: string, r: string) {
  const f = path.join(ctx.root, o, `${r}.json`);
  if (!fs.existsSync(f)) return undefined;
  return (JSON.parse(fs.readFileSync(f, "utf8")) as { settings?: Record<string, unknown> })
    .settings;
}

/** rest.ts's visibility (a bare repository without state is private, as rest.ts makes it). */
function visibility(ctx: StandInContext, o: string, r: string): string {
  return String(settings(ctx, o, r)?.visibility ?? "private");
}

function archived(ctx: StandInContext, o: string, r: string, access: Access) {
  if (access === "write" && settings(ctx, o, r)?.archived === true) {
    return { status: 403, message: "This repository was archived so it is read-only." };
  }
  return undefined;
}

/** Answers a smart HTTP request; resolves with the status sent once the answer is complete. */
export async function serveGitHttp(
  ctx: StandInContext,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
): Promise<number> {
  const text = (status: number, message: string, headers: Record<string, string> = {}) => {
    req.resume(); // the body is not read
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
    res.end(`${message}\n`);
    return status;
  };
  const [, o, r, what] = GIT_PATH.exec(url.pathname)!;
  const method = req.method ?? "GET";
  const service = what === "info/refs" ? url.searchParams.get("service") : what;
  if (what === "info/refs" ? method !== "GET" && method !== "HEAD" : method !== "POST") {
    return text(405, "Method Not Allowed");
  }
  if (service !== "git-upload-pack" && service !== "git-receive-pack") {
    return text(
      403,
      "Please upgrade your git client.\nGitHub.com no longer supports git over dumb-http: https://github.com/blog/809-git-dumb-http-transport-to-be-turned-off-in-90-days",
    );
  }
  const access: Access = service === "git-receive-pack" ? "write" : "read";
  const who = authorize(ctx, req.headers.authorization, o, r, access);
  if ("status" in who) {
    const challenge: Record<string, string> = who.challenge
      ? { "www-authenticate": 'Basic realm="GitHub"' }
      : {};
    return text(who.status, who.message, challenge);
  }

  const gzip = /^(x-)?gzip$/i.test(String(req.headers["content-encoding"] ?? ""));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "CONTENT_LENGTH"]) delete env[k];
  Object.assign(env, {
    GIT_PROJECT_ROOT: ctx.root,
    GIT_HTTP_EXPORT_ALL: "1",
    GIT_CONFIG_NOSYSTEM: "1",
    PATH_INFO: `/${o}/${r}.git/${what}`,
    REQUEST_METHOD: method,
    QUERY_STRING: url.search.replace(/^\?/, ""),
    CONTENT_TYPE: String(req.headers["content-type"] ?? ""),
    REMOTE_USER: who.login,
    REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
    GATEWAY_INTERFACE: "CGI/1.1",
    SERVER_PROTOCOL: "HTTP/1.1",
  });
  if (!gzip && req.headers["content-length"] !== undefined) {
    env.CONTENT_LENGTH = String(req.headers["content-length"]);
  }
  const protocol = req.headers["git-protocol"];
  if (typeof protocol === "string") {
    env.HTTP_GIT_PROTOCOL = protocol;
    env.GIT_PROTOCOL = protocol;
  }

  const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  child.stdin.on("error", () => undefined); // the backend may stop reading early
  const input: NodeJS.ReadableStream = gzip ? req.pipe(zlib.createGunzip()) : req;
  input.on("error", () => child.kill());
  input.pipe(child.stdin);
  res.on("close", () => {
    if (child.exitCode === null) child.kill();
  });

  return new Promise<number>((resolve) => {
    let head = Buffer.alloc(0);
    let status = 0;
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf("\r\n\r\n");
      const lf = head.indexOf("\n\n");
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
      if (end < 0) return;
      const bodyStart = end + (end === crlf ? 4 : 2);
      child.stdout.off("data", onData);
      child.stdout.pause();
      // CGI headers: `Status: 404 Not Found` sets the status, the others are passed on.
      status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString("latin1").split(/\r?\n/)) {
        const i = line.indexOf(":");
        if (i <= 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === "status") status = Number(value.split(" ")[0]) || 500;
        else headers[name] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(bodyStart));
      child.stdout.pipe(res);
    };
    child.stdout.on("data", onData);
    child.on("close", (code) => {
      if (status === 0) {
        // No CGI answer at all.
        status = 500;
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end(`git http-backend exited with ${code}: ${stderr}`);
      }
    });
    res.on("close", () => resolve(status || 500));
  });
}
