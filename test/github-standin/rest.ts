/**
 * The GitHub REST endpoints the Pulumi GitHub provider (terraform-provider-github v6.13.0,
 * go-github v88) calls for repositories, default branches and deploy keys, answered as GitHub
 * documents them: the JSON fields go-github decodes, GitHub's status codes and error bodies.
 *
 * What GitHub keeps about a repository besides its git data (settings, ids, timestamps,
 * topics, deploy keys) is one JSON file next to the bare repository,
 * `<root>/<owner>/<name>.json`, written atomically, so a restarted stand-in answers the same.
 * The default branch is the bare repository's HEAD. Ids come from `<root>/.standin-ids.json`.
 *
 * Provider code paths served (github/…, v6.13.0):
 *   provider.go configureProviderMeta     GET /user (no owner set), GET /orgs/{owner}
 *   resource_github_repository.go Create  POST /user/repos | /orgs/{org}/repos, then Update
 *                                 Update  PATCH /repos/{o}/{r} (twice when visibility is
 *                                         set: the second answers 422 "Visibility is
 *                                         already private.", which the provider ignores),
 *                                         PUT …/topics, PUT|DELETE …/vulnerability-alerts
 *                                 Read    GET /repos/{o}/{r} (If-None-Match: its etag),
 *                                         GET …/vulnerability-alerts (security_and_analysis
 *                                         is in the repository JSON)
 *                                 Delete  DELETE /repos/{o}/{r}
 *   resource_github_branch_default.go     GET /repos/{o}/{r}, POST …/branches/{b}/rename,
 *                                         PATCH /repos/{o}/{r} {default_branch}
 *   resource_github_repository_deploy_key.go  POST …/keys, GET …/keys/{id}, DELETE …/keys/{id}
 *   data_source_github_repository.go      GET /repos/{o}/{r} (404: empty result)
 *
 * Deploy keys are also written as an OpenSSH authorized_keys file when
 * `authorizedKeysFile` is set: each key forced to e2e/infra/git-ssh-shell for its one repository.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { git, gitOk } from "./git";
import { protectionOf } from "./protection";
import { HttpError, type Route, type StandInContext } from "./server";

type Visibility = "public" | "private" | "internal";

/** The repository settings GitHub keeps and `PATCH /repos/{o}/{r}` changes. */
export interface RepoSettings {
  description: string | null;
  homepage: string | null;
  visibility: Visibility;
  has_issues: boolean;
  has_projects: boolean;
  has_wiki: boolean;
  has_downloads: boolean;
  has_discussions: boolean;
  is_template: boolean;
  allow_squash_merge: boolean;
  allow_merge_commit: boolean;
  allow_rebase_merge: boolean;
  allow_auto_merge: boolean;
  allow_update_branch: boolean;
  allow_forking: boolean;
  delete_branch_on_merge: boolean;
  web_commit_signoff_required: boolean;
  use_squash_pr_title_as_default: boolean;
  squash_merge_commit_title: string;
  squash_merge_commit_message: string;
  merge_commit_title: string;
  merge_commit_message: string;
  archived: boolean;
}

/** What `createRepo` takes besides owner and name. */
export interface NewRepository {
  /** Default true: one commit (README.md) on `main`. */
  readonly autoInit?: boolean;
  /** GitHub's defaults otherwise, except `visibility`: private. */
  readonly settings?: Partial<RepoSettings>;
  /**
   * Eventual consistency: this many reads of the new repository's refs
   * (`GET …/git/ref/heads/{b}`) answer 404 before it shows them, as GitHub may right after a
   * create. Default `StandInOptions.invisibleRefReads` (0).
   */
  readonly invisibleRefReads?: number;
}

export interface DeployKey {
  readonly id: number;
  /** `<type> <base64>`: GitHub keeps the key without its comment. */
  readonly key: string;
  readonly title: string;
  readonly read_only: boolean;
  readonly created_at: string;
  readonly added_by: string;
}

/** `<root>/<owner>/<name>.json`. */
export interface RepoState {
  readonly id: number;
  readonly node_id: string;
  readonly created_at: string;
  updated_at: string;
  pushed_at: string;
  settings: RepoSettings;
  topics: string[];
  vulnerability_alerts: boolean;
  /** `security_and_analysis` features set by PATCH (`secret_scanning`: `enabled`, …). */
  security: Record<string, string>;
  deploy_keys: DeployKey[];
}

