/**
 * GitHub Apps, as GitHub documents them: an App authenticates with a JWT it signs (RS256,
 * `iss` = its id or client id, `iat`, `exp` at most 10 minutes ahead) and trades it for an
 * installation access token (`ghs_…`, one hour), which reads and writes only the
 * repositories the installation was granted, with the installation's permissions.
 *
 * Who calls what (read in the module cache):
 *   fluxcd/pkg/auth githubapp/client.go (source-controller v1.9.4 for a GitRepository with
 *   `provider: github`, notification-controller v1.9.3 for a `github` Provider), go-github v87:
 *     createJWT             RS256, iat = now - 30s (whole seconds), exp = iat + 2m, iss = id
 *     getInstallationID     with githubAppInstallationOwner only: GET /orgs/{owner}/installation,
 *                           on error GET /users/{owner}/installation
 *     createInstallationToken  POST /app/installations/{id}/access_tokens, body `null`
 *     WithAppSlugReflection GET /app (notification-controller's PR-comment provider)
 *   then git over smart HTTP with basic auth `x-access-token:<token>` (smarthttp.ts), or REST
 *   with `Authorization: Bearer <token>` (POST …/statuses/{sha}, GET …/commits/{ref}/statuses).
 *   terraform-provider-github v6.13.0 resource_github_app_installation_repository.go (go-github
 *   v88, the provider's own token):
 *     Create  GET /repos/{owner}/{repo}, PUT /user/installations/{id}/repositories/{repo_id}
 *     Read    GET /user/installations/{id}/repositories?per_page=100 (follows Link rel="next")
 *     Delete  DELETE /user/installations/{id}/repositories/{repo_id}
 *
 * The Apps, installations and tokens are kept in `<root>/_apps.json`, read on every request
 * (a test may edit it) and written atomically. Grants are by repository id, as on GitHub: a
 * renamed repository stays granted. `POST /_standin/apps` registers an App and installs it
 * on one account (`registerApp`).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { accountJson, isOrg, repositoryJson } from "./rest";
import { HttpError, type Route, type StandInContext } from "./server";

/** Access levels by permission name (`contents`, `metadata`, `statuses`, …). */
export type Permissions = Record<string, "read" | "write">;

export interface AppRecord {
  readonly id: number;
  readonly slug: string;
  readonly client_id: string;
  /** The account that owns the App. */
  readonly owner: string;
  readonly publicKeyPem: string;
  readonly permissions: Permissions;
  readonly created_at: string;
}

export interface InstallationRecord {
  readonly id: number;
  readonly app_id: number;
  /** The account it is installed on; it may be granted that account's repositories. */
  readonly account: string;
  repository_ids: number[];
  readonly permissions: Permissions;
  readonly created_at: string;
  updated_at: string;
}

export interface TokenRecord {
  readonly token: string;
  readonly installation_id: number;
  readonly expires_at: string;
  readonly permissions: Permissions;
  /** When the token was narrowed to some of the installation's repositories. */
  readonly repository_ids?: number[];
}

interface AppsFile {
  apps: AppRecord[];
  installations: InstallationRecord[];
  tokens: TokenRecord[];
}

/** Who made a REST request. */
export type Caller =
  | { readonly kind: "user"; readonly login: string }
  | { readonly kind: "app"; readonly app: AppRecord }
  | {
      readonly kind: "installation";
      readonly app: AppRecord;
      readonly installation: InstallationRecord;
      readonly token: TokenRecord;
    };

/** What `POST /_standin/apps` takes. */
export interface NewApp {
  readonly id: number;
  readonly slug: string;
  /** Owner of the App and the account it is installed on. */
  readonly owner: string;
  /** The App's public key (a private key PEM is accepted too: its public half is kept). */
  readonly publicKeyPem: string;
  /** Default: contents read, metadata read, statuses write. */
  readonly permissions?: Permissions;
  /** Repositories of `owner` granted from the start, by name. */
  readonly repositories?: readonly string[];
}

export const DEFAULT_PERMISSIONS: Permissions = {
  contents: "read",
  metadata: "read",
  statuses: "write",
};

