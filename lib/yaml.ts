import { parseAllDocuments, stringify } from "yaml";

/** A file the stack commits to one of its repositories. */
export interface RepoFile {
  /** Path inside the repository, `/`-separated. */
  readonly path: string;
  readonly content: string;
  /**
   * `sync`: Pulumi owns the content and puts it back on every `pulumi up`.
   * `scaffold`: written once; later edits in the repo are kept.
   * `section`: one file shared by several stacks, each owning the block between its
   * `# >>> <id>` and `# <<< <id>` lines (lib/github/plan.ts `spliceSection`).
   */
  readonly mode: "sync" | "scaffold" | "section";
  /** The same path for every environment (several stacks share one repo), or this one's only. */
  readonly shared: boolean;
}

/** One YAML document, block style, never folded: the same input gives the same bytes. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0, minContentWidth: 0 });
}

/** A YAML file: an optional `#` header, then the documents separated by `---`. */
export function yamlFile(header: readonly string[], ...docs: unknown[]): string {
  const head = header.map((line) => (line === "" ? "#" : `# ${line}`)).join("\n");
  const body = docs.map(toYaml).join("---\n");
  return head === "" ? body : `${head}\n${body}`;
}

/** Parses every document of a multi-document YAML text (empty documents skipped). */
export function parseYamlDocs(text: string): unknown[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join("; "));
      return doc.toJS() as unknown;
    })
    .filter((doc) => doc !== null && doc !== undefined);
}
