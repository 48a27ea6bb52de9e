/** `npm run render --out`: writes the rendered tree into a folder without costing anyone a file. */
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Marks a folder `writeTree` wrote, and lists the files it wrote there (one per line): a later
 * run replaces and deletes only those, so `--out` can never cost anyone a file.
 */
export const RENDER_MARKER = ".flux-platform-render";

/** `writeTree` refused the folder: writing there could overwrite or delete others' files. */
export class OutDirError extends Error {
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(`${dir}: ${reason}`);
    this.name = "OutDirError";
  }
}

const lstat = (p: string): fs.Stats | undefined => fs.lstatSync(p, { throwIfNoEntry: false });

/** A path a tree or a marker may name: relative, normalised, inside the folder, one line. */
function isTreePath(rel: string): boolean {
  return (
    rel !== "" &&
    rel !== "." &&
    rel !== RENDER_MARKER &&
    !rel.startsWith("#") &&
    !/[\\\n\r]/.test(rel) &&
    !rel.endsWith("/") &&
    !path.posix.isAbsolute(rel) &&
    path.posix.normalize(rel) === rel &&
    !rel.split("/").includes("..")
  );
}

/**
 * The files an earlier run wrote into `out`, from its marker; none when `out` is new or empty.
 * @throws OutDirError for a file, or a folder that has other things in it and no marker
 */
function ownedFiles(out: string): Set<string> {
  const owned = new Set<string>();
  const st = fs.statSync(out, { throwIfNoEntry: false });
  if (!st) return owned;
  if (!st.isDirectory()) {
    throw new OutDirError(out, "is a file, not a folder; pass a new or empty folder");
  }
  const marker = path.join(out, RENDER_MARKER);
  const mst = lstat(marker);
  if (!mst) {
    if (fs.readdirSync(out).length === 0) return owned;
    throw new OutDirError(
      out,
      `is not empty and was not written by render (it has no ${RENDER_MARKER}); pass a new or empty folder`,
    );
  }
  if (!mst.isFile()) {
    throw new OutDirError(out, `${RENDER_MARKER} is not a file; pass a new or empty folder`);
  }
  for (const line of fs.readFileSync(marker, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (!isTreePath(line)) {
      throw new OutDirError(
        out,
        `${RENDER_MARKER} lists ${JSON.stringify(line)}, which is not a path inside the folder; pass a new or empty folder`,
      );
    }
    owned.add(line);
  }
  return owned;
}

/** The first folder above `rel` that exists in `out` but is not a real folder (a file, a link). */
function blockedAt(out: string, rel: string): string | undefined {
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    const st = lstat(path.join(out, dir));
    if (!st) return undefined;
    if (!st.isDirectory()) return dir;
  }
  return undefined;
}

function writeMarker(out: string, files: Iterable<string>): void {
  const lines = [
    "# Written by `npm run render` (flux-platform): the files it wrote into this folder. The next",
    "# render replaces or deletes only these; anything else here is left alone.",
    ...[...new Set(files)].sort(),
  ];
  fs.writeFileSync(path.join(out, RENDER_MARKER), `${lines.join("\n")}\n`);
}

/** Deletes a file an earlier run wrote, and the folders that held only such files. */
function removeOwned(out: string, rel: string): void {
  // A folder above it replaced by a link would lead the delete elsewhere: leave it.
  if (blockedAt(out, rel) !== undefined) return;
  const st = lstat(path.join(out, rel));
  if (!st || st.isDirectory()) return;
  fs.unlinkSync(path.join(out, rel));
  for (let dir = path.posix.dirname(rel); dir !== "."; dir = path.posix.dirname(dir)) {
    try {
      fs.rmdirSync(path.join(out, dir));
    } catch {
      break; // not empty: something else lives there
    }
  }
}

/**
 * Writes the rendered tree into `out`: a new or empty folder, or one an earlier run wrote (it
 * holds RENDER_MARKER). There it replaces the files it wrote before and deletes those that
 * left the render; nothing else in the folder is touched.
 * @throws OutDirError, before writing anything, where that would overwrite or delete another file
 */
export function writeTree(out: string, tree: Map<string, string>): void {
  const files = [...tree.keys()].sort();
  for (const rel of files) {
    if (!isTreePath(rel)) throw new Error(`rendered tree: ${JSON.stringify(rel)} is not a path`);
  }
  const owned = ownedFiles(out);
  const stale = [...owned].filter((rel) => !tree.has(rel));
  for (const rel of files) {
    const blocked = blockedAt(out, rel);
    if (blocked !== undefined && !(owned.has(blocked) && !tree.has(blocked))) {
      throw new OutDirError(
        out,
        `${blocked} is in the way of ${rel} and was not written by render; move it away, or pass a new or empty folder`,
      );
    }
    const st = blocked === undefined ? lstat(path.join(out, rel)) : undefined;
    if (st && (st.isDirectory() || !owned.has(rel))) {
      throw new OutDirError(
        out,
        `${rel} is there and was not written by render; move it away, or pass a new or empty folder`,
      );
    }
  }
  fs.mkdirSync(out, { recursive: true });
  // Listed before they exist: an interrupted run still knows every file it may have written.
  writeMarker(out, [...owned, ...files]);
  for (const rel of stale) removeOwned(out, rel);
  for (const rel of files) {
    const file = path.join(out, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // An earlier run's file, or whatever took its place: replaced, never written through.
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, tree.get(rel)!, { flag: "wx" });
  }
  writeMarker(out, files);
}
