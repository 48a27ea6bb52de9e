/**
 * Repository webhooks, as GitHub's REST API documents them: `POST/GET /repos/{o}/{r}/hooks`,
 * `GET/PATCH/DELETE /repos/{o}/{r}/hooks/{id}` (the calls the GitHub provider's
 * `github_repository_webhook` makes; the secret is answered as `********`),
 * `POST .../hooks/{id}/pings` and `GET .../hooks/{id}/deliveries`.
 *
 * Deliveries are real HTTP POSTs signed as GitHub signs them (`X-Hub-Signature-256:
 * sha256=<HMAC-SHA256 of the body with the hook's secret>`, and the legacy SHA-1 one), with
 * `X-GitHub-Event`, `X-GitHub-Delivery` and `X-GitHub-Hook-ID`: a `ping` when a hook is
 * created, a `push` after every ref update, whether made through the Git Data API or by
 * `git push` (a post-receive hook in each bare repository calls `/_standin/pushed`). As on
 * GitHub, a delivery does not hold up the push; it is sent in the background and recorded
 * with the status code the receiver answered.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { HttpError, type Route, type StandInContext } from "./server";
import { repositoryJson } from "./rest";

interface HookRecord {
  id: number;
  active: boolean;
  events: string[];
  config: { url: string; content_type: "json" | "form"; insecure_ssl: "0" | "1"; secret?: string };
  created_at: string;
  updated_at: string;
  last_response: { code: number | null; status: string; message: string | null };
}

export interface DeliveryRecord {
  id: number;
  guid: string;
  hook_id: number;
  delivered_at: string;
  duration: number;
  status: string;
  status_code: number;
  event: string;
  action: null;
}

interface HookFile {
  hooks: HookRecord[];
  deliveries: DeliveryRecord[];
}

const ZERO = "0".repeat(40);
const file = (ctx: StandInContext, o: string, r: string) =>
  path.join(ctx.root, o, `${r}.hooks.json`);
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function read(ctx: StandInContext, o: string, r: string): HookFile {
  const f = file(ctx, o, r);
  return fs.existsSync(f)
    ? (JSON.parse(fs.readFileSync(f, "utf8")) as HookFile)
    : { hooks: [], deliveries: [] };
}

/** Runs `fn` on the repository's hooks under its lock and saves them. */
function update<T>(ctx: StandInContext, o: string, r: string, fn: (h: HookFile) => T): Promise<T> {
  const dir = ctx.existing(o, r);
  return ctx.locks.run(`${dir}#hooks`, async () => {
    const state = read(ctx, o, r);
    const out = fn(state);
    fs.writeFileSync(file(ctx, o, r), JSON.stringify(state, null, 1));
    return out;
  });
}

function hookJson(ctx: StandInContext, o: string, r: string, h: HookRecord) {
  const url = `${ctx.api(o, r)}/hooks/${h.id}`;
  const { secret, ...config } = h.config;
  return {
    type: "Repository",
    id: h.id,
    name: "web",
    active: h.active,
    events: h.events,
    // GitHub never answers a secret back, only that there is one.
    config: secret ? { ...config, secret: "********" } : config,
    updated_at: h.updated_at,
    created_at: h.created_at,
    url,
    test_url: `${url}/test`,
    ping_url: `${url}/pings`,
    deliveries_url: `${url}/deliveries`,
    last_response: h.last_response,
  };
}

const invalidHook = (message: string) =>
  new HttpError(422, "Validation Failed", [{ resource: "Hook", code: "custom", message }]);

/** The config of a create or edit, checked as GitHub checks it. */
function hookConfig(raw: unknown, previous?: HookRecord["config"]): HookRecord["config"] {
  if (raw === undefined && previous) return previous;
  const c = (raw ?? {}) as Record<string, unknown>;
  if (typeof c.url !== "string" || c.url === "") throw invalidHook("Config must have a url");
  let parsed: URL;
  try {
    parsed = new URL(c.url);
  } catch {
    throw invalidHook("Config url is not a valid URL");
  }
  if (!["http:", "https:"].includes(parsed.protocol)) {
    throw invalidHook("Config url must be an HTTP or HTTPS URL");
  }
  const type = c.content_type ?? "form";
  if (type !== "json" && type !== "form") {
    throw invalidHook("Config content_type must be either 'json' or 'form'");
  }
  const insecure = String(c.insecure_ssl ?? "0");
  if (insecure !== "0" && insecure !== "1") {
    throw invalidHook("Config insecure_ssl must be either '0' or '1'");
  }
  return {
    url: c.url,
    content_type: type,
    insecure_ssl: insecure,
    ...(typeof c.secret === "string" && c.secret !== "" ? { secret: c.secret } : {}),
  };
}

