/**
 * One commit of many files through GitHub's Git Data API: read the branch (ref, commit,
 * recursive tree), plan the changes (plan.ts), write one tree (a chain of tree requests
 * for a very large change, each on the previous one), one commit, and move the branch
 * without force. No commit when nothing changes.
 *
 * What GitHub may answer, and what the writer does (docs/writer.md):
 * - 422 on the ref update: either another writer moved the branch (not a fast forward) or
 *   branch protection / a ruleset refuses direct updates; GitHub uses the same status for
 *   both. The ref is read again: if it moved (or GitHub said "not a fast forward", which a
 *   lagging read may not show yet), the write is planned again on the new head (two stacks
 *   writing at once lose nothing), up to `maxAttempts` times; if it is still the commit the
 *   write was built on, retrying cannot help, so it stops at once, saying what to allow.
 * - 404 on the ref read of a repository created moments ago (GitHub is eventually
 *   consistent): read again with backoff for a bounded time.
 * - 409 "Git Repository is empty." (an adopted repository created without `auto_init`): the
 *   Git Data API cannot make a first commit, so the Contents API makes it (`firstCommit`).
 *
 * A `section` file is planned on its text, not its SHA (plan.ts `spliceSection`), so every
 * read of the branch reads those files' blobs too (`readSectionTexts`): a plan on the tree
 * of one read and the text of an earlier one would drop what another stack wrote between.
 */
import { NO_RETRY, type GitHubClient } from "./api";
import { planChanges, type Change, type DesiredFiles, type LiveTree, type Owned } from "./plan";

export interface RepoTarget {
  readonly owner: string;
  readonly repo: string;
  readonly branch: string;
}

export interface LiveBranch {
  /** The commit the branch points at, and its tree. */
  readonly commit: string;
  readonly tree: string;
  /** path -> blob SHA of every file in it. */
  readonly files: Map<string, string>;
}

export interface WriteResult {
  /** The new commit, or `undefined` when nothing changed. */
  readonly commit: string | undefined;
  /** The branch head after the write (`""` for an empty repository left empty). */
  readonly head: string;
  readonly changes: readonly Change[];
  /** How many times the branch moved under us and the write was planned again. */
  readonly retries: number;
}

export interface WriteOptions {
  /** How many times the branch may move under the write before it gives up. Default 8. */
  readonly maxAttempts?: number;
  /**
   * How long a branch that answers 404 is read again before the write fails, in ms: a
   * repository created in the same `pulumi up` may not be readable for a moment. Default
   * 30 s; it bounds the sum of the waits, not the time the requests take.
   */
  readonly appearWithinMs?: number;
  /** The wait between those reads (tests pass one that returns at once). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Tree entries per request: keeps each request far below GitHub's payload limits. */
export const TREE_CHUNK_ENTRIES = 500;
export const TREE_CHUNK_BYTES = 1 << 20;
export const APPEAR_WITHIN_MS = 30_000;
/** The first wait for a branch not there yet; each next one doubles, up to the last. */
const FIRST_WAIT_MS = 250;
const LONGEST_WAIT_MS = 5_000;
const COMMITTER = { name: "flux-platform", email: "flux-platform@users.noreply.github.com" };

/** What to do about a refused update, shown whenever GitHub refuses an unmoved branch. */
export const ALLOW_DIRECT_PUSH =
  "the branch is protected or a ruleset refuses direct pushes: allow the token's user/App to " +
  "bypass (branch protection > Allow specified actors to bypass required pull requests, or a " +
  "ruleset bypass), or lift the protection or ruleset from the branch the platform writes (main)";

function status(err: unknown): number | undefined {
  return (err as { status?: number }).status;
}

/** GitHub's `message` of a failed request, on one line (a ruleset's has blank lines). */
function githubMessage(err: unknown): string {
  const data = (err as { response?: { data?: { message?: unknown } } }).response?.data;
  const raw = typeof data?.message === "string" ? data.message : String(err);
  return raw
    .split(/\n+/)
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join(": ");
}

/**
 * Why a branch could not be read: `missing` (404: no such branch or repository, or the
 * token cannot see it, or not yet), `empty` (409: the repository has no commit). Kept as a
 * property, not a class, so it survives the dynamic provider's closure serialization.
 */
type Unreadable = "missing" | "empty";

function unreadable(message: string, reason: Unreadable, cause: unknown): Error {
  return Object.assign(new Error(message, { cause }), { reason });
}

function reasonOf(err: unknown): Unreadable | undefined {
  return (err as { reason?: Unreadable }).reason;
}

/** The commit the branch points at. */
async function readHead(gh: GitHubClient, t: RepoTarget): Promise<string> {
  const where = `${t.owner}/${t.repo}`;
  try {
    const ref = await gh.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
      owner: t.owner,
      repo: t.repo,
      ref: `heads/${t.branch}`,
    });
    return ref.data.object.sha;
  } catch (err) {
    if (status(err) === 404) {
      const message = `${where}: branch ${t.branch} does not exist (or the token cannot read it)`;
      throw unreadable(message, "missing", err);
    }
    if (status(err) === 409 && /empty/i.test(githubMessage(err))) {
      // "does not exist" too: a preview (components/repositoryFiles.ts) shows every file added.
      const message = `${where}: branch ${t.branch} does not exist: the repository is empty (no commit yet)`;
      throw unreadable(message, "empty", err);
    }
    throw err;
  }
}