/** GitHub's settings for a new repository when the request leaves them out. */
const DEFAULTS: RepoSettings = {
  description: null,
  homepage: null,
  visibility: "public",
  has_issues: true,
  has_projects: true,
  has_wiki: true,
  has_downloads: true,
  has_discussions: false,
  is_template: false,
  allow_squash_merge: true,
  allow_merge_commit: true,
  allow_rebase_merge: true,
  allow_auto_merge: false,
  allow_update_branch: false,
  allow_forking: true,
  delete_branch_on_merge: false,
  web_commit_signoff_required: false,
  use_squash_pr_title_as_default: false,
  squash_merge_commit_title: "COMMIT_OR_PR_TITLE",
  squash_merge_commit_message: "COMMIT_MESSAGES",
  merge_commit_title: "MERGE_MESSAGE",
  merge_commit_message: "PR_TITLE",
  archived: false,
};

const BOOLEANS = [
  "has_issues",
  "has_projects",
  "has_wiki",
  "has_downloads",
  "has_discussions",
  "is_template",
  "allow_squash_merge",
  "allow_merge_commit",
  "allow_rebase_merge",
  "allow_auto_merge",
  "allow_update_branch",
  "allow_forking",
  "delete_branch_on_merge",
  "web_commit_signoff_required",
  "use_squash_pr_title_as_default",
  "archived",
] as const;

const ENUMS = {
  squash_merge_commit_title: ["PR_TITLE", "COMMIT_OR_PR_TITLE"],
  squash_merge_commit_message: ["PR_BODY", "COMMIT_MESSAGES", "BLANK"],
  merge_commit_title: ["PR_TITLE", "MERGE_MESSAGE"],
  merge_commit_message: ["PR_BODY", "PR_TITLE", "BLANK"],
} as const;

const SECURITY_FEATURES = [
  "advanced_security",
  "code_security",
  "secret_scanning",
  "secret_scanning_push_protection",
  "secret_scanning_ai_detection",
  "secret_scanning_non_provider_patterns",
  "secret_scanning_validity_checks",
  "dependabot_security_updates",
];

const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);

const OWNER = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const NAME = /^[A-Za-z0-9_.-]{1,100}$/;
const TOPIC = /^[a-z0-9][a-z0-9-]{0,49}$/;

const notFound = () => new HttpError(404, "Not Found");
const invalid = (field: string, value: unknown, what: string) =>
  new HttpError(
    422,
    `Invalid request.\n\nFor 'properties/${field}', ${JSON.stringify(value)} ${what}.`,
  );
const validationFailed = (resource: string, field: string, code: string, message?: string) =>
  new HttpError(422, "Validation Failed", [
    { resource, code, field, ...(message ? { message } : {}) },
  ]);
const archivedRepo = () => new HttpError(403, "Repository was archived so is read-only.");

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

function writeAtomic(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  fs.writeFileSync(tmp, content, { mode });
  fs.chmodSync(tmp, mode); // not narrowed by the umask
  fs.renameSync(tmp, file);
}

const stateFile = (ctx: StandInContext, o: string, r: string) =>
  path.join(ctx.root, o, `${r}.json`);

/** The bare repository of a well-formed owner/name that exists; otherwise 404. */
function existingRepo(ctx: StandInContext, o: string, r: string): string {
  if (!OWNER.test(o) || !NAME.test(r) || r === "." || r === "..") throw notFound();
  return ctx.existing(o, r);
}

/** A new unique id of a kind (GitHub never reuses one), kept across restarts. */
function nextId(ctx: StandInContext, kind: "repository" | "key"): Promise<number> {
  const file = path.join(ctx.root, ".standin-ids.json");
  const first = { repository: 700_000_001, key: 90_000_001 };
  return ctx.locks.run(file, () => {
    let ids: Record<string, number> = {};
    if (fs.existsSync(file)) ids = JSON.parse(fs.readFileSync(file, "utf8")) as typeof ids;
    const id = Math.max(ids[kind] ?? 0, first[kind] - 1) + 1;
    writeAtomic(file, JSON.stringify({ ...ids, [kind]: id }, null, 2) + "\n");
    return Promise.resolve(id);
  });
}

async function newState(ctx: StandInContext, settings: Partial<RepoSettings>): Promise<RepoState> {
  const id = await nextId(ctx, "repository");
  const t = now();
  return {
    id,
    node_id: `R_kgDO${Buffer.from(String(id)).toString("base64url")}`,
    created_at: t,
    updated_at: t,
    pushed_at: t,
    settings: { ...DEFAULTS, visibility: "private", ...settings },
    topics: [],
    vulnerability_alerts: false,
    security: {},
    deploy_keys: [],
  };
}

/** Writes the state of a repository `createRepo` just made (called under its lock). */
export async function initRepoState(
  ctx: StandInContext,
  owner: string,
  name: string,
  settings: Partial<RepoSettings> = {},
): Promise<void> {
  writeState(ctx, owner, name, await newState(ctx, settings));
}

