/**
 * `Pulumi.<stack>.yaml` read as the Pulumi CLI reads it (YAML anchors and merge keys, the
 * project's config types and defaults, `secure:` values), without Pulumi: what
 * `npm run render` and the tests validate.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLMap,
} from "yaml";
import {
  CONFIG_KEYS,
  ConfigError,
  ENCRYPTED,
  loadConfig,
  type PlatformConfig,
  PROJECT,
  type RawConfig,
  show,
} from "../config";

/** A stack or project file Pulumi would refuse (missing, bad YAML, wrong shape): one line. */
export class StackFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
    at?: { readonly line: number; readonly col: number },
  ) {
    super(`${path.basename(file)}${at ? `:${at.line}:${at.col}` : ""}: ${reason}`);
    this.name = "StackFileError";
  }
}

const oneLine = (s: string): string => s.replace(/\s+/g, " ").trim();
/** Key names as the loader's messages spell them: without this project's namespace. */
const shortKey = (key: string): string =>
  key.startsWith(`${PROJECT}:`) ? key.slice(PROJECT.length + 1) : key;

/** A YAML file parsed as Pulumi reads it: anchors, aliases and `<<` merge keys resolved. */
interface YamlFile {
  readonly doc: Document.Parsed;
  /** @throws StackFileError naming the file, and the line and column of `node` if given */
  fail(reason: string, node?: Node | null): never;
}

function readYaml(file: string, notFound: () => string): YamlFile {
  let text: string;
  try {
    // Pulumi strips a UTF-8 byte order mark before parsing, too.
    text = fs.readFileSync(file, "utf8").replace(/^\uFEFF/, "");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new StackFileError(file, code === "ENOENT" ? notFound() : `cannot be read (${code})`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    merge: true,
    uniqueKeys: true,
    prettyErrors: false,
    lineCounter: lines,
  });
  const failAt = (reason: string, offset: number | undefined): never => {
    throw new StackFileError(
      file,
      reason,
      offset === undefined ? undefined : lines.linePos(offset),
    );
  };
  const error = doc.errors[0];
  if (error) {
    const key = /^(.*?):(\s|$)/.exec(text.slice(error.pos[0]))?.[1];
    failAt(
      error.code === "DUPLICATE_KEY" && key ? `duplicate key ${show(key)}` : oneLine(error.message),
      error.pos[0],
    );
  }
  visit(doc, {
    Alias(_, alias) {
      if (!alias.resolve(doc)) {
        failAt(`alias *${alias.source} has no anchor &${alias.source} before it`, alias.range?.[0]);
      }
    },
  });
  return { doc, fail: (reason, node) => failAt(oneLine(reason), node?.range?.[0]) };
}

const deref = (y: YamlFile, node: unknown): Node | null =>
  isAlias(node) ? (node.resolve(y.doc) ?? null) : ((node as Node | undefined) ?? null);
const isNull = (node: Node | null): boolean =>
  node === null || (isScalar(node) && node.value === null);

interface Entry {
  readonly key: string;
  readonly keyNode: Node;
  readonly value: Node | null;
}

/**
 * A map's entries by key as written (`1.10` stays `1.10`), `<<` merges applied as YAML's merge
 * key spec says: the map's own keys win, then earlier merge sources over later ones.
 */