/** The branch at `commit`: its tree and files. */
async function readAt(gh: GitHubClient, t: RepoTarget, commit: string): Promise<LiveBranch> {
  const c = await gh.request("GET /repos/{owner}/{repo}/git/commits/{commit_sha}", {
    owner: t.owner,
    repo: t.repo,
    commit_sha: commit,
  });
  const tree = await gh.request("GET /repos/{owner}/{repo}/git/trees/{tree_sha}", {
    owner: t.owner,
    repo: t.repo,
    tree_sha: c.data.tree.sha,
    recursive: "1",
  });
  if (tree.data.truncated) {
    throw new Error(
      `${t.owner}/${t.repo}: the tree of ${t.branch} is larger than GitHub lists at once (100,000 entries or 7 MB)`,
    );
  }
  const files = new Map<string, string>();
  for (const e of tree.data.tree) {
    if (e.type === "blob" && e.path && e.sha) files.set(e.path, e.sha);
  }
  return { commit, tree: c.data.tree.sha, files };
}

/** The branch as it is now; fails at once when it is missing or the repository is empty. */
export async function readBranch(gh: GitHubClient, t: RepoTarget): Promise<LiveBranch> {
  return readAt(gh, t, await readHead(gh, t));
}

/**
 * The text of every `section` file of `desired` that the branch holds (`live`: path -> blob
 * SHA), from `GET …/git/blobs/{sha}` (base64, with line breaks, as GitHub sends it).
 */
export async function readSectionTexts(
  gh: GitHubClient,
  t: RepoTarget,
  desired: DesiredFiles,
  live: LiveTree,
): Promise<Map<string, string>> {
  const paths = Object.keys(desired).filter((p) => desired[p].mode === "section" && live.has(p));
  const texts = await Promise.all(
    paths.map(async (p) => {
      const blob = await gh.request("GET /repos/{owner}/{repo}/git/blobs/{file_sha}", {
        owner: t.owner,
        repo: t.repo,
        file_sha: live.get(p)!,
      });
      const { content, encoding } = blob.data;
      if (encoding !== "base64") {
        throw new Error(`${t.owner}/${t.repo}: GitHub sent ${p} as ${encoding}, not base64`);
      }
      // Node's base64 decoder skips the line breaks GitHub puts every 60 characters.
      const bytes = Buffer.from(content, "base64");
      const text = bytes.toString("utf8");
      // Spliced and written back as UTF-8, anything else would be changed in bytes we keep.
      if (!Buffer.from(text, "utf8").equals(bytes)) {
        throw new Error(`${t.owner}/${t.repo}: ${p} on ${t.branch} is not UTF-8 text`);
      }
      return [p, text] as const;
    }),
  );
  return new Map(texts);
}

/**
 * The branch, waiting (with backoff, within `appearWithinMs`) for one that is not there
 * yet; `undefined` for an empty repository. Only the write waits: a preview of a repository
 * that does not exist yet must not.
 */