function writeState(ctx: StandInContext, o: string, r: string, state: RepoState): void {
  writeAtomic(stateFile(ctx, o, r), JSON.stringify(state, null, 2) + "\n");
}

function readStateFile(ctx: StandInContext, o: string, r: string): RepoState | undefined {
  const file = stateFile(ctx, o, r);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as RepoState) : undefined;
}

/**
 * The state of an existing repository, made (private, GitHub's defaults) for a bare
 * repository that has none, e.g. one put under root by hand. Call it under the repo's lock.
 */
async function stateUnlocked(ctx: StandInContext, o: string, r: string): Promise<RepoState> {
  const found = readStateFile(ctx, o, r);
  if (found) return found;
  const state = await newState(ctx, {});
  writeState(ctx, o, r, state);
  return state;
}

/** The state, for reading (takes the lock only to make a missing one). */
async function loadState(ctx: StandInContext, o: string, r: string): Promise<RepoState> {
  const dir = existingRepo(ctx, o, r);
  return readStateFile(ctx, o, r) ?? ctx.locks.run(dir, () => stateUnlocked(ctx, o, r));
}

/** Runs `fn` on the state under the repository's lock (the Git Data routes' too) and saves it. */
async function updateState<T>(
  ctx: StandInContext,
  o: string,
  r: string,
  fn: (state: RepoState, dir: string) => Promise<T> | T,
): Promise<T> {
  const dir = existingRepo(ctx, o, r);
  return ctx.locks.run(dir, async () => {
    if (!fs.existsSync(dir)) throw notFound(); // deleted while waiting
    const state = await stateUnlocked(ctx, o, r);
    const out = await fn(state, dir);
    if (fs.existsSync(dir)) writeState(ctx, o, r, state);
    return out;
  });
}

export const isOrg = (ctx: StandInContext, login: string) =>
  (ctx.options.orgs ?? []).some((o) => o.toLowerCase() === login.toLowerCase());

const userLogin = (ctx: StandInContext) => ctx.options.user ?? "acme";

/** A stable positive id for an account login. */
function accountId(login: string): number {
  let h = 0;
  for (const c of login.toLowerCase()) h = (h * 31 + c.charCodeAt(0)) | 0;
  return (Math.abs(h) % 90_000_000) + 1_000_000;
}

export function accountJson(ctx: StandInContext, login: string) {
  const org = isOrg(ctx, login);
  const id = accountId(login);
  const url = `${ctx.base}/${org ? "orgs" : "users"}/${login}`;
  return {
    login,
    id,
    node_id: `${org ? "O" : "U"}_kgDO${Buffer.from(String(id)).toString("base64url")}`,
    avatar_url: `${ctx.base}/avatars/${login}`,
    gravatar_id: "",
    url,
    html_url: `${ctx.base}/${login}`,
    repos_url: `${url}/repos`,
    type: org ? "Organization" : "User",
    user_view_type: "public",
    site_admin: false,
  };
}

async function defaultBranch(dir: string): Promise<string> {
  const r = await git(dir, ["symbolic-ref", "--short", "HEAD"]);
  return r.code === 0 ? r.stdout.trim() : "main";
}

function securityJson(state: RepoState) {
  const open = state.settings.visibility === "public";
  const status = (feature: string, fallback: boolean) => ({
    status: state.security[feature] ?? (fallback ? "enabled" : "disabled"),
  });
  return {
    ...(state.security.advanced_security
      ? { advanced_security: status("advanced_security", false) }
      : {}),
    ...(state.security.code_security ? { code_security: status("code_security", false) } : {}),
    secret_scanning: status("secret_scanning", open),
    secret_scanning_push_protection: status("secret_scanning_push_protection", open),
    dependabot_security_updates: status("dependabot_security_updates", false),
    secret_scanning_non_provider_patterns: status("secret_scanning_non_provider_patterns", false),
    secret_scanning_validity_checks: status("secret_scanning_validity_checks", false),
  };
}

