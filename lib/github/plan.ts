/**
 * What one commit must change in a repository so that it holds the files a stack owns:
 * pure, so the provider's preview, its update, the tests and the bench share it.
 *
 * Ownership (docs/writer.md "Ownership per file"):
 * - `sync` files are the stack's: written when missing or different from the render (a
 *   hand edit is put back), and deleted once they leave the render.
 * - `scaffold` files are written once, when missing and never written by this stack
 *   before; after that they belong to their owners and are never changed or deleted.
 * - Paths the stack never declared are left alone.
 */
import { createHash } from "node:crypto";

/** The content a stack declares for one path. */
export interface DesiredFile {
  readonly mode: "sync" | "scaffold";
  readonly content: string;
}

/** path -> desired file. */
export type DesiredFiles = Readonly<Record<string, DesiredFile>>;
/** path -> git blob SHA of what the branch holds now. */
export type LiveTree = ReadonlyMap<string, string>;
/** path -> mode, of every file the stack declared at its last successful write. */
export type Owned = Readonly<Record<string, DesiredFile["mode"]>>;

export type Change =
  | { readonly kind: "add" | "update"; readonly path: string; readonly content: string }
  | { readonly kind: "delete"; readonly path: string };

/** Git's id of a file: sha1 of `blob <byte length>\0<bytes>`, as GitHub reports it. */
export function gitBlobSha(content: string): string {
  const bytes = Buffer.from(content, "utf8");
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

/** The changes, sorted by path; empty when the branch already holds what the stack owns. */
export function planChanges(desired: DesiredFiles, live: LiveTree, owned: Owned): Change[] {
  const changes: Change[] = [];
  for (const [path, file] of Object.entries(desired)) {
    const current = live.get(path);
    if (file.mode === "scaffold") {
      if (current === undefined && owned[path] === undefined) {
        changes.push({ kind: "add", path, content: file.content });
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

/** The paths a desired file set makes this stack own, for the next plan's deletes. */
export function ownedBy(desired: DesiredFiles): Record<string, DesiredFile["mode"]> {
  return Object.fromEntries(Object.entries(desired).map(([path, f]) => [path, f.mode]));
}

/** One line per change, as the commit message body and the preview note list them. */
export function describeChanges(changes: readonly Change[]): string[] {
  return changes.map((c) => `${c.kind} ${c.path}`);
}