async function readBranchWaiting(
  gh: GitHubClient,
  t: RepoTarget,
  o: WriteOptions,
): Promise<LiveBranch | undefined> {
  const bound = o.appearWithinMs ?? APPEAR_WITHIN_MS;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let waited = 0;
  let wait = FIRST_WAIT_MS;
  for (;;) {
    try {
      return await readBranch(gh, t);
    } catch (err) {
      const reason = reasonOf(err);
      if (reason === "empty") return undefined;
      if (reason !== "missing") throw err;
      if (waited >= bound) {
        const s = Math.round(waited / 100) / 10;
        throw new Error(`${(err as Error).message}; waited ${s} s for it to appear`, {
          cause: err,
        });
      }
      const ms = Math.min(wait, bound - waited);
      await sleep(ms);
      waited += ms;
      wait = Math.min(wait * 2, LONGEST_WAIT_MS);
    }
  }
}

type TreeEntry =
  | { path: string; mode: "100644"; type: "blob"; content: string }
  | { path: string; mode: "100644"; type: "blob"; sha: null };

function chunks(changes: readonly Change[]): TreeEntry[][] {
  const out: TreeEntry[][] = [];
  let current: TreeEntry[] = [];
  let bytes = 0;
  for (const c of changes) {
    const entry: TreeEntry =
      c.kind === "delete"
        ? { path: c.path, mode: "100644", type: "blob", sha: null }
        : { path: c.path, mode: "100644", type: "blob", content: c.content };
    const size = c.kind === "delete" ? c.path.length : c.path.length + c.content.length;
    if (
      current.length > 0 &&
      (current.length >= TREE_CHUNK_ENTRIES || bytes + size > TREE_CHUNK_BYTES)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Writes `changes` on top of `base` as one commit, not yet on any branch. */
async function createCommit(
  gh: GitHubClient,
  t: RepoTarget,
  base: LiveBranch,
  changes: readonly Change[],
  message: string,
): Promise<string> {
  let tree = base.tree;
  for (const entries of chunks(changes)) {
    const r = await gh.request("POST /repos/{owner}/{repo}/git/trees", {
      owner: t.owner,
      repo: t.repo,
      base_tree: tree,
      // GitHub's schema types `sha` as a string; `null` is its documented way to delete.
      tree: entries as never,
    });
    tree = r.data.sha;
  }
  const commit = await gh.request("POST /repos/{owner}/{repo}/git/commits", {
    owner: t.owner,
    repo: t.repo,
    message,
    tree,
    parents: [base.commit],
    author: COMMITTER,
  });
  return commit.data.sha;
}

/** How often the Contents API's first commit is sent while the repository stays empty. */
const FIRST_COMMIT_ATTEMPTS = 3;

/**
 * The first commit of an empty repository, holding `first`, through the Contents API: the
 * Git Data API answers 409 there (no tree or commit can be made without one). Why it is
 * safe to make it: the Contents API never forces, so when someone else (GitHub finishing an
 * `auto_init`, another stack) made a first commit meanwhile, it commits on top of theirs or
 * refuses (a 422 or 409 for an existing path) and nothing of theirs is lost. The file is the
 * stack's own first planned one, so the repository holds only what the stack declared (no
 * README nobody owns); the other files follow in the one commit on top. Returns the branch
 * after it, built from the answer (a read right after may not see it yet), or the branch
 * someone else made (`made: false`); throws when GitHub refuses and the repository is
 * still empty.
 */
async function firstCommit(
  gh: GitHubClient,
  t: RepoTarget,
  first: Extract<Change, { kind: "add" | "update" }>,
  subject: string,
  o: WriteOptions,
  attempt = 1,
): Promise<{ live: LiveBranch; made: boolean }> {
  try {
    const r = await gh.request("PUT /repos/{owner}/{repo}/contents/{path}", {
      owner: t.owner,
      repo: t.repo,
      path: first.path,
      branch: t.branch,
      message: `${subject}\n\nadd ${first.path}\n`,
      content: Buffer.from(first.content, "utf8").toString("base64"),
      author: COMMITTER,
      // A new commit each time: never repeated blindly. A failure is checked by reading the
      // branch below (it may have been made although the answer was lost).
      ...NO_RETRY,
    });
    const commit = r.data.commit.sha;
    const tree = r.data.commit.tree?.sha;
    const blob = r.data.content?.sha;
    if (!commit || !tree || !blob) {
      throw new Error(`${t.owner}/${t.repo}: the Contents API answered without a commit`);
    }
    return { live: { commit, tree, files: new Map([[first.path, blob]]) }, made: true };
  } catch (err) {
    const code = status(err);
    // A 5xx, a dropped connection or no answer: the commit may have been made. The branch
    // says; only when it is still empty is the PUT sent again (verified, not blind).
    const unknown = code === undefined || code >= 500;
    if (code !== 409 && code !== 422 && !unknown) throw err;
    const live = await readBranchWaiting(gh, t, o);
    if (live) return { live, made: false };
    if (unknown && attempt < FIRST_COMMIT_ATTEMPTS) {
      await new Promise((r) => setTimeout(r, 1000 * attempt * attempt));
      return firstCommit(gh, t, first, subject, o, attempt + 1);
    }
    if (unknown) throw err;
    const message = githubMessage(err);
    const hint = /protected|rule|pull request/i.test(message) ? `: ${ALLOW_DIRECT_PUSH}` : "";
    throw new Error(
      `${t.owner}/${t.repo}: the repository is empty and GitHub refused its first commit on ${t.branch} (${JSON.stringify(message)})${hint}`,
      { cause: err },
    );
  }
}

/**
 * Makes the branch hold what the stack owns, in one commit (or none; two on an empty
 * repository, see `firstCommit`). `owned` is what the stack declared at its last successful
 * write, so files it wrote and no longer renders are deleted, and scaffold files it wrote
 * once are never written again. `options` may also be the former `maxAttempts` number.
 */
export async function writeFiles(
  gh: GitHubClient,
  t: RepoTarget,
  desired: DesiredFiles,
  owned: Owned,
  subject: string,
  options: WriteOptions | number = {},
): Promise<WriteResult> {
  const o: WriteOptions = typeof options === "number" ? { maxAttempts: options } : options;
  const maxAttempts = o.maxAttempts ?? 8;
  const where = `${t.owner}/${t.repo}`;
  let moves = 0;
  /** The Contents API's first commit and its change, when this write made one. */
  let made: { commit: string; change: Change } | undefined;
  let live = await readBranchWaiting(gh, t, o);
  for (;;) {
    if (live === undefined) {
      const first = planChanges(desired, new Map(), owned)[0];
      if (first === undefined || first.kind === "delete") {
        return { commit: undefined, head: "", changes: [], retries: moves };
      }
      const r = await firstCommit(gh, t, first, subject, o);
      if (r.made) made = { commit: r.live.commit, change: first };
      else moves++;
      live = r.live;
    }
    // This read's texts, never an earlier one's: a race retry must splice into the new head.
    const texts = await readSectionTexts(gh, t, desired, live.files);
    const planned = planChanges(desired, live.files, owned, texts);
    const changes = made ? [made.change, ...planned] : planned;
    if (planned.length === 0) {
      return { commit: made?.commit, head: live.commit, changes, retries: moves };
    }
    const body = planned.slice(0, 100).map((c) => `${c.kind} ${c.path}`);
    if (planned.length > body.length) body.push(`... and ${planned.length - body.length} more`);
    const commit = await createCommit(gh, t, live, planned, `${subject}\n\n${body.join("\n")}\n`);
    try {
      await gh.request("PATCH /repos/{owner}/{repo}/git/refs/{ref}", {
        owner: t.owner,
        repo: t.repo,
        ref: `heads/${t.branch}`,
        sha: commit,
        force: false,
      });
      return { commit, head: commit, changes, retries: moves };
    } catch (err) {
      if (status(err) !== 422) throw err;
      const message = githubMessage(err);
      let head: string | undefined;
      try {
        head = await readHead(gh, t);
      } catch (e) {
        if (reasonOf(e) === undefined) throw e; // gone (deleted) or empty: it moved
      }
      // GitHub's own "not a fast forward" is a race even if this read lags behind it.
      if (head === live.commit && !/fast.forward/i.test(message)) {
        throw new Error(
          `${where}: GitHub refused to move branch ${t.branch} (${JSON.stringify(message)}) although nothing else had moved it: ${ALLOW_DIRECT_PUSH}`,
          { cause: err },
        );
      }
      moves++;
      if (moves >= maxAttempts) {
        throw new Error(
          `${where}: branch ${t.branch} kept moving: it moved ${moves} times between reading it and updating it (${JSON.stringify(message)}); run the update again`,
          { cause: err },
        );
      }
      live = head === undefined ? await readBranchWaiting(gh, t, o) : await readAt(gh, t, head);
    }
  }
}