/** `GET /repos/{o}/{r}`: the "Full Repository" GitHub answers to an admin of the repository. */
export async function repositoryJson(ctx: StandInContext, o: string, r: string) {
  const dir = existingRepo(ctx, o, r);
  const state = await loadState(ctx, o, r);
  const s = state.settings;
  const api = ctx.api(o, r);
  const web = `${ctx.base}/${o}/${r}`;
  const { host, hostname } = new URL(ctx.base);
  return {
    id: state.id,
    node_id: state.node_id,
    name: r,
    full_name: `${o}/${r}`,
    private: s.visibility !== "public",
    owner: accountJson(ctx, o),
    html_url: web,
    description: s.description,
    fork: false,
    url: api,
    keys_url: `${api}/keys{/key_id}`,
    branches_url: `${api}/branches{/branch}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    created_at: state.created_at,
    updated_at: state.updated_at,
    pushed_at: state.pushed_at,
    git_url: `git://${host}/${o}/${r}.git`,
    ssh_url: `git@${hostname}:${o}/${r}.git`,
    clone_url: `${web}.git`,
    svn_url: web,
    homepage: s.homepage,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: s.has_issues,
    has_projects: s.has_projects,
    has_downloads: s.has_downloads,
    has_wiki: s.has_wiki,
    has_pages: false,
    has_discussions: s.has_discussions,
    forks_count: 0,
    mirror_url: null,
    archived: s.archived,
    disabled: false,
    open_issues_count: 0,
    license: null,
    allow_forking: s.visibility === "public" ? true : s.allow_forking,
    is_template: s.is_template,
    web_commit_signoff_required: s.web_commit_signoff_required,
    topics: state.topics,
    visibility: s.visibility,
    forks: 0,
    open_issues: 0,
    watchers: 0,
    default_branch: await defaultBranch(dir),
    permissions: { admin: true, maintain: true, push: true, triage: true, pull: true },
    allow_squash_merge: s.allow_squash_merge,
    allow_merge_commit: s.allow_merge_commit,
    allow_rebase_merge: s.allow_rebase_merge,
    allow_auto_merge: s.allow_auto_merge,
    delete_branch_on_merge: s.delete_branch_on_merge,
    allow_update_branch: s.allow_update_branch,
    use_squash_pr_title_as_default: s.use_squash_pr_title_as_default,
    squash_merge_commit_message: s.squash_merge_commit_message,
    squash_merge_commit_title: s.squash_merge_commit_title,
    merge_commit_message: s.merge_commit_message,
    merge_commit_title: s.merge_commit_title,
    security_and_analysis: securityJson(state),
    network_count: 0,
    subscribers_count: 1,
  };
}

/**
 * The settings a create or update body asks for, checked as GitHub checks them. `current`
 * is GitHub's defaults on create. `visibility` wins over `private`.
 */
function applySettings(
  current: RepoSettings,
  body: Record<string, unknown>,
  opts: { org: boolean; update: boolean },
): RepoSettings {
  const next: RepoSettings = { ...current };
  for (const field of ["description", "homepage"] as const) {
    const v = body[field];
    if (v === undefined) continue;
    if (v !== null && typeof v !== "string") throw invalid(field, v, "is not a string or null");
    next[field] = v === "" ? null : v;
  }
  for (const field of BOOLEANS) {
    const v = body[field];
    if (v === undefined) continue;
    if (typeof v !== "boolean") throw invalid(field, v, "is not a boolean");
    next[field] = v;
  }
  for (const [field, allowed] of Object.entries(ENUMS) as [
    keyof typeof ENUMS,
    readonly string[],
  ][]) {
    const v = body[field];
    if (v === undefined) continue;
    if (typeof v !== "string" || !allowed.includes(v)) {
      throw invalid(field, v, `is not a member of ${JSON.stringify(allowed)}`);
    }
    next[field] = v;
  }
  let visibility: Visibility | undefined;
  if (body.visibility !== undefined) {
    const v = body.visibility;
    if (v !== "public" && v !== "private" && v !== "internal") {
      throw invalid("visibility", v, 'is not a member of ["public","private","internal"]');
    }
    visibility = v;
  } else if (body.private !== undefined) {
    if (typeof body.private !== "boolean")
      throw invalid("private", body.private, "is not a boolean");
    visibility = body.private ? "private" : "public";
  }
  if (visibility !== undefined) {
    if (visibility === "internal" && !opts.org) {
      throw validationFailed(
        "Repository",
        "visibility",
        "custom",
        "internal visibility is only available to organizations on GitHub Enterprise",
      );
    }
    // GitHub refuses to set the visibility a repository already has (the provider's second
    // PATCH after a create relies on this message).
    if (opts.update && body.visibility !== undefined && visibility === current.visibility) {
      throw new HttpError(422, `Visibility is already ${visibility}.`, []);
    }
    next.visibility = visibility;
  }
  if (!next.allow_merge_commit && !next.allow_squash_merge && !next.allow_rebase_merge) {
    throw validationFailed(
      "Repository",
      "merge_types",
      "custom",
      "You must allow at least one merge strategy",
    );
  }
  return next;
}

/** A new repository's name as GitHub makes it: other characters become `-`. */
function repoName(raw: unknown): string {
  if (typeof raw !== "string" || raw === "") {
    throw new HttpError(422, "Repository creation failed.", [
      { resource: "Repository", code: "missing_field", field: "name" },
    ]);
  }
  const name = raw.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/\.git$/i, "");
  if (!NAME.test(name) || name === "." || name === "..") {
    throw new HttpError(422, "Repository creation failed.", [
      { resource: "Repository", code: "custom", field: "name", message: "name is invalid" },
    ]);
  }
  return name;
}

