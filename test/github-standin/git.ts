/**
 * The bare git repositories behind the GitHub stand-in, driven with the real `git` CLI:
 * every SHA, tree and ref the stand-in reports is git's own.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const ZERO_SHA = "0".repeat(40);

export interface GitResult {
  readonly stdout: string;
  readonly code: number;
  readonly stderr: string;
}

/** Runs git in `dir`; resolves even when git fails (check `code`). */
export function git(
  dir: string,
  args: readonly string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<GitResult> {
  return new Promise((resolve) => {
    const child = execFile(
      "git",
      args,
      {
        cwd: dir,
        env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: dir, ...options.env },
        maxBuffer: 256 << 20,
        encoding: "utf8",
      },
      (err, stdout, stderr) =>
        resolve({
          stdout,
          stderr,
          code: err ? ((err as { code?: number }).code ?? 1) : 0,
        }),
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export async function gitOk(
  dir: string,
  args: readonly string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const r = await git(dir, args, options);
  if (r.code !== 0) throw new Error(`git ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface TreeEntry {
  readonly path: string;
  readonly mode: string;
  readonly type: "blob" | "tree" | "commit";
  readonly sha: string;
  readonly size?: number;
}

/** `git ls-tree` of a tree-ish, recursive (with the trees) or one level. */
export async function lsTree(
  dir: string,
  treeish: string,
  recursive: boolean,
): Promise<TreeEntry[]> {
  const args = ["ls-tree", "-l", "--full-tree", "-z"];
  if (recursive) args.push("-r", "-t");
  const out = await gitOk(dir, [...args, treeish]);
  return out
    .split("\0")
    .filter((l) => l !== "")
    .map((line) => {
      const [meta, p] = line.split("\t");
      const [mode, type, sha, size] = meta.split(/\s+/);
      return {
        path: p,
        mode,
        type: type as TreeEntry["type"],
        sha,
        ...(type === "blob" ? { size: Number(size) } : {}),
      };
    });
}

/** A blob's bytes, as `git cat-file blob` gives them (not decoded: a blob may be binary). */
export function catBlob(dir: string, sha: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      "git",
      ["cat-file", "blob", sha],
      {
        cwd: dir,
        env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1", HOME: dir },
        maxBuffer: 256 << 20,
        encoding: "buffer",
      },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`git cat-file blob ${sha} failed: ${stderr.toString().trim()}`))
          : resolve(stdout),
    );
  });
}

/** The object's type, or undefined when it does not exist. */
export async function objectType(dir: string, sha: string): Promise<string | undefined> {
  if (!/^[0-9a-f]{40}$/.test(sha)) return undefined;
  const r = await git(dir, ["cat-file", "-t", sha]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/**
 * Whether the bare repository has no branch at all: no commit was ever made (created without
 * `auto_init`, nothing pushed), which GitHub's Git Data API answers with 409.
 */
export async function isEmptyRepo(dir: string): Promise<boolean> {
  const out = await gitOk(dir, ["for-each-ref", "--count=1", "--format=%(refname)", "refs/heads"]);
  return out.trim() === "";
}

export type NewEntry =
  | { path: string; mode: string; content: string | Buffer }
  | { path: string; mode: string; sha: string }
  | { path: string; delete: true };

/** A new tree: `base` (a tree SHA, or none) with `entries` applied, built in a scratch index. */
export async function writeTree(
  dir: string,
  base: string | undefined,
  entries: NewEntry[],
): Promise<string> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "standin-index-"));
  const env = { GIT_INDEX_FILE: path.join(scratch, "index") };
  try {
    await gitOk(dir, base ? ["read-tree", base] : ["read-tree", "--empty"], { env });
    const contents = entries.filter(
      (e): e is Extract<NewEntry, { content: string | Buffer }> => "content" in e,
    );
    const files = contents.map((e, i) => {
      const f = path.join(scratch, `blob-${i}`);
      fs.writeFileSync(f, e.content);
      return f;
    });
    const shas =
      files.length > 0
        ? (
            await gitOk(dir, ["hash-object", "-w", "--stdin-paths"], {
              input: files.join("\n") + "\n",
            })
          )
            .trim()
            .split("\n")
        : [];
    const lines: string[] = [];
    for (const e of entries) {
      if ("delete" in e) {
        lines.push(`0 ${ZERO_SHA}\t${e.path}`);
      } else if ("content" in e) {
        lines.push(`${e.mode} ${shas[contents.indexOf(e)]}\t${e.path}`);
      } else {
        lines.push(`${e.mode} ${e.sha}\t${e.path}`);
      }
    }
    if (lines.length > 0) {
      await gitOk(dir, ["update-index", "--index-info"], { env, input: lines.join("\n") + "\n" });
    }
    return (await gitOk(dir, ["write-tree"], { env })).trim();
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