/** Allowed clock drift for `iat`, as GitHub's docs recommend backdating it. */
const SKEW_SECONDS = 60;
const TOKEN_SECONDS = 3600;
const FIRST_INSTALLATION = 50_000_001;

const DOCS = "https://docs.github.com/rest";
const notFound = () => new HttpError(404, "Not Found");
const badCredentials = () => new HttpError(401, "Bad credentials");
const undecodable = () => new HttpError(401, "A JSON web token could not be decoded");
const notAccessible = () => new HttpError(403, "Resource not accessible by integration");

export const JWT_MESSAGES = {
  expired:
    "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
  tooFar: "'Expiration time' claim ('exp') is too far in the future",
  issuedAt:
    "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
};

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

const file = (ctx: StandInContext) => path.join(ctx.root, "_apps.json");

function readApps(ctx: StandInContext): AppsFile {
  const f = file(ctx);
  if (!fs.existsSync(f)) return { apps: [], installations: [], tokens: [] };
  return JSON.parse(fs.readFileSync(f, "utf8")) as AppsFile;
}

/** Runs `fn` on the state under its lock and writes it (temp file, then rename). */
function updateApps<T>(ctx: StandInContext, fn: (state: AppsFile) => T): Promise<T> {
  const f = file(ctx);
  return ctx.locks.run(f, () => {
    const state = readApps(ctx);
    const out = fn(state);
    const live = Date.now();
    state.tokens = state.tokens.filter((t) => Date.parse(t.expires_at) > live);
    const tmp = `${f}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    fs.writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
    fs.renameSync(tmp, f);
    return Promise.resolve(out);
  });
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function appJson(ctx: StandInContext, app: AppRecord, state: AppsFile) {
  return {
    id: app.id,
    slug: app.slug,
    node_id: `A_kwDO${Buffer.from(String(app.id)).toString("base64url")}`,
    client_id: app.client_id,
    owner: accountJson(ctx, app.owner),
    name: app.slug,
    description: "",
    external_url: `${ctx.base}/apps/${app.slug}`,
    html_url: `${ctx.base}/apps/${app.slug}`,
    created_at: app.created_at,
    updated_at: app.created_at,
    permissions: app.permissions,
    events: [],
    installations_count: state.installations.filter((i) => i.app_id === app.id).length,
  };
}

function installationJson(ctx: StandInContext, inst: InstallationRecord, app: AppRecord) {
  const account = accountJson(ctx, inst.account);
  return {
    id: inst.id,
    account,
    repository_selection: "selected",
    access_tokens_url: `${ctx.base}/app/installations/${inst.id}/access_tokens`,
    repositories_url: `${ctx.base}/installation/repositories`,
    html_url: `${ctx.base}/settings/installations/${inst.id}`,
    app_id: app.id,
    client_id: app.client_id,
    app_slug: app.slug,
    target_id: account.id,
    target_type: account.type,
    permissions: inst.permissions,
    events: [],
    created_at: inst.created_at,
    updated_at: inst.updated_at,
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null,
  };
}

/** The id rest.ts keeps for an existing repository (`<root>/<o>/<r>.json`), if it has one. */
function repoId(ctx: StandInContext, o: string, r: string): number | undefined {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(o) || !/^[A-Za-z0-9_.-]{1,100}$/.test(r)) return;
  if (r === "." || r === ".." || !fs.existsSync(ctx.repoDir(o, r))) return undefined;
  const f = path.join(ctx.root, o, `${r}.json`);
  if (!fs.existsSync(f)) return undefined;
  return (JSON.parse(fs.readFileSync(f, "utf8")) as { id: number }).id;
}

/** Every repository with an id, as [owner, name, id]. */
function allRepos(ctx: StandInContext): [string, string, number][] {
  const out: [string, string, number][] = [];
  for (const owner of fs.readdirSync(ctx.root, { withFileTypes: true })) {
    if (!owner.isDirectory() || owner.name.startsWith(".")) continue;
    for (const d of fs.readdirSync(path.join(ctx.root, owner.name)).sort()) {
      if (!d.endsWith(".git")) continue;
      const name = d.slice(0, -".git".length);
      const id = repoId(ctx, owner.name, name);
      if (id !== undefined) out.push([owner.name, name, id]);
    }
  }
  return out;
}

/** The repositories a token (or, without one, the installation) may use, by id. */
function grantedIds(inst: InstallationRecord, token?: TokenRecord): number[] {
  return token?.repository_ids
    ? inst.repository_ids.filter((id) => token.repository_ids!.includes(id))
    : inst.repository_ids;
}

/** Full repository JSON of the granted repositories that still exist, ordered by name. */
async function grantedRepos(ctx: StandInContext, ids: number[]) {
  const repos = allRepos(ctx)
    .filter(([, , id]) => ids.includes(id))
    .sort(([o1, n1], [o2, n2]) => `${o1}/${n1}`.localeCompare(`${o2}/${n2}`));
  return Promise.all(repos.map(([o, r]) => repositoryJson(ctx, o, r)));
}

/** GitHub's pagination: `per_page` (default 30, at most 100), `page`, and the Link header. */
function paginate<T>(
  ctx: StandInContext,
  items: T[],
  query: URLSearchParams,
  route: string,
): [T[], Record<string, string>] {
  const asked = Number(query.get("per_page") ?? 30);
  const perPage = Number.isInteger(asked) && asked > 0 ? Math.min(asked, 100) : 30;
  const pageAsked = Number(query.get("page") ?? 1);
  const page = Number.isInteger(pageAsked) && pageAsked > 0 ? pageAsked : 1;
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (n: number, rel: string) =>
    `<${ctx.base}${route}?per_page=${perPage}&page=${n}>; rel="${rel}"`;
  const links: string[] = [];
  if (page > 1) links.push(link(page - 1, "prev"));
  if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
  if (page > 1) links.push(link(1, "first"));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  return [slice, links.length ? { link: links.join(", ") } : {}];
}

/** A new installation access token: `ghs_` and 36 letters and digits. */
function newToken(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.randomBytes(36);
  return "ghs_" + [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

const LEVEL = { read: 1, write: 2 } as const;
const allows = (perms: Permissions, name: string, level: "read" | "write") =>
  (LEVEL[perms[name]] ?? 0) >= LEVEL[level];

/** The permission a repository route needs, as GitHub's fine-grained permissions map them. */
function repoPermission(method: string, rest: string): [string, "read" | "write"] {
  const level = method === "GET" || method === "HEAD" ? "read" : "write";
  if (/^\/statuses\/|^\/commits\/[^/]+\/(statuses|status)$/.test(rest)) return ["statuses", level];
  if (/^\/hooks(\/|$)/.test(rest)) return ["repository_hooks", level];
  if (/^\/keys(\/|$)/.test(rest)) return ["administration", level];
  if (/^\/(git|branches|commits|contents)(\/|$)/.test(rest)) return ["contents", level];
  return level === "read" ? ["metadata", "read"] : ["administration", "write"];
}

/** Whether `v` looks like a JWT (three base64url parts, a JSON header naming `alg`). */
function looksLikeJwt(v: string): boolean {
  const parts = v.split(".");
  if (parts.length !== 3) return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8")) as unknown;
    return typeof header === "object" && header !== null && "alg" in header;
  } catch {
    return false;
  }
}

/** The App a JWT was signed by, with GitHub's checks of its claims; throws GitHub's errors. */
export function verifyAppJwt(ctx: StandInContext, jwt: string): AppRecord {
  const [h, p, s] = jwt.split(".");
  let header: { alg?: unknown };
  let claims: { iss?: unknown; iat?: unknown; exp?: unknown };
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as typeof header;
    claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as typeof claims;
  } catch {
    throw undecodable();
  }
  if (header.alg !== "RS256" || typeof claims !== "object" || claims === null) throw undecodable();
  const iss = claims.iss;
  if (typeof iss !== "string" && typeof iss !== "number") throw undecodable();
  const app = readApps(ctx).apps.find((a) => String(a.id) === String(iss) || a.client_id === iss);
  if (!app) throw new HttpError(404, "Integration not found");
  const signed = crypto.verify(
    "RSA-SHA256",
    Buffer.from(`${h}.${p}`),
    app.publicKeyPem,
    Buffer.from(s, "base64url"),
  );
  if (!signed) throw undecodable();
  const t = Math.floor(Date.now() / 1000);
  const { iat, exp } = claims;
  if (typeof iat !== "number" || !Number.isInteger(iat) || iat > t + SKEW_SECONDS) {
    throw new HttpError(401, JWT_MESSAGES.issuedAt);
  }
  if (typeof exp !== "number" || !Number.isInteger(exp) || exp <= t) {
    throw new HttpError(401, JWT_MESSAGES.expired);
  }
  if (exp > t + 600) throw new HttpError(401, JWT_MESSAGES.tooFar);
  return app;
}

/** A JWT for an App, signed as fluxcd/pkg's githubapp signs it unless the times are given. */
export function signAppJwt(
  appId: number | string,
  privateKeyPem: string | crypto.KeyObject,
  times: { iat?: number; exp?: number } = {},
): string {
  const t = Math.floor(Date.now() / 1000);
  const iat = times.iat ?? t - 30;
  const exp = times.exp ?? iat + 120;
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const data = `${part({ alg: "RS256", typ: "JWT" })}.${part({ iat, exp, iss: String(appId) })}`;
  const sig = crypto.sign("RSA-SHA256", Buffer.from(data), privateKeyPem).toString("base64url");
  return `${data}.${sig}`;
}

/** The credential in an Authorization header: `token x`, `Bearer x`, basic auth's password. */
export function credential(header: string | undefined): string | undefined {
  const v = (header ?? "").trim();
  if (v === "") return undefined;
  const basic = /^basic\s+(\S+)$/i.exec(v);
  if (basic) {
    const [user, ...rest] = Buffer.from(basic[1], "base64").toString("utf8").split(":");
    const password = rest.join(":");
    return password || user || undefined;
  }
  return v.replace(/^(token|bearer)\s+/i, "");
}

/** An unexpired installation token and what it belongs to. */
export function installationCaller(
  ctx: StandInContext,
  token: string,
): Extract<Caller, { kind: "installation" }> | undefined {
  const state = readApps(ctx);
  const t = state.tokens.find((x) => x.token === token);
  if (!t || Date.parse(t.expires_at) <= Date.now()) return undefined;
  const installation = state.installations.find((i) => i.id === t.installation_id);
  const app = state.apps.find((a) => a.id === installation?.app_id);
  if (!installation || !app) return undefined;
  return { kind: "installation", app, installation, token: t };
}

/** Whether an installation token may use owner/repo: granted to it and still existing. */
export function installationSees(
  ctx: StandInContext,
  caller: Extract<Caller, { kind: "installation" }>,
  o: string,
  r: string,
): boolean {
  const id = repoId(ctx, o, r);
  return id !== undefined && grantedIds(caller.installation, caller.token).includes(id);
}

/** Whether an installation token has a permission at a level. */
export function installationMay(
  caller: Extract<Caller, { kind: "installation" }>,
  permission: string,
  level: "read" | "write",
): boolean {
  return allows(caller.token.permissions, permission, level);
}

/** Routes that take an App's JWT and nothing else. */
const JWT_ROUTES = [
  /^\/app$/,
  /^\/app\/installations(\/\d+(\/access_tokens)?)?$/,
  /^\/(orgs|users)\/[^/]+\/installation$/,
  /^\/repos\/[^/]+\/[^/]+\/installation$/,
];

/**
 * Who is calling, from the Authorization header, and whether they may call this route; throws
 * GitHub's answer when not. The stand-in's token (any token when none is set) is the user's.
 * A JWT is taken on the App routes only; an installation token on the repositories granted
 * to it (others: 404, as GitHub hides them) with its permissions (403 otherwise), and on
 * `/installation/…`.
 */
export function authenticate(
  ctx: StandInContext,
  header: string | undefined,
  method: string,
  p: string,
): Caller {
  const cred = credential(header);
  const user = ctx.options.token;
  const jwtRoute = JWT_ROUTES.some((re) => re.test(p));
  if (cred !== undefined && cred !== user && looksLikeJwt(cred)) {
    if (!jwtRoute) throw badCredentials();
    return { kind: "app", app: verifyAppJwt(ctx, cred) };
  }
  if (jwtRoute) throw undecodable();
  if (cred?.startsWith("ghs_")) {
    const caller = installationCaller(ctx, cred);
    if (!caller) throw badCredentials();
    if (method === "GET" && p === "/installation/repositories") return caller;
    if (method === "DELETE" && p === "/installation/token") return caller;
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(p);
    if (!m) throw notAccessible();
    if (!installationSees(ctx, caller, m[1], m[2])) throw notFound();
    const [permission, level] = repoPermission(method, m[3] ?? "");
    if (!installationMay(caller, permission, level)) throw notAccessible();
    return caller;
  }
  if (user && cred !== user) throw badCredentials();
  return { kind: "user", login: ctx.options.user ?? "acme" };
}

/** `POST /_standin/apps`: registers an App and installs it on its owner. */
export async function registerApp(ctx: StandInContext, raw: unknown): Promise<[number, unknown]> {
  const body = (raw ?? {}) as Partial<NewApp>;
  const invalid = (message: string): [number, unknown] => [
    422,
    { message, documentation_url: DOCS },
  ];
  if (!Number.isInteger(body.id) || body.id! <= 0) return invalid("id: a positive integer");
  if (typeof body.slug !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(body.slug)) {
    return invalid("slug: lower-case letters, digits and dashes");
  }
  if (typeof body.owner !== "string" || body.owner === "") return invalid("owner: a login");
  let publicKeyPem: string;
  try {
    const key = crypto.createPublicKey(String(body.publicKeyPem));
    if (key.asymmetricKeyType !== "rsa") return invalid("publicKeyPem: an RSA key");
    publicKeyPem = key.export({ type: "spki", format: "pem" }).toString();
  } catch {
    return invalid("publicKeyPem: a PEM public key");
  }
  const permissions = body.permissions ?? DEFAULT_PERMISSIONS;
  if (Object.values(permissions).some((v) => v !== "read" && v !== "write")) {
    return invalid("permissions: read or write");
  }
  const ids: number[] = [];
  for (const name of body.repositories ?? []) {
    const id = repoId(ctx, body.owner, name) ?? (await idOf(ctx, body.owner, name));
    if (id === undefined) return invalid(`repositories: ${body.owner}/${name} does not exist`);
    ids.push(id);
  }
  const { id, slug, owner } = body as NewApp;
  return updateApps(ctx, (state): [number, unknown] => {
    if (state.apps.some((a) => a.id === id || a.slug === slug)) {
      return invalid("An App with this id or slug exists");
    }
    const t = now();
    const installationId =
      Math.max(FIRST_INSTALLATION - 1, ...state.installations.map((i) => i.id)) + 1;
    state.apps.push({
      id,
      slug,
      client_id: `Iv23li${crypto.createHash("sha256").update(String(id)).digest("hex").slice(0, 14)}`,
      owner,
      publicKeyPem,
      permissions,
      created_at: t,
    });
    state.installations.push({
      id: installationId,
      app_id: id,
      account: owner,
      repository_ids: [...new Set(ids)],
      permissions,
      created_at: t,
      updated_at: t,
    });
    return [201, { id, installationId }];
  });
}

/** The id of an existing repository that has no state file yet (rest.ts makes one). */
async function idOf(ctx: StandInContext, o: string, r: string): Promise<number | undefined> {
  if (!fs.existsSync(ctx.repoDir(o, r))) return undefined;
  try {
    return (await repositoryJson(ctx, o, r)).id;
  } catch {
    return undefined;
  }
}

/** The installation with this id, for an App (its own only) or the user (any). */
function installationOf(state: AppsFile, id: number, app?: AppRecord): InstallationRecord {
  const inst = state.installations.find((i) => i.id === id && (!app || i.app_id === app.id));
  if (!inst) throw notFound();
  return inst;
}

const appOf = (state: AppsFile, inst: InstallationRecord) =>
  state.apps.find((a) => a.id === inst.app_id)!;

export function appRoutes(ctx: StandInContext): Route[] {
  const asApp = (caller: Caller | undefined): AppRecord => {
    if (caller?.kind !== "app") throw undecodable();
    return caller.app;
  };
  const asUser = (caller: Caller | undefined) => {
    if (caller?.kind === "installation") throw notAccessible();
    if (caller?.kind === "app") throw badCredentials();
  };
  const installationFor = (caller: Caller | undefined, account: string) => {
    const app = asApp(caller);
    const state = readApps(ctx);
    const inst = state.installations.find((i) => i.app_id === app.id && same(i.account, account));
    if (!inst) throw notFound();
    return installationJson(ctx, inst, app);
  };
  return [
    // The App itself (notification-controller's slug reflection).
    [
      "GET",
      /^\/app$/,
      (_m, _b, _q, caller) => Promise.resolve([200, appJson(ctx, asApp(caller), readApps(ctx))]),
    ],
    [
      "GET",
      /^\/app\/installations$/,
      (_m, _b, query, caller) => {
        const app = asApp(caller);
        const list = readApps(ctx)
          .installations.filter((i) => i.app_id === app.id)
          .map((i) => installationJson(ctx, i, app));
        const [slice, headers] = paginate(ctx, list, query, "/app/installations");
        return Promise.resolve([200, slice, headers]);
      },
    ],
    [
      "GET",
      /^\/app\/installations\/(\d+)$/,
      ([, id], _b, _q, caller) => {
        const app = asApp(caller);
        const inst = installationOf(readApps(ctx), Number(id), app);
        return Promise.resolve([200, installationJson(ctx, inst, app)]);
      },
    ],
    // fluxcd/pkg githubapp: the installation of githubAppInstallationOwner (org, then user).
    [
      "GET",
      /^\/orgs\/([^/]+)\/installation$/,
      ([, org], _b, _q, caller) => {
        if (!isOrg(ctx, org)) throw notFound();
        return Promise.resolve([200, installationFor(caller, org)]);
      },
    ],
    [
      "GET",
      /^\/users\/([^/]+)\/installation$/,
      ([, login], _b, _q, caller) => Promise.resolve([200, installationFor(caller, login)]),
    ],
    [
      "GET",
      /^\/repos\/([^/]+)\/([^/]+)\/installation$/,
      ([, o, r], _b, _q, caller) => {
        const app = asApp(caller);
        const id = repoId(ctx, o, r);
        const inst = readApps(ctx).installations.find(
          (i) => i.app_id === app.id && id !== undefined && i.repository_ids.includes(id),
        );
        if (!inst) throw notFound();
        return Promise.resolve([200, installationJson(ctx, inst, app)]);
      },
    ],
    // fluxcd/pkg githubapp createInstallationToken (body `null`); `repositories`,
    // `repository_ids` and `permissions` narrow the token, as GitHub documents.
    [
      "POST",
      /^\/app\/installations\/(\d+)\/access_tokens$/,
      async ([, id], raw, _q, caller) => {
        const app = asApp(caller);
        const inst = installationOf(readApps(ctx), Number(id), app);
        // go-github sends `null` for fluxcd/pkg's nil options.
        const body = (raw ?? {}) as Record<string, unknown>;
        const perms = (body.permissions ?? inst.permissions) as Permissions;
        for (const [name, level] of Object.entries(perms)) {
          if ((level !== "read" && level !== "write") || !allows(inst.permissions, name, level)) {
            throw new HttpError(
              422,
              "The permissions requested are not granted to this installation.",
            );
          }
        }
        let narrowed: number[] | undefined;
        if (body.repositories !== undefined || body.repository_ids !== undefined) {
          const names = (body.repositories ?? []) as string[];
          const ids = [...((body.repository_ids ?? []) as number[])];
          for (const n of names) ids.push(repoId(ctx, inst.account, String(n)) ?? -1);
          if (ids.some((x) => !inst.repository_ids.includes(x))) {
            throw new HttpError(
              422,
              "There is at least one repository that does not exist or is not accessible to the parent installation.",
            );
          }
          narrowed = [...new Set(ids)];
        }
        const record: TokenRecord = {
          token: newToken(),
          installation_id: inst.id,
          expires_at: new Date(Date.now() + TOKEN_SECONDS * 1000)
            .toISOString()
            .replace(/\.\d{3}Z$/, "Z"),
          permissions: perms,
          ...(narrowed ? { repository_ids: narrowed } : {}),
        };
        await updateApps(ctx, (state) => void state.tokens.push(record));
        return [
          201,
          {
            token: record.token,
            expires_at: record.expires_at,
            permissions: record.permissions,
            repository_selection: "selected",
            ...(narrowed ? { repositories: await grantedRepos(ctx, narrowed) } : {}),
          },
        ];
      },
    ],
    // With an installation token: its repositories; revoking it.
    [
      "GET",
      /^\/installation\/repositories$/,
      async (_m, _b, query, caller) => {
        if (caller?.kind !== "installation") throw notAccessible();
        const repos = await grantedRepos(ctx, grantedIds(caller.installation, caller.token));
        const [slice, headers] = paginate(ctx, repos, query, "/installation/repositories");
        const out = {
          total_count: repos.length,
          repository_selection: "selected",
          repositories: slice,
        };
        return [200, out, headers];
      },
    ],
    [
      "DELETE",
      /^\/installation\/token$/,
      async (_m, _b, _q, caller) => {
        if (caller?.kind !== "installation") throw notAccessible();
        const token = caller.token.token;
        await updateApps(ctx, (state) => {
          state.tokens = state.tokens.filter((t) => t.token !== token);
        });
        return [204, undefined];
      },
    ],
    // With the user's token: the installations and their repositories (the GitHub provider's
    // github_app_installation_repository).
    [
      "GET",
      /^\/user\/installations$/,
      (_m, _b, query, caller) => {
        asUser(caller);
        const state = readApps(ctx);
        const all = state.installations.map((i) => installationJson(ctx, i, appOf(state, i)));
        const [slice, headers] = paginate(ctx, all, query, "/user/installations");
        return Promise.resolve([200, { total_count: all.length, installations: slice }, headers]);
      },
    ],
    [
      "GET",
      /^\/user\/installations\/(\d+)\/repositories$/,
      async ([, id], _b, query, caller) => {
        asUser(caller);
        const inst = installationOf(readApps(ctx), Number(id));
        const repos = await grantedRepos(ctx, inst.repository_ids);
        const route = `/user/installations/${id}/repositories`;
        const [slice, headers] = paginate(ctx, repos, query, route);
        const out = {
          total_count: repos.length,
          repository_selection: "selected",
          repositories: slice,
        };
        return [200, out, headers];
      },
    ],
    [
      "PUT",
      /^\/user\/installations\/(\d+)\/repositories\/(\d+)$/,
      async ([, id, repo], _b, _q, caller) => {
        asUser(caller);
        const owner = allRepos(ctx).find(([, , rid]) => rid === Number(repo))?.[0];
        await updateApps(ctx, (state) => {
          const inst = installationOf(state, Number(id));
          // Only the installation's account's repositories can be granted.
          if (owner === undefined || !same(owner, inst.account)) throw notFound();
          if (!inst.repository_ids.includes(Number(repo))) {
            inst.repository_ids.push(Number(repo));
            inst.updated_at = now();
          }
        });
        return [204, undefined];
      },
    ],
    [
      "DELETE",
      /^\/user\/installations\/(\d+)\/repositories\/(\d+)$/,
      async ([, id, repo], _b, _q, caller) => {
        asUser(caller);
        await updateApps(ctx, (state) => {
          const inst = installationOf(state, Number(id));
          if (!allRepos(ctx).some(([, , rid]) => rid === Number(repo))) throw notFound();
          const left = inst.repository_ids.filter((r) => r !== Number(repo));
          // GitHub: 422 "if this request would remove the last repository that the
          // application has access to in the organization" (the message is the stand-in's).
          if (left.length === 0 && inst.repository_ids.length > 0 && isOrg(ctx, inst.account)) {
            throw new HttpError(
              422,
              "Cannot remove the last repository the installation has access to in the organization",
            );
          }
          if (left.length !== inst.repository_ids.length) {
            inst.repository_ids = left;
            inst.updated_at = now();
          }
        });
        return [204, undefined];
      },
    ],
  ];
}