async function createRepository(
  ctx: StandInContext,
  owner: string,
  body: Record<string, unknown>,
): Promise<[number, unknown]> {
  const name = repoName(body.name);
  if (body.auto_init !== undefined && typeof body.auto_init !== "boolean") {
    throw invalid("auto_init", body.auto_init, "is not a boolean");
  }
  for (const t of ["gitignore_template", "license_template"]) {
    // The provider sends "" for "none"; the stand-in has no template files.
    if (body[t] !== undefined && body[t] !== null && body[t] !== "") {
      throw validationFailed("Repository", t, "custom", `${t} is not supported by the stand-in`);
    }
  }
  const settings = applySettings(DEFAULTS, body, { org: isOrg(ctx, owner), update: false });
  await ctx.createRepo(owner, name, { autoInit: body.auto_init === true, settings });
  return [201, await repositoryJson(ctx, owner, name)];
}

async function updateRepository(
  ctx: StandInContext,
  o: string,
  r: string,
  body: Record<string, unknown>,
): Promise<[number, unknown]> {
  let finalName = r;
  let renamedKeys = false;
  await updateState(ctx, o, r, async (state, dir) => {
    if (state.settings.archived && body.archived !== false) throw archivedRepo();
    const settings = applySettings(state.settings, body, { org: isOrg(ctx, o), update: true });
    if (body.security_and_analysis !== undefined && body.security_and_analysis !== null) {
      const sa = body.security_and_analysis as Record<string, { status?: unknown } | null>;
      for (const [feature, value] of Object.entries(sa)) {
        if (!SECURITY_FEATURES.includes(feature) || value === null) continue;
        if (value.status !== "enabled" && value.status !== "disabled") {
          throw invalid(
            `security_and_analysis/${feature}/status`,
            value.status,
            "is not one of enabled, disabled",
          );
        }
        state.security[feature] = value.status;
      }
    }
    let newName = r;
    if (body.name !== undefined && body.name !== r) {
      newName = repoName(body.name);
      if (newName.toLowerCase() !== r.toLowerCase()) {
        const lower = `${newName}.git`.toLowerCase();
        if (fs.readdirSync(path.dirname(dir)).some((f) => f.toLowerCase() === lower)) {
          throw validationFailed(
            "Repository",
            "name",
            "custom",
            "name already exists on this account",
          );
        }
      }
    }
    // Everything checked before anything changes: a 422 leaves the repository as it was.
    const branch = body.default_branch;
    if (branch !== undefined) {
      if (typeof branch !== "string" || !(await ctx.readRef(dir, `refs/heads/${branch}`))) {
        throw validationFailed("Repository", "default_branch", "invalid");
      }
      await gitOk(dir, ["symbolic-ref", "HEAD", `refs/heads/${branch}`]);
    }
    state.settings = settings;
    state.updated_at = now();
    if (newName !== r) {
      // Moved under the old name's lock; the state goes with it.
      fs.renameSync(dir, ctx.repoDir(o, newName));
      writeState(ctx, o, newName, state);
      fs.rmSync(stateFile(ctx, o, r), { force: true });
      finalName = newName;
      renamedKeys = state.deploy_keys.length > 0;
    }
  });
  if (renamedKeys) await syncAuthorizedKeys(ctx);
  return [200, await repositoryJson(ctx, o, finalName)];
}

/** GitHub's "Branch With Protection" (protection.ts says whether it is protected). */
async function branchJson(ctx: StandInContext, dir: string, o: string, r: string, name: string) {
  const sha = await ctx.readRef(dir, `refs/heads/${name}`);
  if (!sha) throw new HttpError(404, "Branch not found");
  const c = await ctx.commitJson(dir, o, r, sha);
  const api = ctx.api(o, r);
  return {
    name,
    commit: {
      sha,
      node_id: c.node_id,
      commit: {
        author: c.author,
        committer: c.committer,
        message: c.message,
        tree: c.tree,
        url: c.url,
        comment_count: 0,
        verification: c.verification,
      },
      url: `${api}/commits/${sha}`,
      html_url: c.html_url,
      comments_url: `${api}/commits/${sha}/comments`,
      author: null,
      committer: null,
      parents: c.parents.map((p) => ({
        sha: p.sha,
        url: `${api}/commits/${p.sha}`,
        html_url: `${ctx.base}/${o}/${r}/commit/${p.sha}`,
      })),
    },
    _links: { self: `${api}/branches/${name}`, html: `${ctx.base}/${o}/${r}/tree/${name}` },
    protected: protectionOf(dir, `refs/heads/${name}`) !== undefined,
    protection: {
      enabled: protectionOf(dir, `refs/heads/${name}`) !== undefined,
      required_status_checks: { enforcement_level: "off", contexts: [], checks: [] },
    },
    protection_url: `${api}/branches/${name}/protection`,
  };
}

