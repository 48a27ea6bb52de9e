/**
 * One commit of many files through GitHub's Git Data API: read the branch (ref, commit,
 * recursive tree), plan the changes (plan.ts), write one tree (a chain of tree requests
 * for a very large change, each on the previous one), one commit, and move the branch
 * without force. When another writer moved the branch in between (422, not a fast
 * forward), it reads again and re-plans on the new head, so two stacks writing at once
 * lose nothing. No commit when nothing changes.
 */
import type { GitHubClient } from "./api";
import { planChanges, type Change, type DesiredFiles, type Owned } from "./plan";

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
  /** The branch head after the write. */
  readonly head: string;
  readonly changes: readonly Change[];
  /** How many times the branch moved under us and the write was planned again. */
  readonly retries: number;
}

/** Tree entries per request: keeps each request far below GitHub's payload limits. */
export const TREE_CHUNK_ENTRIES = 500;
export const TREE_CHUNK_BYTES = 1 << 20;
const COMMITTER = { name: "flux-platform", email: "flux-platform@users.noreply.github.com" };

function status(err: unknown): number | undefined {
  return (err as { status?: number }).status;
}

export async function readBranch(gh: GitHubClient, t: RepoTarget): Promise<LiveBranch> {
  const where = `${t.owner}/${t.repo}`;
  let commit: string;
  try {
    const ref = await gh.request("GET /repos/{owner}/{repo}/git/ref/{ref}", {
      owner: t.owner,
      repo: t.repo,
      ref: `heads/${t.branch}`,
    });
    commit = ref.data.object.sha;
  } catch (err) {
    if (status(err) === 404) {
      throw new Error(`${where}: branch ${t.branch} does not exist (or the token cannot read it)`);
    }
    throw err;
  }
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
      `${where}: the tree of ${t.branch} is larger than GitHub lists at once (100,000 entries or 7 MB)`,
    );
  }
  const files = new Map<string, string>();
  for (const e of tree.data.tree) {
    if (e.type === "blob" && e.path && e.sha) files.set(e.path, e.sha);
  }
  return { commit, tree: c.data.tree.sha, files };
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

/**
 * Makes the branch hold what the stack owns, in one commit (or none). `owned` is what the
 * stack declared at its last successful write, so files it wrote and no longer renders are
 * deleted, and scaffold files it wrote once are never written again.
 */
export async function writeFiles(
  gh: GitHubClient,
  t: RepoTarget,
  desired: DesiredFiles,
  owned: Owned,
  subject: string,
  maxAttempts = 8,
): Promise<WriteResult> {
  for (let attempt = 0; ; attempt++) {
    const live = await readBranch(gh, t);
    const changes = planChanges(desired, live.files, owned);
    if (changes.length === 0) {
      return { commit: undefined, head: live.commit, changes, retries: attempt };
    }
    const body = changes.slice(0, 100).map((c) => `${c.kind} ${c.path}`);
    if (changes.length > body.length) body.push(`... and ${changes.length - body.length} more`);
    const commit = await createCommit(gh, t, live, changes, `${subject}\n\n${body.join("\n")}\n`);
    try {
      await gh.request("PATCH /repos/{owner}/{repo}/git/refs/{ref}", {
        owner: t.owner,
        repo: t.repo,
        ref: `heads/${t.branch}`,
        sha: commit,
        force: false,
      });
      return { commit, head: commit, changes, retries: attempt };
    } catch (err) {
      // 422, not a fast forward: another writer moved the branch; plan again on its head.
      if (status(err) !== 422 || attempt + 1 >= maxAttempts) throw err;
    }
  }
}