function entries(
  y: YamlFile,
  map: YAMLMap,
  seen: ReadonlySet<YAMLMap> = new Set(),
): Map<string, Entry> {
  const own = new Map<string, Entry>();
  const merged = new Map<string, Entry>();
  for (const pair of map.items) {
    const keyNode = pair.key as Node | null;
    if (isScalar(keyNode) && typeof keyNode.value === "symbol") {
      const at = pair.value as Node | null;
      const value = deref(y, at);
      const sources = isSeq(value) ? value.items.map((i) => deref(y, i)) : [value];
      for (const source of sources) {
        if (!isMap(source)) y.fail("a merge key `<<` takes a map, or a list of maps", at);
        if (seen.has(source) || source === map)
          y.fail("a merge key `<<` merges a map into itself", at);
        for (const [k, e] of entries(y, source, new Set([...seen, map]))) {
          if (!merged.has(k)) merged.set(k, e);
        }
      }
      continue;
    }
    if (!isScalar(keyNode))
      y.fail("a key here must be plain text, not a map or a list", keyNode ?? map);
    const key = keyNode.value === null ? "" : (keyNode.source ?? String(keyNode.value));
    own.set(key, { key, keyNode, value: deref(y, pair.value) });
  }
  for (const [k, e] of merged) if (!own.has(k)) own.set(k, e);
  return own;
}

/**
 * A structured value as Go's encoding/json writes it for the engine: map keys sorted by their
 * bytes. Pulumi cannot encode `.inf` or `.nan` and refuses them.
 */
