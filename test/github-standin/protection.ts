/**
 * Branch protection and rulesets, as far as they refuse a direct update: GitHub answers a
 * `PATCH /repos/{o}/{r}/git/refs/heads/{b}` to a branch that requires pull requests with a
 * 422 and one of two messages (classic protection or a ruleset), refuses a `git push` to it
 * with GH006 / GH013, and refuses a Contents API write to it (the stand-in answers that one
 * 409, the Contents API's status for a write it cannot make).
 *
 * The protected branches of a repository are `<ref> <kind>` lines in `standin-protected`
 * inside its bare directory, so they move with a renamed repository and a pre-receive hook
 * there (installed when a branch is first protected) refuses pushes over smart HTTP and
 * over SSH (e2e/infra/git-ssh-shell) alike.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** `protection`: classic branch protection; `ruleset`: a repository ruleset. */
export type ProtectionKind = "protection" | "ruleset";

const FILE = "standin-protected";

/** GitHub's message for a refused ref update of `ref` (`refs/heads/<b>`). */
export function protectedMessage(kind: ProtectionKind, ref: string): string {
  return kind === "protection"
    ? `Protected branch update failed for ${ref}.`
    : "Repository rule violations found\n\nChanges must be made through a pull request.";
}

/** How `ref` (`refs/heads/<b>`) is protected in the bare repository `dir`, if it is. */
export function protectionOf(dir: string, ref: string): ProtectionKind | undefined {
  const file = path.join(dir, FILE);
  if (!fs.existsSync(file)) return undefined;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const [r, kind] = line.trim().split(/\s+/);
    if (r === ref && (kind === "protection" || kind === "ruleset")) return kind;
  }
  return undefined;
}

/** Protects `branch` of the bare repository `dir` (replacing a previous kind). */
export function protectBranch(dir: string, branch: string, kind: ProtectionKind): void {
  const file = path.join(dir, FILE);
  const ref = `refs/heads/${branch}`;
  const kept = fs.existsSync(file)
    ? fs
        .readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "" && l.trim().split(/\s+/)[0] !== ref)
    : [];
  fs.writeFileSync(file, [...kept, `${ref} ${kind}`].join("\n") + "\n");
  installPreReceive(dir);
}

/** The hook git runs before a push updates any ref (in the bare directory, as its cwd). */
function installPreReceive(dir: string): void {
  const hook = path.join(dir, "hooks", "pre-receive");
  fs.mkdirSync(path.dirname(hook), { recursive: true });
  fs.writeFileSync(
    hook,
    `#!/bin/sh
# GitHub refuses a push to a protected branch (test/github-standin/protection.ts).
refused=0
while read -r old new ref; do
  kind=$(awk -v r="$ref" '$1 == r { print $2 }' ${FILE} 2>/dev/null)
  case "$kind" in
    protection)
      echo "error: GH006: Protected branch update failed for $ref." >&2
      echo "error: Changes must be made through a pull request." >&2
      refused=1 ;;
    ruleset)
      echo "error: GH013: Repository rule violations found for $ref." >&2
      echo "" >&2
      echo "- Changes must be made through a pull request." >&2
      refused=1 ;;
  esac
done
exit $refused
`,
    { mode: 0o755 },
  );
}