async function validBranchName(dir: string, name: unknown): Promise<boolean> {
  if (typeof name !== "string" || name === "") return false;
  return (await git(dir, ["check-ref-format", "--branch", name])).code === 0;
}

/** Renames a branch: the ref moves in one transaction, HEAD follows when it was the default. */
async function renameBranch(
  ctx: StandInContext,
  o: string,
  r: string,
  from: string,
  body: Record<string, unknown>,
): Promise<[number, unknown]> {
  const dir = existingRepo(ctx, o, r);
  const to = body.new_name as string;
  if (!(await validBranchName(dir, to))) {
    throw validationFailed("Branch", "new_name", "invalid", "New branch name is invalid");
  }
  await ctx.locks.run(dir, async () => {
    if (readStateFile(ctx, o, r)?.settings.archived) throw archivedRepo();
    const sha = await ctx.readRef(dir, `refs/heads/${from}`);
    if (!sha) throw new HttpError(404, "Branch not found");
    if (to === from) return;
    if (await ctx.readRef(dir, `refs/heads/${to}`)) {
      throw validationFailed("Branch", "new_name", "already_exists", `Branch ${to} already exists`);
    }
    await gitOk(dir, ["update-ref", "--stdin"], {
      input: `create refs/heads/${to} ${sha}\ndelete refs/heads/${from} ${sha}\n`,
    });
    const head = await git(dir, ["symbolic-ref", "HEAD"]);
    if (head.code === 0 && head.stdout.trim() === `refs/heads/${from}`) {
      await gitOk(dir, ["symbolic-ref", "HEAD", `refs/heads/${to}`]);
    }
  });
  return [201, await branchJson(ctx, dir, o, r, to)];
}

/** `<type> <base64>` of an OpenSSH public key line, or undefined when it is not one. */
function normalizeKey(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  const [type, data, ...rest] = raw.trim().split(/[ \t]+/);
  if (!type || !data || !KEY_TYPES.has(type) || rest.some((p) => /[\r\n]/.test(p)))
    return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return undefined;
  const blob = Buffer.from(data, "base64");
  if (blob.length < 4) return undefined;
  const n = blob.readUInt32BE(0);
  if (4 + n > blob.length || blob.subarray(4, 4 + n).toString("latin1") !== type) return undefined;
  return `${type} ${data}`;
}

function keyJson(ctx: StandInContext, o: string, r: string, k: DeployKey) {
  return {
    id: k.id,
    key: k.key,
    url: `${ctx.api(o, r)}/keys/${k.id}`,
    title: k.title,
    verified: true,
    created_at: k.created_at,
    read_only: k.read_only,
    added_by: k.added_by,
    last_used: null,
    enabled: true,
  };
}

/** Every repository with a state file under root, as [owner, name, state]. */
function allStates(ctx: StandInContext): [string, string, RepoState][] {
  const out: [string, string, RepoState][] = [];
  const owners = fs.readdirSync(ctx.root, { withFileTypes: true });
  for (const owner of owners.filter((d) => d.isDirectory() && !d.name.startsWith(".")).sort()) {
    const files = fs
      .readdirSync(path.join(ctx.root, owner.name))
      .filter((f) => f.endsWith(".json"));
    for (const f of files.sort()) {
      const name = f.slice(0, -".json".length);
      if (!fs.existsSync(ctx.repoDir(owner.name, name))) continue;
      out.push([owner.name, name, readStateFile(ctx, owner.name, name)!]);
    }
  }
  return out;
}

async function addKey(
  ctx: StandInContext,
  o: string,
  r: string,
  body: Record<string, unknown>,
): Promise<[number, unknown]> {
  existingRepo(ctx, o, r);
  const key = normalizeKey(body.key);
  if (!key) {
    throw validationFailed(
      "PublicKey",
      "key",
      "custom",
      "key is invalid. You must supply a key in OpenSSH public key format",
    );
  }
  if (body.title !== undefined && body.title !== null && typeof body.title !== "string") {
    throw invalid("title", body.title, "is not a string or null");
  }
  if (body.read_only !== undefined && typeof body.read_only !== "boolean") {
    throw invalid("read_only", body.read_only, "is not a boolean");
  }
  // Lock order: deploy keys, then the repository (nothing takes them the other way round).
  const created = await ctx.locks.run("deploy-keys", async () => {
    // GitHub: one key, one place; a deploy key can be added once anywhere.
    if (allStates(ctx).some(([, , s]) => s.deploy_keys.some((k) => k.key === key))) {
      throw validationFailed("PublicKey", "key", "custom", "key is already in use");
    }
    const id = await nextId(ctx, "key");
    return updateState(ctx, o, r, (state) => {
      if (state.settings.archived) throw archivedRepo();
      const k: DeployKey = {
        id,
        key,
        title: typeof body.title === "string" ? body.title : "",
        read_only: body.read_only === true,
        created_at: now(),
        added_by: userLogin(ctx),
      };
      state.deploy_keys.push(k);
      return k;
    });
  });
  await syncAuthorizedKeys(ctx);
  return [201, keyJson(ctx, o, r, created)];
}

