/**
 * A local stand-in for GitHub's REST API, backed by real bare git repositories: the Git Data
 * endpoints the repository writer calls, answered as GitHub documents them (status codes,
 * bodies, SHAs and refs are git's own). It listens on a real port, so the tests, the bench
 * and the end-to-end run all talk HTTP to it, and it records every request.
 *
 * What it models, how to start it and its fault injection are in README.md (next to this file).
 *
 * Paths work with and without GitHub Enterprise Server's `/api/v3` prefix. Control routes
 * under `/_standin/` (no auth) create repositories, protect branches, inject faults and read
 * the log. The repository, branch, deploy key and account endpoints the Pulumi GitHub
 * provider calls are in rest.ts, with the state they keep next to each bare repository.
 * GitHub Apps (JWTs, installation tokens, their repositories) are in apps.ts; git over smart
 * HTTP, as `http://<host>/<owner>/<repo>.git`, in smarthttp.ts.
 *
 * The states GitHub documents that a writer must cope with, each switched on by a test:
 * - a protected branch (`protectBranch`, or `POST /_standin/protect` with `{owner, repo,
 *   branch, kind}`): a ref update to it is a 422 with GitHub's message for classic branch
 *   protection ("Protected branch update failed for refs/heads/main.") or for a ruleset
 *   ("Repository rule violations found\n\nChanges must be made through a pull request."),
 *   even with `force`; a `git push` to it is refused (GH006 / GH013); protection.ts.
 * - an empty repository (`createRepo(o, r, { autoInit: false })`, or a create without
 *   `auto_init`): every Git Data endpoint (refs, trees, commits) answers 409 "Git Repository
 *   is empty." until the first commit, which a push or the Contents API makes (`PUT
 *   …/contents/{path}`; its branch becomes the default, as on GitHub).
 * - a new repository not readable yet (`invisibleRefReads`, per repository at create or as
 *   the default of every create): its first N ref reads (`GET …/git/ref/heads/{b}`) are 404.
 * - failures: targeted faults (`addFault`, `POST /_standin/faults`: the next N matching
 *   requests answered with a status), and seeded random fault injection (chaos.ts: `faults`
 *   option, `setChaos`, `/_standin/chaos`, `--faults`): 5xx, secondary rate limits, dropped
 *   connections before or after the request is carried out, slow answers.
 *
 *   tsx test/github-standin/server.ts --root <dir> [--port 0] [--token <t>] [--user <login>]
 *     [--authorized-keys <file>] [--git-shell <path>] [--invisible-ref-reads <n>]
 *     [--faults <plan json>]
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import {
  catBlob,
  git,
  gitOk,
  isEmptyRepo,
  lsTree,
  objectType,
  writeTree,
  ZERO_SHA,
  type NewEntry,
} from "./git";
import {
  protectBranch as protect,
  protectedMessage,
  protectionOf,
  type ProtectionKind,
} from "./protection";
import {
  initRepoState,
  repositoryJson,
  restRoutes,
  syncAuthorizedKeys,
  type NewRepository,
} from "./rest";
import { deliverPush, deliverPushed, hookRoutes, installPostReceive } from "./hooks";
import { appRoutes, authenticate, registerApp, type Caller } from "./apps";
import { isGitHttpPath, serveGitHttp } from "./smarthttp";
import { statusRoutes } from "./statuses";
import {
  Chaos,
  checkPlan,
  type ChaosStats,
  type Decision,
  type FaultKind,
  type FaultPlan,
} from "./chaos";

export type { ChaosStats, FaultKind, FaultPlan, InjectedFault } from "./chaos";

/**
 * A route: method, path pattern (without `/api/v3`), handler returning [status, body] and
 * any headers (a Link); it is given who called (apps.ts `authenticate`).
 */
export type Route = [
  string,
  RegExp,
  (
    match: RegExpExecArray,
    body: Record<string, unknown>,
    query: URLSearchParams,
    caller?: Caller,
  ) => Promise<[number, unknown, Record<string, string>?]>,
];

/** What route modules (rest.ts) may use of the server. */
export interface StandInContext {
  readonly root: string;
  readonly options: StandInOptions;
  /** Serializes git work per repository directory. */
  readonly locks: { run<T>(key: string, fn: () => Promise<T>): Promise<T> };
  /** `http://127.0.0.1:<port>`, set once listening. */
  readonly base: string;
  repoDir(owner: string, name: string): string;
  /** `<base>/repos/<o>/<r>` (API URLs in bodies). */
  api(owner: string, name: string): string;
  /** The bare repository's directory; throws 404 when there is none. */
  existing(owner: string, name: string): string;
  /**
   * A bare repository (HEAD on `main`) and its settings (rest.ts, `<root>/<owner>/<name>.json`);
   * unless `autoInit` is false, with one commit (README.md) on `main`, as `auto_init` makes
   * it. 422 when the name is taken. Used by `POST /_standin/repos` and `POST /user/repos`.
   */
  createRepo(owner: string, name: string, init?: NewRepository): Promise<void>;
  /** The JSON of a commit, as `GET /repos/{o}/{r}/git/commits/{sha}` answers it. */
  commitJson(dir: string, owner: string, name: string, sha: string): Promise<GitCommitJson>;
  /** Author/committer environment for git commit-tree. */
  identity(author?: { name?: string; email?: string }): Record<string, string>;
  /** The commit a ref points at, or undefined. */
  readRef(dir: string, ref: string): Promise<string | undefined>;
}