function goJson(value: unknown): string {
  const walk = (v: unknown): unknown => {
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new Error(
        `${String(v)} (\`.inf\`, \`.nan\`) is not a JSON number, which Pulumi refuses`,
      );
    }
    if (typeof v === "symbol") return v.description;
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      return Object.fromEntries(keys.map((k) => [k, walk((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(walk(value));
}

/** Pulumi's `{secure: <ciphertext>}`: a map of that one key, its value a string. */
const isSecure = (v: unknown): boolean =>
  v !== null &&
  typeof v === "object" &&
  !Array.isArray(v) &&
  Object.keys(v).length === 1 &&
  typeof (v as { secure?: unknown }).secure === "string";

/** The engine's config: every value a string, structured ones JSON; which keys are JSON. */
interface EngineConfig {
  readonly raw: Record<string, string | typeof ENCRYPTED>;
  readonly objects: Set<string>;
}

/**
 * One value as Pulumi's config reader (config.Value) takes it: a scalar as its text as written
 * (`1.10`, `True`, `0x10` and quoted ones alike; empty or null is ""), a secret as ENCRYPTED,
 * anything else as JSON.
 */
function engineValue(y: YamlFile, e: Entry): { value: string | typeof ENCRYPTED; object: boolean } {
  const node = e.value;
  if (node === null || isNull(node)) return { value: "", object: false };
  if (isScalar(node)) return { value: node.source ?? String(node.value), object: false };
  const js = toJS(y, e);
  if (isSecure(js)) return { value: ENCRYPTED, object: false };
  try {
    return { value: goJson(js), object: true };
  } catch (err) {
    return y.fail(`${e.key}: ${(err as Error).message}`, node);
  }
}

/** An entry's value as data; what YAML cannot resolve (a bad merge, alias bombs) is one line. */
function toJS(y: YamlFile, e: Entry): unknown {
  try {
    return isNull(e.value) ? null : (e.value!.toJS(y.doc) as unknown);
  } catch (err) {
    return y.fail(`${e.key}: ${(err as Error).message}`, e.value);
  }
}

/** Pulumi's config key forms: `<namespace>:<name>`, and the older `<namespace>:config:<name>`. */
function configKey(key: string): string | undefined {
  const parts = key.split(":");
  if (parts.length === 2) return key;
  if (parts.length === 3 && parts[1] === "config") return `${parts[0]}:${parts[2]}`;
  return undefined;
}

function stackConfig(y: YamlFile): EngineConfig {
  const out: EngineConfig = { raw: {}, objects: new Set() };
  const top = y.doc.contents;
  if (isNull(top)) return out;
  if (!isMap(top)) y.fail("is not a map of stack settings (`config:` and the like)", top);
  const config = entries(y, top).get("config")?.value ?? null;
  if (isNull(config)) return out;
  if (!isMap(config)) y.fail("`config:` is not a map of `<namespace>:<name>: <value>`", config);
  const spelled = new Map<string, string>();
  for (const e of entries(y, config).values()) {
    const key = configKey(e.key);
    if (key === undefined) {
      y.fail(
        `config key ${show(e.key)} is not of the form \`<namespace>:<name>\`${e.key.includes(":") ? "" : ` (\`${PROJECT}:${e.key}\`?)`}`,
        e.keyNode,
      );
    }
    // `ns:config:name` and `ns:name` are one key: Pulumi would keep either, at random.
    const first = spelled.get(key);
    if (first !== undefined)
      y.fail(`${show(key)} is set twice, as ${show(first)} and ${show(e.key)}`, e.keyNode);
    spelled.set(key, e.key);
    const { value, object } = engineValue(y, e);
    out.raw[key] = value;
    if (object) out.objects.add(key);
  }
  return out;
}

interface ItemsType {
  readonly type: string;
  readonly items?: ItemsType;
}

/** Go's strconv.Atoi on a 64-bit machine. */
const isGoInt = (s: string): boolean =>
  /^[+-]?\d+$/.test(s) && BigInt(s) >= -(2n ** 63n) && BigInt(s) < 2n ** 63n;

/** Pulumi's ValidateConfigValue: a declared type against the value the stack gives. */
function hasType(type: string, items: ItemsType | undefined, v: unknown): boolean {
  switch (type) {
    case "string":
      return typeof v === "string";
    case "integer":
      return (
        (typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && isGoInt(v))
      );
    case "boolean":
      return typeof v === "boolean" || v === "true" || v === "false";
    default:
      return (
        Array.isArray(v) &&
        items !== undefined &&
        v.every((i) => hasType(items.type, items.items, i))
      );
  }
}

const typeName = (type: string, items?: ItemsType): string =>
  items ? `array<${typeName(items.type, items.items)}>` : type;

/**
 * What Pulumi does with `Pulumi.yaml`'s `config:` before the program runs: a declared key the
 * stack does not set takes the declared default (or value); one without either is required;
 * a typed key must have that type, a secret one must be `secure:`.
 * @throws ConfigError listing every problem
 */
function applyProject(y: YamlFile, stack: EngineConfig): void {
  const top = y.doc.contents;
  if (!isMap(top)) y.fail("is not a map of project settings (`name:`, `runtime:`, `config:`)", top);
  const settings = entries(y, top);
  const nameNode = settings.get("name")?.value ?? null;
  if (!isScalar(nameNode) || typeof nameNode.value !== "string" || nameNode.value === "") {
    y.fail("`name:` (the project name) is missing", nameNode ?? top);
  }
  const project = nameNode.value;
  const config = settings.get("config")?.value ?? null;
  if (isNull(config)) return;
  // A string here is Pulumi's older spelling of `stackConfigDir:`; no declarations.
  if (isScalar(config)) return;
  if (!isMap(config)) y.fail("`config:` is not a map of declared keys", config);

  const problems: string[] = [];
  const declared = [...entries(y, config).values()].sort((a, b) => (a.key < b.key ? -1 : 1));
  for (const e of declared) {
    const key = e.key.includes(":") ? configKey(e.key) : `${project}:${e.key}`;
    if (key === undefined)
      y.fail(`config key ${show(e.key)} is not of the form \`<namespace>:<name>\``, e.keyNode);
    const ofProject = key.startsWith(`${project}:`);
    const js = toJS(y, e);
    // Short forms: `key: <value or list>`, a default for this project's keys, a value for others'.
    const decl = (
      js !== null && typeof js === "object" && !Array.isArray(js)
        ? js
        : ofProject
          ? { default: js }
          : { value: js }
    ) as {
      type?: unknown;
      items?: ItemsType;
      default?: unknown;
      value?: unknown;
      secret?: unknown;
    };
    const fallback = decl.default ?? decl.value;
    if (!(key in stack.raw)) {
      if (fallback === undefined || fallback === null) {
        if (ofProject)
          problems.push(
            `${shortKey(key)}: is required (Pulumi.yaml declares it without a default)`,
          );
        continue;
      }
      if (typeof fallback === "object") {
        stack.raw[key] = goJson(fallback);
        stack.objects.add(key);
      } else {
        stack.raw[key] = String(fallback);
      }
    }
    if (typeof decl.type !== "string") continue;
    const value = stack.raw[key];
    if (decl.secret === true && value !== ENCRYPTED) {
      problems.push(
        `${shortKey(key)}: must be a secret, as Pulumi.yaml declares (\`pulumi config set --secret ${key} <value>\`)`,
      );
    }
    // Secrets are checked by the program, which Pulumi hands them decrypted.
    if (value === ENCRYPTED) continue;
    const content: unknown = stack.objects.has(key) ? JSON.parse(value) : value;
    if (!hasType(decl.type, decl.items, content)) {
      problems.push(
        `${shortKey(key)}: ${show(value)} is not of type ${typeName(decl.type, decl.items)}, which Pulumi.yaml declares for it (Pulumi refuses the stack before the program runs)`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
}

/**
 * The project file Pulumi pairs with a stack file: the `Pulumi.yaml` beside it; for stack files
 * kept elsewhere (as with Pulumi's `stackConfigDir`), this program's own.
 */
function projectFileFor(stackFile: string): string {
  const beside = path.join(path.dirname(stackFile), "Pulumi.yaml");
  return fs.existsSync(beside) ? beside : path.resolve(__dirname, "..", "..", "Pulumi.yaml");
}

/**
 * Raw config of `Pulumi.<stack>.yaml` exactly as the engine hands it to the program
 * (`pulumi.runtime.allConfig()`), so that render and `pulumi up` validate the same input:
 * every value a string (a scalar as written, a map or list as JSON), `Pulumi.yaml`'s defaults
 * filled in and its types checked. A secret (`secure:`), which only the engine can decrypt, is
 * ENCRYPTED.
 * @throws StackFileError for a file Pulumi would not read, ConfigError for `Pulumi.yaml` problems
 */
export function readStackFile(file: string): RawConfig {
  const dir = path.dirname(file);
  const stack = stackConfig(
    readYaml(file, () => {
      let stacks: string[] = [];
      try {
        stacks = fs
          .readdirSync(dir)
          .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
          .filter((s): s is string => s !== undefined)
          .sort();
      } catch {
        // no such folder: the message names it
      }
      return `not found in ${path.resolve(dir)}${stacks.length > 0 ? ` (stacks there: ${stacks.join(", ")})` : ""}`;
    }),
  );
  const project = projectFileFor(file);
  applyProject(
    readYaml(project, () => `not found in ${path.resolve(path.dirname(project))}`),
    stack,
  );
  return stack.raw;
}

/** Keys the loader reads in plain text: a secret there is a value render cannot see. */
const PLAIN_KEYS = new Set([
  ...CONFIG_KEYS.map((k) => `${PROJECT}:${k}`),
  "github:owner",
  "github:baseUrl",
]);

/** Loads and validates `Pulumi.<stack>.yaml` in `dir`. @throws StackFileError, ConfigError */
export function loadStackFile(dir: string, stack: string): PlatformConfig {
  const raw = readStackFile(path.join(dir, `Pulumi.${stack}.yaml`));
  const unreadable = Object.keys(raw)
    .filter((k) => raw[k] === ENCRYPTED && PLAIN_KEYS.has(k))
    .sort();
  if (unreadable.length > 0) {
    throw new ConfigError(
      unreadable.map(
        (k) =>
          `${shortKey(k)}: is a secret (\`secure:\`), which render cannot decrypt, and the rendered files depend on it; set it in plain text (\`pulumi config set ${k} <value>\`)`,
      ),
    );
  }
  return loadConfig(raw, stack);
}