async function deleteKey(
  ctx: StandInContext,
  o: string,
  r: string,
  id: number,
): Promise<[number, unknown]> {
  await updateState(ctx, o, r, (state) => {
    if (!state.deploy_keys.some((k) => k.id === id)) throw notFound();
    if (state.settings.archived) throw archivedRepo();
    state.deploy_keys = state.deploy_keys.filter((k) => k.id !== id);
  });
  await syncAuthorizedKeys(ctx);
  return [204, undefined];
}

/** A word for sh -c: quoted unless it is plain. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The forced command the authorized_keys lines run (e2e/infra/git-ssh-shell unless set). */
export function gitShell(ctx: StandInContext): string {
  return ctx.options.gitShell ?? path.resolve(__dirname, "../../e2e/infra/git-ssh-shell");
}

/** One authorized_keys line: the key may only run git for its repository (read-only unless rw). */
export function authorizedKeyLine(
  ctx: StandInContext,
  owner: string,
  repo: string,
  key: Pick<DeployKey, "key" | "read_only">,
): string {
  const command = [gitShell(ctx), ctx.root, `${owner}/${repo}`, key.read_only ? "ro" : "rw"]
    .map(shellWord)
    .join(" ");
  return `command="${command.replace(/"/g, '\\"')}",restrict ${key.key}`;
}

/**
 * Rewrites `authorizedKeysFile` (temp file, then rename: sshd never reads half a file) with
 * every deploy key of every repository, on every key added or deleted, repository deleted or
 * renamed, and at start. Nothing when the option is unset.
 */
export async function syncAuthorizedKeys(ctx: StandInContext): Promise<void> {
  const file = ctx.options.authorizedKeysFile;
  if (!file) return;
  await ctx.locks.run(`authorized_keys ${file}`, () => {
    const lines = allStates(ctx).flatMap(([o, r, state]) =>
      state.deploy_keys.map((k) => authorizedKeyLine(ctx, o, r, k)),
    );
    // sshd reads the file as the login user (not root): keep the mode it has (public keys
    // are no secret), 0644 for a new file.
    const mode = fs.existsSync(file) ? fs.statSync(file).mode & 0o777 : 0o644;
    writeAtomic(file, lines.map((l) => `${l}\n`).join(""), mode);
    return Promise.resolve();
  });
}

async function deleteRepository(
  ctx: StandInContext,
  o: string,
  r: string,
): Promise<[number, unknown]> {
  const dir = existingRepo(ctx, o, r);
  await ctx.locks.run(dir, () => {
    if (!fs.existsSync(dir)) throw notFound();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(stateFile(ctx, o, r), { force: true });
    return Promise.resolve();
  });
  await syncAuthorizedKeys(ctx);
  return [204, undefined];
}