export interface StandInOptions {
  readonly root: string;
  readonly port?: number;
  /** The only token accepted (any other: 401); unset accepts any. */
  readonly token?: string;
  readonly host?: string;
  /** What `GET /meta` publishes as `ssh_keys`: the SSH git server's host keys. */
  readonly sshHostKeys?: string[];
  /** The account the token belongs to (`GET /user`); default `acme`. */
  readonly user?: string;
  /**
   * Organizations that exist (`GET /orgs/{org}` answers 200, `POST /orgs/{org}/repos`
   * creates). Default none: every other owner is a user account, `GET /orgs/{o}` is a 404.
   */
  readonly orgs?: readonly string[];
  /**
   * Where the deploy keys are written as an OpenSSH authorized_keys file, each line
   * restricted to its repository and to reading unless the key may write (rest.ts).
   */
  readonly authorizedKeysFile?: string;
  /** The forced command of those lines (e2e/infra/git-ssh-shell). */
  readonly gitShell?: string;
  /**
   * Eventual consistency: the first N ref reads of every repository created from now on
   * answer 404 (`NewRepository.invisibleRefReads` sets it per repository). Default 0.
   */
  readonly invisibleRefReads?: number;
  /** Seeded random fault injection from the start (chaos.ts; README.md "Fault injection"). */
  readonly faults?: FaultPlan;
}

export interface GitCommitJson {
  readonly sha: string;
  readonly node_id: string;
  readonly url: string;
  readonly html_url: string;
  readonly author: { name: string; email: string; date: string };
  readonly committer: { name: string; email: string; date: string };
  readonly message: string;
  readonly tree: { sha: string; url: string };
  readonly parents: { sha: string; url: string }[];
  readonly verification: Record<string, unknown>;
}

export interface RecordedRequest {
  readonly method: string;
  /** Path without `/api/v3` and query. */
  readonly path: string;
  /** Whether it came with GitHub Enterprise Server's `/api/v3` prefix. */
  readonly enterprise: boolean;
  readonly status: number;
  /** For POST .../git/trees: the paths in the request's tree. */
  readonly treePaths?: string[];
  /** The chaos fault it got, if any (status 0: the connection was dropped). */
  readonly fault?: FaultKind;
}

export interface Fault {
  /** HTTP method to match, e.g. "POST". */
  readonly method: string;
  /** Regular expression on the path (without `/api/v3`). */
  readonly path: string;
  readonly status: number;
  readonly message: string;
  /** Seconds, sent as `retry-after`. */
  readonly retryAfter?: number;
  /** How many matching requests it answers; then it is gone. */
  times: number;
}

export interface StandIn {
  readonly url: string;
  readonly root: string;
  readonly requests: RecordedRequest[];
  /**
   * A repository with one commit on `main` (README.md), as `auto_init` makes it (none with
   * `autoInit: false`: an empty repository, 409 on the Git Data API); private unless
   * `settings` say otherwise; `invisibleRefReads` 404s first.
   */
  createRepo(owner: string, name: string, init?: NewRepository): Promise<void>;
  /**
   * Makes `branch` refuse direct updates as GitHub does when it requires pull requests:
   * `kind` picks classic branch protection or a ruleset, and so GitHub's message.
   */
  protectBranch(owner: string, repo: string, branch: string, kind: ProtectionKind): void;
  repoDir(owner: string, name: string): string;
  addFault(f: Fault): void;
  /**
   * Seeded random fault injection: a plan starts a new run (PRNG, counts and log reset);
   * undefined turns it off. Throws (an HttpError 422) for a plan it refuses.
   */
  setChaos(plan: FaultPlan | undefined): void;
  /** The plan in force (null: off), the faults injected by kind, and each one. */
  chaos(): ChaosStats;
  close(): Promise<void>;
}

/** GitHub's 409 on the Git Data API of a repository without a commit. */
const EMPTY_REPOSITORY = "Git Repository is empty.";

const SECONDARY_LIMIT =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.";
/** go-github recognizes a secondary limit by a documentation_url ending in this anchor. */
const SECONDARY_LIMIT_DOCS =
  "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