function events(raw: unknown, fallback: string[]): string[] {
  if (raw === undefined) return fallback;
  if (!Array.isArray(raw) || raw.some((e) => typeof e !== "string" || e === "")) {
    throw invalidHook("Events must be a list of event names");
  }
  return [...new Set(raw as string[])];
}

/** Signs and POSTs one event to one hook, then records the delivery. */
async function deliver(
  ctx: StandInContext,
  o: string,
  r: string,
  hook: HookRecord,
  event: string,
  payload: Record<string, unknown>,
): Promise<void> {
  const json = JSON.stringify(payload);
  const body = hook.config.content_type === "json" ? json : `payload=${encodeURIComponent(json)}`;
  const guid = crypto.randomUUID();
  const headers: Record<string, string> = {
    "content-type":
      hook.config.content_type === "json"
        ? "application/json"
        : "application/x-www-form-urlencoded",
    "user-agent": "GitHub-Hookshot/standin",
    "x-github-event": event,
    "x-github-delivery": guid,
    "x-github-hook-id": String(hook.id),
    "x-github-hook-installation-target-type": "repository",
  };
  if (hook.config.secret) {
    const sign = (alg: string) =>
      crypto.createHmac(alg, hook.config.secret!).update(body).digest("hex");
    headers["x-hub-signature-256"] = `sha256=${sign("sha256")}`;
    headers["x-hub-signature"] = `sha1=${sign("sha1")}`;
  }
  const started = Date.now();
  let code = 0;
  let message: string | null = null;
  try {
    const res = await fetch(hook.config.url, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(10_000),
    });
    code = res.status;
    await res.arrayBuffer();
  } catch (err) {
    message = String((err as Error).cause ?? err);
  }
  await update(ctx, o, r, (state) => {
    state.deliveries.push({
      id: state.deliveries.length + 1,
      guid,
      hook_id: hook.id,
      delivered_at: new Date(started).toISOString().replace(/\.\d{3}Z$/, "Z"),
      duration: (Date.now() - started) / 1000,
      status:
        code === 0 ? "failed to connect to host" : code < 300 ? "OK" : "Invalid HTTP Response",
      status_code: code,
      event,
      action: null,
    });
    const h = state.hooks.find((x) => x.id === hook.id);
    if (h) {
      h.last_response =
        code === 0
          ? { code: null, status: "failed", message }
          : { code, status: code < 300 ? "active" : "failed", message: null };
    }
  });
}

function sends(hook: HookRecord, event: string): boolean {
  return hook.active && (hook.events.includes(event) || hook.events.includes("*"));
}

/**
 * GitHub's `push` event to every active hook of the repository that wants it, for a ref that
 * moved from `before` to `after` (all zeros: created or deleted). Returns when all
 * deliveries are recorded; callers that answer a push do not wait for it.
 */
