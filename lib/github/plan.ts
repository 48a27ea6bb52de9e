/**
 * What one commit must change in a repository so that it holds the files a stack owns:
 * pure, so the provider's preview, its update, the tests and the bench share it.
 *
 * Ownership (docs/writer.md "Ownership per file"):
 * - `sync` files are the stack's: written when missing or different from the render (a
 *   hand edit is put back), and deleted once they leave the render.
 * - `scaffold` files are written once, when missing and never written by this stack
 *   before; after that they belong to their owners and are never changed or deleted.
 * - `section` files are shared by several stacks, each owning one block of lines between
 *   its two marker lines (`spliceSection`): the stack's block is put back, the rest of the
 *   file (other stacks' blocks, hand-written lines) is kept byte for byte, and the file is
 *   never deleted, since the other blocks still live in it.
 * - Paths the stack never declared are left alone.
 */
import { createHash } from "node:crypto";

/**
 * The content a stack declares for one path. For a `section` file, the whole file as this
 * stack writes it when it is missing, its own block inside (`spliceSection`).
 */
export interface DesiredFile {
  readonly mode: "sync" | "scaffold" | "section";
  readonly content: string;
}

/** path -> desired file. */
export type DesiredFiles = Readonly<Record<string, DesiredFile>>;
/** path -> git blob SHA of what the branch holds now. */
export type LiveTree = ReadonlyMap<string, string>;
/** path -> mode, of every file the stack declared at its last successful write. */
export type Owned = Readonly<Record<string, DesiredFile["mode"]>>;
/** path -> text of what the branch holds now, for every `section` path it holds. */
export type LiveText = ReadonlyMap<string, string>;

export type Change =
  | { readonly kind: "add" | "update"; readonly path: string; readonly content: string }
  | { readonly kind: "delete"; readonly path: string };