/** The bodies of GitHub's 5xx answers. */
const SERVER_ERROR_MESSAGES: Record<number, string> = {
  500: "Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
};

/** Waits `ms`, or less when the client closes the connection; whether it is still open. */
function holdOpen(res: http.ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve(false);
    const done = (open: boolean) => {
      clearTimeout(timer);
      res.off("close", closed);
      resolve(open && !res.destroyed);
    };
    const closed = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    res.once("close", closed);
  });
}

export class HttpError extends Error {
  constructor(
    public readonly status: number,
    message: string,
    /** GitHub's `errors` array of a 422 (`resource`, `code`, `field`, `message`). */
    public readonly errors?: readonly Record<string, string>[],
  ) {
    super(message);
  }
}

/** Serializes the git work of one repository: a ref check and its update are one step. */
class Locks {
  private readonly tails = new Map<string, Promise<unknown>>();
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.tails.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }
}

export async function startStandIn(options: StandInOptions): Promise<StandIn> {
  const root = path.resolve(options.root);
  fs.mkdirSync(root, { recursive: true });
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const chaos = new Chaos();
  chaos.set(options.faults);
  const locks = new Locks();
  /** Bare directory -> ref reads still answered 404 (eventual consistency after a create). */
  const invisible = new Map<string, number>();
  let base = "";

  const repoDir = (owner: string, name: string) => path.join(root, owner, `${name}.git`);
  const api = (o: string, r: string) => `${base}/repos/${o}/${r}`;

  async function createRepo(owner: string, name: string, init: NewRepository = {}): Promise<void> {
    const dir = repoDir(owner, name);
    const taken = () =>
      new HttpError(422, "Repository creation failed.", [
        {
          resource: "Repository",
          code: "custom",
          field: "name",
          message: "name already exists on this account",
        },
      ]);
    // GitHub's names are case-insensitive: `Foo` is taken when `foo` exists.
    const ownerDir = path.dirname(dir);
    fs.mkdirSync(ownerDir, { recursive: true });
    const lower = `${name}.git`.toLowerCase();
    if (fs.readdirSync(ownerDir).some((f) => f.toLowerCase() === lower)) throw taken();
    try {
      fs.mkdirSync(dir); // not recursive: of two concurrent creates, one gets EEXIST
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") throw taken();
      throw err;
    }
    await locks.run(dir, async () => {
      await gitOk(dir, ["init", "--bare", "--initial-branch=main", "."]);
      if (init.autoInit !== false) {
        const tree = await writeTree(dir, undefined, [
          { path: "README.md", mode: "100644", content: `# ${name}\n` },
        ]);
        const commit = (
          await gitOk(dir, ["commit-tree", tree, "-m", "Initial commit"], { env: identity() })
        ).trim();
        await gitOk(dir, ["update-ref", "refs/heads/main", commit]);
      }
      await initRepoState(ctx, owner, name, init.settings);
      installPostReceive(ctx, owner, name);
    });
    const lag = init.invisibleRefReads ?? options.invisibleRefReads ?? 0;
    if (lag > 0) invisible.set(dir, lag);
  }

  /** GitHub's 409 for a repository without a commit, where the Git Data API needs one. */
  async function notEmpty(dir: string): Promise<void> {
    if (await isEmptyRepo(dir)) throw new HttpError(409, EMPTY_REPOSITORY);
  }

  /** Whether this ref read is one the repository still answers 404 (and counts it). */
  function stillInvisible(dir: string): boolean {
    const left = invisible.get(dir) ?? 0;
    if (left <= 0) return false;
    if (left === 1) invisible.delete(dir);
    else invisible.set(dir, left - 1);
    return true;
  }

  function protectBranch(o: string, r: string, branch: string, kind: ProtectionKind): void {
    if (kind !== "protection" && kind !== "ruleset") {
      throw new HttpError(422, `kind must be "protection" or "ruleset"`);
    }
    protect(existing(o, r), branch, kind);
  }

  /** A ref moved: GitHub's push event goes to the repository's webhooks, after the answer. */
  function pushed(o: string, r: string, ref: string, before: string, after: string): void {
    void deliverPush(ctx, o, r, ref, before, after).catch(() => undefined);
  }

  function identity(author?: { name?: string; email?: string }): Record<string, string> {
    const name = author?.name ?? "flux-platform-e2e";
    const email = author?.email ?? "flux-platform-e2e@users.noreply.github.com";
    return {
      GIT_AUTHOR_NAME: name,
      GIT_AUTHOR_EMAIL: email,
      GIT_COMMITTER_NAME: "GitHub",
      GIT_COMMITTER_EMAIL: "noreply@github.com",
    };
  }

  function existing(owner: string, name: string): string {
    const dir = repoDir(owner, name);
    if (!fs.existsSync(dir)) throw new HttpError(404, "Not Found");
    return dir;
  }

  async function commitJson(
    dir: string,
    o: string,
    r: string,
    sha: string,
  ): Promise<GitCommitJson> {
    const raw = await gitOk(dir, ["cat-file", "commit", sha]);
    const [head, ...msg] = raw.split("\n\n");
    const fields = head.split("\n");
    const tree = fields.find((l) => l.startsWith("tree "))!.slice(5);
    const parents = fields.filter((l) => l.startsWith("parent ")).map((l) => l.slice(7));
    const person = (kind: string) => {
      const line = fields.find((l) => l.startsWith(`${kind} `))!.slice(kind.length + 1);
      const m = /^(.*) <(.*)> (\d+) ([+-]\d{4})$/.exec(line)!;
      return { name: m[1], email: m[2], date: new Date(Number(m[3]) * 1000).toISOString() };
    };
    return {
      sha,
      node_id: `C_${sha}`,
      url: `${api(o, r)}/git/commits/${sha}`,
      html_url: `${base}/${o}/${r}/commit/${sha}`,
      author: person("author"),
      committer: person("committer"),
      message: msg.join("\n\n").replace(/\n$/, ""),
      tree: { sha: tree, url: `${api(o, r)}/git/trees/${tree}` },
      parents: parents.map((p) => ({ sha: p, url: `${api(o, r)}/git/commits/${p}` })),
      verification: { verified: false, reason: "unsigned", signature: null, payload: null },
    };
  }

  function refJson(o: string, r: string, ref: string, sha: string) {
    return {
      ref,
      node_id: `REF_${Buffer.from(ref).toString("base64")}`,
      url: `${api(o, r)}/git/${ref}`,
      object: { sha, type: "commit", url: `${api(o, r)}/git/commits/${sha}` },
    };
  }

  async function readRef(dir: string, ref: string): Promise<string | undefined> {
    const rr = await git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
    return rr.code === 0 ? rr.stdout.trim() : undefined;
  }

  const ctx: StandInContext = {
    root,
    options,
    locks,
    get base() {
      return base;
    },
    repoDir,
    api,
    existing,
    createRepo,
    commitJson,
    identity,
    readRef,
  };
  type Handler = Route[2];
  const routes: [string, RegExp, Handler][] = [
    // The repository, branch, key and account endpoints (the GitHub provider's) come first.
    ...restRoutes(ctx),
    ...statusRoutes(ctx),
    ...appRoutes(ctx),
    ...hookRoutes(ctx),
    [
      "GET",
      /^\/repos\/([^/]+)\/([^/]+)\/git\/ref\/(heads\/.+)$/,
      async ([, o, r, ref]) => {
        const dir = existing(o, r);
        if (stillInvisible(dir)) throw new HttpError(404, "Not Found");
        const sha = await readRef(dir, `refs/${ref}`);
        if (!sha) {
          await notEmpty(dir);
          throw new HttpError(404, "Not Found");
        }
        return [200, refJson(o, r, `refs/${ref}`, sha)];
      },
    ],
    [
      "GET",
      /^\/repos\/([^/]+)\/([^/]+)\/git\/commits\/([0-9a-f]{40})$/,
      async ([, o, r, sha]) => {
        const dir = existing(o, r);
        if ((await objectType(dir, sha)) !== "commit") {
          await notEmpty(dir);
          throw new HttpError(404, "Not Found");
        }
        return [200, await commitJson(dir, o, r, sha)];
      },
    ],
    [
      "GET",
      /^\/repos\/([^/]+)\/([^/]+)\/git\/trees\/(.+)$/,
      async ([, o, r, treeish], _b, query) => {
        const dir = existing(o, r);
        const resolved = await git(dir, ["rev-parse", "--verify", "--quiet", `${treeish}^{tree}`]);
        if (resolved.code !== 0) {
          await notEmpty(dir);
          throw new HttpError(404, "Not Found");
        }
        const sha = resolved.stdout.trim();
        const recursive =
          query.has("recursive") && !["0", "false"].includes(query.get("recursive")!);
        const entries = await lsTree(dir, sha, recursive);
        return [
          200,
          {
            sha,
            url: `${api(o, r)}/git/trees/${sha}`,
            tree: entries.map((e) => ({
              ...e,
              url: `${api(o, r)}/git/${e.type === "blob" ? "blobs" : "trees"}/${e.sha}`,
            })),
            truncated: false,
          },
        ];
      },
    ],
    // A blob's bytes, base64 as GitHub sends them: Ruby's `Base64.encode64`, a line break
    // after every 60 characters and at the end.
    [
      "GET",
      /^\/repos\/([^/]+)\/([^/]+)\/git\/blobs\/([^/]+)$/,
      async ([, o, r, sha]) => {
        const dir = existing(o, r);
        if ((await objectType(dir, sha)) !== "blob") {
          await notEmpty(dir);
          throw new HttpError(404, "Not Found");
        }
        const bytes = await catBlob(dir, sha);
        const b64 = bytes.toString("base64");
        const content = b64.replace(/.{1,60}/g, "$&\n");
        return [
          200,
          {
            sha,
            node_id: `B_${sha}`,
            size: bytes.length,
            url: `${api(o, r)}/git/blobs/${sha}`,
            content,
            encoding: "base64",
          },
        ];
      },
    ],
    [
      "POST",
      /^\/repos\/([^/]+)\/([^/]+)\/git\/trees$/,
      async ([, o, r], body) => {
        const dir = existing(o, r);
        await notEmpty(dir);
        const entries = body.tree;
        if (!Array.isArray(entries))
          throw new HttpError(422, 'Invalid request.\n\n"tree" wasn\'t supplied.');
        const baseTree = body.base_tree as string | undefined;
        if (baseTree !== undefined && (await objectType(dir, baseTree)) !== "tree") {
          throw new HttpError(422, "base_tree is not a valid tree oid");
        }
        const changes: NewEntry[] = [];
        for (const e of entries as Record<string, unknown>[]) {
          const p = e.path;
          if (
            typeof p !== "string" ||
            p === "" ||
            p.startsWith("/") ||
            p.split("/").includes("..")
          ) {
            throw new HttpError(422, `tree.path contains a malformed path component`);
          }
          if (e.sha === null) {
            changes.push({ path: p, delete: true });
          } else if (typeof e.content === "string") {
            changes.push({ path: p, mode: String(e.mode ?? "100644"), content: e.content });
          } else if (typeof e.sha === "string" && (await objectType(dir, e.sha))) {
            changes.push({ path: p, mode: String(e.mode ?? "100644"), sha: e.sha });
          } else {
            throw new HttpError(422, "tree.sha is not a valid blob");
          }
        }
        const sha = await writeTree(dir, baseTree, changes);
        const listed = await lsTree(dir, sha, false);
        return [201, { sha, url: `${api(o, r)}/git/trees/${sha}`, tree: listed, truncated: false }];
      },
    ],
    [
      "POST",
      /^\/repos\/([^/]+)\/([^/]+)\/git\/commits$/,
      async ([, o, r], body) => {
        const dir = existing(o, r);
        await notEmpty(dir);
        const tree = body.tree as string;
        if ((await objectType(dir, tree)) !== "tree")
          throw new HttpError(422, "Tree SHA does not exist");
        const parents = (body.parents as string[] | undefined) ?? [];
        for (const p of parents) {
          if ((await objectType(dir, p)) !== "commit")
            throw new HttpError(422, "Parent SHA does not exist or is not a commit object");
        }
        const args = ["commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-F", "-"];
        const sha = (
          await gitOk(dir, args, {
            input: String(body.message ?? ""),
            env: identity(body.author as { name?: string; email?: string } | undefined),
          })
        ).trim();
        return [201, await commitJson(dir, o, r, sha)];
      },
    ],
    [
      "POST",
      /^\/repos\/([^/]+)\/([^/]+)\/git\/refs$/,
      async ([, o, r], body) => {
        const dir = existing(o, r);
        await notEmpty(dir);
        const ref = String(body.ref ?? "");
        const sha = String(body.sha ?? "");
        if (!/^refs\/heads\/.+/.test(ref))
          throw new HttpError(
            422,
            "Reference name must start with 'refs/' and have at least two slashes.",
          );
        if ((await objectType(dir, sha)) !== "commit")
          throw new HttpError(422, "Object does not exist");
        return locks.run(dir, async () => {
          if (await readRef(dir, ref)) throw new HttpError(422, "Reference already exists");
          await gitOk(dir, ["update-ref", ref, sha, "0".repeat(40)]);
          pushed(o, r, ref, "0".repeat(40), sha);
          return [201, refJson(o, r, ref, sha)] as [number, unknown];
        });
      },
    ],
    [
      "PATCH",
      /^\/repos\/([^/]+)\/([^/]+)\/git\/refs\/(heads\/.+)$/,
      async ([, o, r, ref], body) => {
        const dir = existing(o, r);
        await notEmpty(dir);
        const sha = String(body.sha ?? "");
        if ((await objectType(dir, sha)) !== "commit")
          throw new HttpError(422, "Object does not exist");
        return locks.run(dir, async () => {
          const current = await readRef(dir, `refs/${ref}`);
          if (!current) throw new HttpError(422, "Reference does not exist");
          // Protection refuses any update, fast forward or forced.
          const kind = protectionOf(dir, `refs/${ref}`);
          if (kind) throw new HttpError(422, protectedMessage(kind, `refs/${ref}`));
          if (body.force !== true && current !== sha) {
            const ff = await git(dir, ["merge-base", "--is-ancestor", current, sha]);
            if (ff.code !== 0) throw new HttpError(422, "Update is not a fast forward");
          }
          await gitOk(dir, ["update-ref", `refs/${ref}`, sha, current]);
          if (current !== sha) pushed(o, r, `refs/${ref}`, current, sha);
          return [200, refJson(o, r, `refs/${ref}`, sha)] as [number, unknown];
        });
      },
    ],
    // The Contents API's create or update of one file: one commit on the branch (default:
    // the default branch). On an empty repository it makes the first commit and the branch,
    // which the Git Data API cannot.
    [
      "PUT",
      /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/,
      async ([, o, r, p], body) => {
        const dir = existing(o, r);
        for (const field of ["message", "content"]) {
          if (typeof body[field] !== "string") {
            throw new HttpError(422, `Invalid request.\n\n"${field}" wasn't supplied.`);
          }
        }
        if (
          p.startsWith("/") ||
          p.endsWith("/") ||
          p.split("/").some((c) => c === "" || c === "..")
        ) {
          throw new HttpError(422, "path contains a malformed path component");
        }
        const b64 = (body.content as string).replace(/\s/g, "");
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
          throw new HttpError(422, "content is not valid Base64");
        }
        const content = Buffer.from(b64, "base64");
        return locks.run(dir, async () => {
          const head = await git(dir, ["symbolic-ref", "--short", "HEAD"]);
          const branch =
            typeof body.branch === "string" && body.branch !== ""
              ? body.branch
              : head.code === 0
                ? head.stdout.trim()
                : "main";
          const ref = `refs/heads/${branch}`;
          const current = await readRef(dir, ref);
          const empty = current === undefined && (await isEmptyRepo(dir));
          if (current === undefined && !empty)
            throw new HttpError(404, `Branch ${branch} not found`);
          const kind = protectionOf(dir, ref);
          if (kind) throw new HttpError(409, protectedMessage(kind, ref));
          let existed: string | undefined;
          if (current !== undefined) {
            const at = await git(dir, ["rev-parse", "--verify", "--quiet", `${current}:${p}`]);
            existed = at.code === 0 ? at.stdout.trim() : undefined;
            if (existed !== undefined && body.sha === undefined) {
              throw new HttpError(422, `Invalid request.\n\n"sha" wasn't supplied.`);
            }
            if (existed !== undefined && body.sha !== existed) {
              throw new HttpError(409, `${p} does not match ${String(body.sha)}`);
            }
          }
          const tree = await writeTree(dir, current ? `${current}^{tree}` : undefined, [
            { path: p, mode: "100644", content },
          ]);
          const parents = current ? ["-p", current] : [];
          const author = (body.author ?? body.committer) as
            { name?: string; email?: string } | undefined;
          const sha = (
            await gitOk(dir, ["commit-tree", tree, ...parents, "-F", "-"], {
              input: String(body.message),
              env: identity(author),
            })
          ).trim();
          await gitOk(dir, ["update-ref", ref, sha, current ?? ZERO_SHA]);
          // GitHub: the first branch of an empty repository becomes its default branch.
          if (empty) await gitOk(dir, ["symbolic-ref", "HEAD", ref]);
          pushed(o, r, ref, current ?? ZERO_SHA, sha);
          const blob = (await gitOk(dir, ["rev-parse", `${sha}:${p}`])).trim();
          const c = await commitJson(dir, o, r, sha);
          const name = p.split("/").pop()!;
          return [
            existed === undefined ? 201 : 200,
            {
              content: {
                name,
                path: p,
                sha: blob,
                size: content.length,
                url: `${api(o, r)}/contents/${p}?ref=${branch}`,
                html_url: `${base}/${o}/${r}/blob/${branch}/${p}`,
                git_url: `${api(o, r)}/git/blobs/${blob}`,
                download_url: `${base}/${o}/${r}/raw/${branch}/${p}`,
                type: "file",
                _links: {
                  self: `${api(o, r)}/contents/${p}?ref=${branch}`,
                  git: `${api(o, r)}/git/blobs/${blob}`,
                  html: `${base}/${o}/${r}/blob/${branch}/${p}`,
                },
              },
              commit: {
                ...c,
                parents: c.parents.map((x) => ({
                  ...x,
                  html_url: `${base}/${o}/${r}/commit/${x.sha}`,
                })),
              },
            },
          ] as [number, unknown];
        });
      },
    ],
  ];

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://standin");
    const method = req.method ?? "GET";
    // Git smart HTTP (smarthttp.ts): the body streams to git http-backend, unread here.
    if (isGitHttpPath(url.pathname)) {
      const status = await serveGitHttp(ctx, req, res, url);
      return void requests.push({ method, path: url.pathname, enterprise: false, status });
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(body === undefined ? "" : JSON.stringify(body));
    };

    if (url.pathname.startsWith("/_standin/")) {
      if (method === "POST" && url.pathname === "/_standin/repos") {
        // { owner, name, autoInit?, settings? }: settings as `PATCH /repos/{o}/{r}` takes them.
        const b = JSON.parse(text) as { owner: string; name: string } & NewRepository;
        try {
          await createRepo(b.owner, b.name, {
            autoInit: b.autoInit,
            settings: b.settings,
            invisibleRefReads: b.invisibleRefReads,
          });
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          return send(err.status, { message: err.message, errors: err.errors });
        }
        return send(201, await repositoryJson(ctx, b.owner, b.name));
      }
      if (method === "POST" && url.pathname === "/_standin/protect") {
        // { owner, repo, branch, kind: "protection" | "ruleset" }: protection.ts.
        const b = JSON.parse(text) as { owner: string; repo: string; branch: string; kind: never };
        try {
          protectBranch(b.owner, b.repo, b.branch, b.kind);
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          return send(err.status, { message: err.message });
        }
        return send(204, undefined);
      }
      if (method === "GET" && url.pathname === "/_standin/requests") return send(200, requests);
      if (method === "DELETE" && url.pathname === "/_standin/requests") {
        requests.length = 0;
        return send(204, undefined);
      }
      const push = /^\/_standin\/pushed\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      if (method === "POST" && push) {
        // From a bare repository's post-receive hook (hooks.ts): answered at once.
        const [o, r] = [decodeURIComponent(push[1]), decodeURIComponent(push[2])];
        void deliverPushed(ctx, o, r, text).catch(() => undefined);
        return send(202, {});
      }
      if (method === "POST" && url.pathname === "/_standin/apps") {
        // { id, slug, owner, publicKeyPem, permissions?, repositories? }: apps.ts.
        const [s, out] = await registerApp(ctx, JSON.parse(text) as unknown);
        return send(s, out);
      }
      if (method === "POST" && url.pathname === "/_standin/faults") {
        faults.push(JSON.parse(text) as Fault);
        return send(201, {});
      }
      if (url.pathname === "/_standin/chaos") {
        // The fault plan of seeded random fault injection (chaos.ts); DELETE turns it off.
        if (method === "GET") return send(200, chaos.stats());
        if (method === "DELETE") {
          chaos.set(undefined);
          return send(204, undefined);
        }
        if (method === "POST") {
          try {
            chaos.set(JSON.parse(text) as unknown);
          } catch (err) {
            if (err instanceof SyntaxError) return send(400, { message: "Problems parsing JSON" });
            if (!(err instanceof HttpError)) throw err;
            return send(err.status, { message: err.message });
          }
          return send(201, chaos.stats());
        }
      }
      return send(404, { message: "Not Found" });
    }

    // Octokit encodes the `/` of `heads/main` (`heads%2Fmain`); GitHub accepts both.
    const p = decodeURIComponent(url.pathname).replace(/^\/api\/v3(?=\/)/, "");
    let body: Record<string, unknown> = {};
    let status = 500;
    const enterprise = url.pathname.startsWith("/api/v3/");
    const record = (extra: Partial<RecordedRequest> = {}) =>
      requests.push({ method, path: p, enterprise, status, ...extra });
    try {
      if (text !== "") body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      status = 400;
      record();
      return send(400, { message: "Problems parsing JSON" });
    }
    const treePaths =
      method === "POST" && p.endsWith("/git/trees") && Array.isArray(body.tree)
        ? (body.tree as { path?: string }[]).map((e) => String(e.path))
        : undefined;
    // Public on GitHub: no token needed.
    if (method === "GET" && p === "/meta") {
      status = 200;
      record();
      return send(200, {
        verifiable_password_authentication: false,
        ssh_keys: options.sshHostKeys ?? [],
        ssh_key_fingerprints: {},
      });
    }
    /**
     * Records and sends an answer; under the chaos fault `drawn`, `dropAfter` destroys the
     * connection instead, and `slow` holds the answer first (unsent if the client has gone).
     */
    const answer = async (
      drawn: Decision | undefined,
      s: number,
      out: unknown,
      headers: Record<string, string> = {},
    ) => {
      if (drawn?.kind === "dropAfter") {
        status = 0;
        record({ treePaths, fault: drawn.kind });
        chaos.applied(drawn, 0, s);
        return void res.destroy();
      }
      status = s;
      record({ treePaths, ...(drawn ? { fault: drawn.kind } : {}) });
      if (drawn?.kind === "slow") {
        chaos.applied(drawn, s);
        if (!(await holdOpen(res, drawn.slowMs))) return;
      }
      if (s === 304) {
        res.writeHead(304, headers);
        return void res.end();
      }
      send(s, out, headers);
    };
    /** GitHub's error body for an HttpError (a 422 with its `errors`); anything else is a bug. */
    const fail = (err: unknown, drawn?: Decision) => {
      if (!(err instanceof HttpError)) throw err;
      return answer(drawn, err.status, {
        message: err.message,
        ...(err.errors ? { errors: err.errors } : {}),
        documentation_url: "https://docs.github.com/rest",
        status: String(err.status),
      });
    };
    // The stand-in's token, an App's JWT or an installation token, each where GitHub takes it.
    let caller: Caller;
    try {
      caller = authenticate(ctx, req.headers.authorization, method, p);
    } catch (err) {
      return fail(err);
    }
    const fault = faults.find(
      (f) => f.times > 0 && f.method === method && new RegExp(f.path).test(p),
    );
    if (fault) {
      fault.times--;
      status = fault.status;
      record({ treePaths });
      return send(
        fault.status,
        {
          message: fault.message || SECONDARY_LIMIT,
          documentation_url:
            "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api",
        },
        fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {},
      );
    }
    // Chaos (chaos.ts): one draw per matching request; these three are not carried out.
    const drawn = chaos.decide(method, p);
    if (drawn?.kind === "error" || drawn?.kind === "secondaryLimit") {
      status = drawn.status;
      record({ treePaths, fault: drawn.kind });
      chaos.applied(drawn, status);
      return drawn.kind === "error"
        ? send(status, { message: SERVER_ERROR_MESSAGES[status] })
        : send(
            status,
            { message: SECONDARY_LIMIT, documentation_url: SECONDARY_LIMIT_DOCS },
            { "retry-after": "1" },
          );
    }
    if (drawn?.kind === "dropBefore") {
      status = 0;
      record({ treePaths, fault: drawn.kind });
      chaos.applied(drawn, 0);
      return void res.destroy();
    }
    for (const [m, re, fn] of routes) {
      const match = m === method ? re.exec(p) : null;
      if (!match) continue;
      let s: number, out: unknown, extra: Record<string, string> | undefined;
      try {
        [s, out, extra] = await fn(match, body, url.searchParams, caller);
      } catch (err) {
        return fail(err, drawn);
      }
      // GitHub's conditional requests: an ETag on every answer with a body, and a GET that
      // names it in If-None-Match gets 304 and no body while the resource is unchanged.
      const headers: Record<string, string> = { ...extra };
      if ((s === 200 || s === 201) && out !== undefined) {
        const digest = crypto.createHash("sha256").update(JSON.stringify(out)).digest("hex");
        headers.etag = `W/"${digest}"`;
        const asked = (req.headers["if-none-match"] ?? "")
          .split(",")
          .map((t) => t.trim().replace(/^W\//, ""));
        if (method === "GET" && asked.includes(`"${digest}"`))
          return answer(drawn, 304, undefined, headers);
      }
      return answer(drawn, s, out, headers);
    }
    return answer(drawn, 404, {
      message: "Not Found",
      documentation_url: "https://docs.github.com/rest",
    });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: String(err) }));
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve),
  );
  const { port } = server.address() as AddressInfo;
  base = `http://${options.host ?? "127.0.0.1"}:${port}`;
  // The deploy keys of the repositories already under root (a restarted stand-in).
  await syncAuthorizedKeys(ctx);

  return {
    url: base,
    root,
    requests,
    createRepo,
    protectBranch,
    repoDir,
    addFault: (f) => faults.push(f),
    setChaos: (plan) => chaos.set(plan),
    chaos: () => chaos.stats(),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** CLI: run the stand-in until killed; prints its URL on the first line. */
if (require.main === module) {
  const args = process.argv.slice(2);
  const arg = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const root = arg("root");
  if (!root) {
    console.error(
      "usage: tsx test/github-standin/server.ts --root <dir> [--port 0] [--token <t>] [--user <login>] [--authorized-keys <file>] [--git-shell <path>] [--invisible-ref-reads <n>] [--faults <json>]",
    );
    process.exit(2);
  }
  let faults: FaultPlan | undefined;
  const faultsArg = arg("faults");
  if (faultsArg !== undefined) {
    try {
      faults = checkPlan(JSON.parse(faultsArg) as unknown);
    } catch (err) {
      console.error(`--faults: ${(err as Error).message}`);
      process.exit(2);
    }
  }
  void startStandIn({
    root,
    port: Number(arg("port") ?? 0),
    token: arg("token"),
    user: arg("user"),
    authorizedKeysFile: arg("authorized-keys"),
    gitShell: arg("git-shell"),
    invisibleRefReads: Number(arg("invisible-ref-reads") ?? 0),
    faults,
  }).then((s) => {
    console.log(s.url);
  });
}