export async function deliverPush(
  ctx: StandInContext,
  o: string,
  r: string,
  ref: string,
  before: string,
  after: string,
): Promise<void> {
  if (!fs.existsSync(ctx.repoDir(o, r))) return;
  const hooks = read(ctx, o, r).hooks.filter((h) => sends(h, "push"));
  if (hooks.length === 0) return;
  const repository = await repositoryJson(ctx, o, r);
  const branch = ref.replace(/^refs\/heads\//, "");
  const payload = {
    ref,
    before,
    after,
    created: before === ZERO,
    deleted: after === ZERO,
    forced: false,
    base_ref: null,
    compare: `${ctx.base}/${o}/${r}/compare/${before.slice(0, 12)}...${after.slice(0, 12)}`,
    commits: [],
    head_commit: after === ZERO ? null : { id: after, tree_id: null, distinct: true },
    repository: { ...repository, master_branch: branch },
    pusher: { name: ctx.options.user ?? "acme", email: null },
    sender: { login: ctx.options.user ?? "acme", type: "User" },
  };
  await Promise.all(hooks.map((h) => deliver(ctx, o, r, h, "push", payload)));
}

/** The body of `POST /_standin/pushed/{o}/{r}`: post-receive's stdin, `<old> <new> <ref>` lines. */
export async function deliverPushed(
  ctx: StandInContext,
  o: string,
  r: string,
  lines: string,
): Promise<void> {
  for (const line of lines.split("\n").filter(Boolean)) {
    const [before, after, ref] = line.trim().split(/\s+/);
    await deliverPush(ctx, o, r, ref, before, after);
  }
}

/**
 * The post-receive hook of a bare repository: after a `git push` GitHub sends the push event;
 * here the stand-in does, told by this script. It never fails the push.
 */
export function installPostReceive(ctx: StandInContext, o: string, r: string): void {
  const hook = path.join(ctx.repoDir(o, r), "hooks", "post-receive");
  fs.mkdirSync(path.dirname(hook), { recursive: true });
  const url = `${ctx.base}/_standin/pushed/${encodeURIComponent(o)}/${encodeURIComponent(r)}`;
  fs.writeFileSync(
    hook,
    `#!/bin/sh\ncurl -s -m 5 -o /dev/null -X POST --data-binary @- '${url}' || true\n`,
    { mode: 0o755 },
  );
}

export function hookRoutes(ctx: StandInContext): Route[] {
  const R = "/repos/([^/]+)/([^/]+)/hooks";
  const find = (state: HookFile, id: string) => {
    const h = state.hooks.find((x) => String(x.id) === id);
    if (!h) throw new HttpError(404, "Not Found");
    return h;
  };
  let nextId = Date.now() % 1_000_000_000;
  return [
    [
      "POST",
      new RegExp(`^${R}$`),
      async ([, o, r], body) => {
        if (body.name !== undefined && body.name !== "web") {
          throw invalidHook(`Name must be 'web'`);
        }
        const config = hookConfig(body.config);
        const evs = events(body.events, ["push"]);
        const hook = await update(ctx, o, r, (state) => {
          if (state.hooks.some((h) => h.config.url === config.url)) {
            throw invalidHook("Hook already exists on this repository");
          }
          const h: HookRecord = {
            id: ++nextId,
            active: body.active === undefined ? true : body.active === true,
            events: evs,
            config,
            created_at: now(),
            updated_at: now(),
            last_response: { code: null, status: "unused", message: null },
          };
          state.hooks.push(h);
          return h;
        });
        // GitHub pings a new hook.
        if (hook.active) void ping(ctx, o, r, hook);
        return [201, hookJson(ctx, o, r, hook)];
      },
    ],
    [
      "GET",
      new RegExp(`^${R}$`),
      async ([, o, r]) => {
        ctx.existing(o, r);
        return [200, read(ctx, o, r).hooks.map((h) => hookJson(ctx, o, r, h))];
      },
    ],
    [
      "GET",
      new RegExp(`^${R}/(\\d+)$`),
      async ([, o, r, id]) => {
        ctx.existing(o, r);
        return [200, hookJson(ctx, o, r, find(read(ctx, o, r), id))];
      },
    ],
    [
      "PATCH",
      new RegExp(`^${R}/(\\d+)$`),
      async ([, o, r, id], body) => {
        const hook = await update(ctx, o, r, (state) => {
          const h = find(state, id);
          h.config = hookConfig(body.config, h.config);
          let evs = events(body.events, h.events);
          evs = [...new Set([...evs, ...events(body.add_events, [])])];
          const removed = events(body.remove_events, []);
          h.events = evs.filter((e) => !removed.includes(e));
          if (body.active !== undefined) h.active = body.active === true;
          h.updated_at = now();
          return h;
        });
        return [200, hookJson(ctx, o, r, hook)];
      },
    ],
    [
      "DELETE",
      new RegExp(`^${R}/(\\d+)$`),
      async ([, o, r, id]) => {
        await update(ctx, o, r, (state) => {
          find(state, id);
          state.hooks = state.hooks.filter((h) => String(h.id) !== id);
        });
        return [204, undefined];
      },
    ],
    [
      "POST",
      new RegExp(`^${R}/(\\d+)/pings$`),
      async ([, o, r, id]) => {
        ctx.existing(o, r);
        await ping(ctx, o, r, find(read(ctx, o, r), id));
        return [204, undefined];
      },
    ],
    [
      "GET",
      new RegExp(`^${R}/(\\d+)/deliveries$`),
      async ([, o, r, id]) => {
        ctx.existing(o, r);
        const state = read(ctx, o, r);
        find(state, id);
        const list = state.deliveries
          .filter((d) => String(d.hook_id) === id)
          .reverse()
          .map(({ hook_id: _h, ...d }) => ({ ...d, redelivery: false, installation_id: null }));
        return [200, list];
      },
    ],
  ];
}

async function ping(ctx: StandInContext, o: string, r: string, hook: HookRecord): Promise<void> {
  await deliver(ctx, o, r, hook, "ping", {
    zen: "Keep it logically awesome.",
    hook_id: hook.id,
    hook: hookJson(ctx, o, r, hook),
    repository: await repositoryJson(ctx, o, r),
    sender: { login: ctx.options.user ?? "acme", type: "User" },
  });
}