/** Git's id of a file: sha1 of `blob <byte length>\0<bytes>`, as GitHub reports it. */
export function gitBlobSha(content: string): string {
  const bytes = Buffer.from(content, "utf8");
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/**
 * The changes, sorted by path; empty when the branch already holds what the stack owns.
 * `liveText` must hold the text of every `section` path on the branch: its block is
 * spliced into what is there, which the SHA alone cannot give.
 */
export function planChanges(
  desired: DesiredFiles,
  live: LiveTree,
  owned: Owned,
  liveText: LiveText = new Map(),
): Change[] {
  const changes: Change[] = [];
  for (const [path, file] of Object.entries(desired)) {
    const current = live.get(path);
    if (file.mode === "scaffold") {
      if (current === undefined && owned[path] === undefined) {
        changes.push({ kind: "add", path, content: file.content });
      }
    } else if (file.mode === "section") {
      if (current === undefined) {
        changes.push({ kind: "add", path, content: section(path, undefined, file.content) });
      } else {
        const next = section(path, textOf(path, current, liveText), file.content);
        if (gitBlobSha(next) !== current) changes.push({ kind: "update", path, content: next });
      }
    } else if (current === undefined) {
      changes.push({ kind: "add", path, content: file.content });
    } else if (current !== gitBlobSha(file.content)) {
      changes.push({ kind: "update", path, content: file.content });
    }
  }
  for (const [path, mode] of Object.entries(owned)) {
    if (mode === "sync" && desired[path] === undefined && live.has(path)) {
      changes.push({ kind: "delete", path });
    }
  }
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The text of a section file the branch holds as blob `sha`. */
function textOf(path: string, sha: string, liveText: LiveText): string {
  const text = liveText.get(path);
  if (text === undefined) {
    throw new Error(`${path}: a section file on the branch, but its text was not read`);
  }
  // A text from another read than the tree's would splice into a stale file and drop
  // whatever another stack wrote since.
  if (gitBlobSha(text) !== sha) {
    throw new Error(`${path}: the text read is not the blob ${sha} the branch holds`);
  }
  return text;
}

/** `spliceSection`, its refusals naming the file. */
function section(path: string, live: string | undefined, desired: string): string {
  try {
    return spliceSection(live, desired);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The marker prefixes, of one length. */
const OPEN = "# >>> ";
const CLOSE = "# <<< ";

interface Marker {
  readonly kind: "open" | "close";
  readonly id: string;
  /** The line's first character and the one after its last (its `\n` excluded). */
  readonly start: number;
  readonly end: number;
}

/** The marker lines of a text, in order; indentation before `#` is allowed (YAML lists). */
function markers(text: string): Marker[] {
  const out: Marker[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    const end = nl < 0 ? text.length : nl;
    const line = text.slice(start, end).replace(/^[ \t]+/, "");
    const kind = line.startsWith(OPEN) ? "open" : line.startsWith(CLOSE) ? "close" : undefined;
    // The id is compared trimmed: in a CRLF file or after a trailing blank it is the same.
    if (kind) out.push({ kind, id: line.slice(OPEN.length).trim(), start, end });
    start = end + 1;
  }
  return out;
}

/** The one block of a section file's desired content: its id and its lines, markers included. */
function desiredBlock(desired: string): { id: string; text: string } {
  const found = markers(desired);
  const opens = found.filter((m) => m.kind === "open");
  if (opens.length === 0) {
    throw new Error(`a section file's content has no opening "${OPEN}<id>" line`);
  }
  if (opens.length > 1) {
    const ids = opens.map((m) => JSON.stringify(m.id)).join(", ");
    throw new Error(`a section file's content must hold one block, not several (${ids})`);
  }
  const [open] = opens;
  if (open.id === "") throw new Error(`a section file's opening "${OPEN}" line has no id`);
  const closes = found.filter((m) => m.kind === "close");
  const close = closes[0];
  if (closes.length !== 1 || close.id !== open.id || close.start < open.end) {
    throw new Error(
      `a section file's block ${JSON.stringify(open.id)} needs one closing "${CLOSE}${open.id}" line after its opening one`,
    );
  }
  return { id: open.id, text: desired.slice(open.start, close.end) };
}

/**
 * What a section file holds once this stack's block is in it: `desired` when the file is
 * missing; otherwise `live` with the block of the same id replaced by the desired one
 * (marker lines included, indented as in `desired`), or appended at the end when `live` has
 * none. Everything outside the block is kept byte for byte. Throws when `desired` does not
 * hold exactly one well-formed block, and when `live`'s block for the id is broken (a
 * marker without its pair, twice, or another block inside it): which lines are the stack's
 * is then a guess, and a wrong guess overwrites someone else's, so a person fixes it.
 */
export function spliceSection(live: string | undefined, desired: string): string {
  const block = desiredBlock(desired);
  if (live === undefined) return desired;
  const all = markers(live);
  const own = all.filter((m) => m.id === block.id);
  if (own.length === 0) {
    const gap = live === "" || live.endsWith("\n") ? "" : "\n";
    return `${live}${gap}${block.text}\n`;
  }
  const [open, close] = own;
  const broken =
    own.length !== 2 ||
    open.kind !== "open" ||
    close.kind !== "close" ||
    // Another block inside ours: replacing ours would take it with it.
    all.some((m) => m.start > open.start && m.start < close.start);
  if (broken) {
    throw new Error(
      `the file's block ${JSON.stringify(block.id)} is broken (its "${OPEN}${block.id}" and "${CLOSE}${block.id}" lines must appear once each, in that order) and must be fixed by hand`,
    );
  }
  return live.slice(0, open.start) + block.text + live.slice(close.end);
}

/** The paths a desired file set makes this stack own, for the next plan's deletes. */
export function ownedBy(
  desired: Readonly<Record<string, Pick<DesiredFile, "mode">>>,
): Record<string, DesiredFile["mode"]> {
  return Object.fromEntries(Object.entries(desired).map(([path, f]) => [path, f.mode]));
}

/** One line per change, as the commit message body and the preview note list them. */
export function describeChanges(changes: readonly Change[]): string[] {
  return changes.map((c) => `${c.kind} ${c.path}`);
}
