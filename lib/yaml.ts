import { parseAllDocuments, stringify } from "yaml";

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