export function restRoutes(ctx: StandInContext): Route[] {
  const R = "/repos/([^/]+)/([^/]+)";
  return [
    // provider.go configureProviderMeta: the token's account when no owner is set …
    [
      "GET",
      /^\/user$/,
      () =>
        Promise.resolve([
          200,
          {
            ...accountJson(ctx, userLogin(ctx)),
            name: userLogin(ctx),
            company: null,
            blog: "",
            location: null,
            email: null,
            bio: null,
            public_repos: 0,
            followers: 0,
            following: 0,
            created_at: "2020-01-01T00:00:00Z",
            updated_at: "2020-01-01T00:00:00Z",
            two_factor_authentication: true,
          },
        ]),
    ],
    // … and whether the owner is an organization (a 404 means a user account).
    [
      "GET",
      /^\/orgs\/([^/]+)$/,
      ([, org]) => {
        if (!isOrg(ctx, org)) throw notFound();
        const account = accountJson(ctx, org);
        return Promise.resolve([
          200,
          {
            ...account,
            url: `${ctx.base}/orgs/${org}`,
            description: null,
            name: org,
            public_repos: 0,
            created_at: "2020-01-01T00:00:00Z",
            updated_at: "2020-01-01T00:00:00Z",
            members_can_create_repositories: true,
          },
        ]);
      },
    ],
    // resource_github_repository.go resourceGithubRepositoryCreate (a user, an organization).
    ["POST", /^\/user\/repos$/, (_m, body) => createRepository(ctx, userLogin(ctx), body)],
    [
      "POST",
      /^\/orgs\/([^/]+)\/repos$/,
      ([, org], body) => {
        if (!isOrg(ctx, org)) throw notFound();
        const login = ctx.options.orgs!.find((x) => x.toLowerCase() === org.toLowerCase())!;
        return createRepository(ctx, login, body);
      },
    ],
    // Read, the data source, branch_default's reads and wait_for_rename's polling.
    ["GET", new RegExp(`^${R}$`), async ([, o, r]) => [200, await repositoryJson(ctx, o, r)]],
    // resourceGithubRepositoryUpdate, and branch_default without rename (default_branch).
    ["PATCH", new RegExp(`^${R}$`), ([, o, r], body) => updateRepository(ctx, o, r, body)],
    // resourceGithubRepositoryDelete (the program retains its repositories; never called).
    ["DELETE", new RegExp(`^${R}$`), ([, o, r]) => deleteRepository(ctx, o, r)],
    // Read when security_and_analysis is present: 204 enabled, 404 disabled (go-github: false).
    [
      "GET",
      new RegExp(`^${R}/vulnerability-alerts$`),
      async ([, o, r]) => {
        if (!(await loadState(ctx, o, r)).vulnerability_alerts) throw notFound();
        return [204, undefined];
      },
    ],
    ...(["PUT", "DELETE"] as const).map((method): Route => [
      method,
      new RegExp(`^${R}/vulnerability-alerts$`),
      async ([, o, r]) => {
        await updateState(ctx, o, r, (state) => {
          if (state.settings.archived) throw archivedRepo();
          state.vulnerability_alerts = method === "PUT";
        });
        return [204, undefined];
      },
    ]),
    // Create/Update with topics (ReplaceAllTopics).
    [
      "GET",
      new RegExp(`^${R}/topics$`),
      async ([, o, r]) => [200, { names: (await loadState(ctx, o, r)).topics }],
    ],
    [
      "PUT",
      new RegExp(`^${R}/topics$`),
      async ([, o, r], body) => {
        const names = body.names;
        if (!Array.isArray(names)) throw invalid("names", names, "is not an array");
        for (const n of names) {
          if (typeof n !== "string" || !TOPIC.test(n.toLowerCase())) {
            throw validationFailed(
              "Repository",
              "topics",
              "invalid",
              `${String(n)} is not a valid topic`,
            );
          }
        }
        const topics = [...new Set((names as string[]).map((n) => n.toLowerCase()))];
        if (topics.length > 20) {
          throw validationFailed("Repository", "topics", "invalid", "too many topics (maximum 20)");
        }
        await updateState(ctx, o, r, (state) => {
          if (state.settings.archived) throw archivedRepo();
          state.topics = topics;
          state.updated_at = now();
        });
        return [200, { names: topics }];
      },
    ],
    // resource_github_branch_default.go with rename (RenameBranch).
    [
      "POST",
      new RegExp(`^${R}/branches/(.+)/rename$`),
      ([, o, r, branch], body) => renameBranch(ctx, o, r, branch, body),
    ],
    // GetBranch (github_branch, data github_repository_branches; not our resources).
    [
      "GET",
      new RegExp(`^${R}/branches/(.+)$`),
      async ([, o, r, branch]) => [
        200,
        await branchJson(ctx, existingRepo(ctx, o, r), o, r, branch),
      ],
    ],
    // resource_github_repository_deploy_key.go and data github_repository_deploy_keys.
    [
      "GET",
      new RegExp(`^${R}/keys$`),
      async ([, o, r]) => [
        200,
        (await loadState(ctx, o, r)).deploy_keys.map((k) => keyJson(ctx, o, r, k)),
      ],
    ],
    ["POST", new RegExp(`^${R}/keys$`), ([, o, r], body) => addKey(ctx, o, r, body)],
    [
      "GET",
      new RegExp(`^${R}/keys/(\\d+)$`),
      async ([, o, r, id]) => {
        const k = (await loadState(ctx, o, r)).deploy_keys.find((x) => x.id === Number(id));
        if (!k) throw notFound();
        return [200, keyJson(ctx, o, r, k)];
      },
    ],
    [
      "DELETE",
      new RegExp(`^${R}/keys/(\\d+)$`),
      ([, o, r, id]) => deleteKey(ctx, o, r, Number(id)),
    ],
  ];
}
