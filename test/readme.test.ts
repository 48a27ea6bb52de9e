/**
 * What README.md and docs/*.md print is true of this checkout: every repo path they name
 * exists, every link and anchor resolves, every `npm run <script>` exists, the offline render
 * and the kustomize builds they print work, the kubectl they ask for is the one the tests
 * need, the config tables list exactly the loader's keys and defaults, and no bench number
 * is copied into them by hand (bench prints its own).
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CONFIG_KEYS, configDefaults, SECRET_KEYS } from "../lib/config";
import { serviceSchema } from "../lib/config/service";
import { APPEAR_WITHIN_MS, TREE_CHUNK_ENTRIES } from "../lib/github/writer";
import { KUBECONFIG_SCRIPT } from "../lib/cluster";
import { RESERVED_ENVIRONMENT_NAMES, RESERVED_SERVICE_NAMES } from "../lib/names";

const ROOT = path.resolve(__dirname, "..");

/**
 * The kubectl the tests need: they build every rendered Kustomization with kubectl's own
 * kustomize, and 1.32 (kustomize v5.5) is the version they are run and kept green with.
 */
const KUBECTL_MIN = { major: 1, minor: 32 };
const KUSTOMIZE_MIN = { major: 5, minor: 5 };

const DOCS = [
  "README.md",
  ...fs
    .readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const text = (file: string): string => fs.readFileSync(path.join(ROOT, file), "utf8");
const README = text("README.md");

interface Parts {
  /** Markdown outside fenced code blocks. */
  prose: string;
  /** Fenced code blocks: their info string and body. */
  blocks: { lang: string; body: string }[];
}

function parts(md: string): Parts {
  const prose: string[] = [];
  const blocks: Parts["blocks"] = [];
  let block: { lang: string; lines: string[] } | undefined;
  for (const line of md.split("\n")) {
    const fence = /^\s*```(.*)$/.exec(line);
    if (fence && !block) block = { lang: fence[1].trim(), lines: [] };
    else if (fence && block) {
      blocks.push({ lang: block.lang, body: block.lines.join("\n") });
      block = undefined;
    } else if (block) block.lines.push(line.replace(/^ {3}/, ""));
    else prose.push(line);
  }
  expect(block, "an unclosed code fence").to.equal(undefined);
  return { prose: prose.join("\n"), blocks };
}

/** Inline code spans of the prose. */
const spans = (prose: string): string[] => [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);

/** GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to '-'. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/`/g, "")
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of parts(md).prose.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Top-level names of this checkout a doc path can start with. */
const ROOT_ENTRIES = new Set(
  fs.readdirSync(ROOT).filter((e) => ![".git", "node_modules", "bin", "rendered"].includes(e)),
);

/** Tokens that name a path of this repository (`lib/names.ts`, `Pulumi.dev.yaml`, `.ci/run`). */
function repoPaths(md: string): string[] {
  const { prose, blocks } = parts(md);
  const tokens = [...spans(prose), ...blocks.map((b) => b.body)].flatMap((t) => t.split(/\s+/));
  const out = new Set<string>();
  for (const raw of tokens) {
    const t = raw.replace(/^[("'[]+/, "").replace(/[,.;:)"'\]]+$/, "");
    if (!/^[A-Za-z0-9_.][A-Za-z0-9_./-]*$/.test(t)) continue;
    if (!ROOT_ENTRIES.has(t.split("/")[0])) continue;
    out.add(t.replace(/\/+$/, ""));
  }
  return [...out];
}

function run(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The cells of a markdown table whose header row is `header`, one array per body row. */
function table(md: string, header: string): string[][] {
  const lines = md.split("\n");
  const start = lines.findIndex((l) => l.trim() === header);
  expect(start, `a table headed ${header}`).to.be.greaterThan(-1);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .slice(1, -1)
        .split(" | ")
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const isScalar = (v: unknown): v is string | number | boolean =>
  ["string", "number", "boolean"].includes(typeof v);

describe("README and docs", () => {
  it("are README.md plus the docs it links, each linked from the README", () => {
    expect(DOCS).to.include.members([
      "docs/design.md",
      "docs/e2e.md",
      "docs/proof.md",
      "docs/writer.md",
    ]);
    for (const doc of DOCS.slice(1)) expect(README, doc).to.contain(`](${doc}`);
  });

  it("keep the README short: well under 400 lines, setup and test commands first", () => {
    const lines = README.split("\n");
    expect(lines.length).to.be.below(400);
    expect(lines.slice(0, 6).join("\n")).to.equal(
      "# flux-platform\n\n```sh\nnpm ci\nnpm test\n```",
    );
    expect(lines.slice(6, 10).join("\n")).to.match(/pulumi up --stack dev[\s\S]*npm run e2e/);
  });

  it("name only repository paths that exist", () => {
    const checked = new Set<string>();
    for (const doc of DOCS) {
      for (const p of repoPaths(text(doc))) {
        checked.add(p);
        expect(fs.existsSync(path.join(ROOT, p)), `${doc} names \`${p}\``).to.equal(true);
      }
    }
    // The extractor really finds paths.
    expect([...checked]).to.include.members([
      "lib/names.ts",
      "e2e/steps/minikube.ts",
      "Pulumi.dev.yaml",
      "Pulumi.prd.yaml",
      "scripts/use-node24.sh",
    ]);
  });

  it("link only to files and headings that exist", () => {
    for (const doc of DOCS) {
      const { prose } = parts(text(doc));
      for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1];
        if (/^[a-z]+:/i.test(target)) continue;
        const [file, anchor] = target.split("#");
        const resolved = file === "" ? doc : path.join(path.dirname(doc), file);
        expect(fs.existsSync(path.join(ROOT, resolved)), `${doc} links ${target}`).to.equal(true);
        if (anchor !== undefined) {
          expect([...anchors(text(resolved))], `${doc} links ${target}`).to.include(anchor);
        }
      }
    }
  });

  it("name only npm scripts that exist", () => {
    const scripts = (JSON.parse(text("package.json")) as { scripts: Record<string, string> })
      .scripts;
    const named = new Set(
      DOCS.flatMap((d) =>
        [...text(d).matchAll(/npm run (?:-\S+ )*([\w:][\w:-]*)/g)].map((m) => m[1]),
      ),
    );
    expect([...named]).to.include.members(["e2e", "e2e:toolchain", "render", "bench", "smoke"]);
    for (const name of named) expect(scripts, `npm run ${name}`).to.have.property(name);
  });

  it("print an offline render and kustomize builds that work as printed", function () {
    this.timeout(60_000);
    const block = parts(README).blocks.find((b) =>
      /^npm run render -- --stack dev --out \S+$/m.test(b.body),
    );
    expect(block, "a code block with `npm run render -- --stack dev --out <dir>`").to.not.equal(
      undefined,
    );
    const lines = block!.body.split("\n").filter((l) => l.trim() !== "");
    const printedOut = /--out (\S+)/.exec(lines[0])![1];
    const builds = lines.slice(1);
    expect(builds.length, "kustomize builds after the render").to.be.greaterThan(0);
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "flux-platform-readme-")), "out");
    try {
      const argv = (line: string) => line.replaceAll(printedOut, out).trim().split(/\s+/);
      const render = run(argv(lines[0]));
      expect(render.status, render.stderr).to.equal(0);
      for (const line of builds) {
        expect(line).to.match(/^kubectl kustomize --load-restrictor LoadRestrictionsNone \S+$/);
        const r = run(argv(line));
        expect(r.status, `${line}\n${r.stderr}`).to.equal(0);
        expect(r.stdout, line).to.match(/^kind: \w+/m);
      }
      const built = builds.map((l) => run(argv(l)).stdout).join("\n");
      expect(built).to.match(/^kind: Deployment$/m);
      expect(built).to.match(/^kind: ConfigMap$/m);
      // Where the README says the substituted values are.
      const app = path.join(out, "cluster/kustomization-app-beetle.yaml");
      expect(README).to.contain("`cluster/kustomization-app-beetle.yaml`");
      expect(fs.readFileSync(app, "utf8")).to.match(/postBuild:\n\s+substitute:/);
    } finally {
      fs.rmSync(path.dirname(out), { recursive: true, force: true });
    }
  });

  it("ask for the kubectl the tests need, and this machine has it", () => {
    const stated = DOCS.flatMap((d) =>
      [...text(d).matchAll(/`?kubectl`?\s*\|?\s*>=\s*(\d+)\.(\d+)/g)].map((m) => `${m[1]}.${m[2]}`),
    );
    expect(stated.length, "a kubectl minimum in the README").to.be.greaterThan(0);
    for (const v of stated) expect(v).to.equal(`${KUBECTL_MIN.major}.${KUBECTL_MIN.minor}`);
    const kustomize = [...README.matchAll(/kustomize \(v(\d+\.\d+)\)/g)].map((m) => m[1]);
    expect(kustomize).to.deep.equal([`${KUSTOMIZE_MIN.major}.${KUSTOMIZE_MIN.minor}`]);

    const r = run(["kubectl", "version", "--client", "-o", "json"]);
    expect(r.status, r.stderr).to.equal(0);
    const v = JSON.parse(r.stdout) as {
      clientVersion: { major: string; minor: string };
      kustomizeVersion: string;
    };
    const at = (major: number, minor: number, min: { major: number; minor: number }) =>
      major > min.major || (major === min.major && minor >= min.minor);
    const client = [parseInt(v.clientVersion.major, 10), parseInt(v.clientVersion.minor, 10)];
    expect(at(client[0], client[1], KUBECTL_MIN), `kubectl ${client.join(".")}`).to.equal(true);
    const k = /^v?(\d+)\.(\d+)/.exec(v.kustomizeVersion)!;
    expect(at(Number(k[1]), Number(k[2]), KUSTOMIZE_MIN), v.kustomizeVersion).to.equal(true);
  });

  it("quote no bench numbers: `npm run bench` prints its own", () => {
    const measured =
      /\b\d[\d,.]*\s*(ms|milliseconds?|s|sec|seconds?|minutes?|requests?|reads?|writes?|commits?)\b/i;
    for (const doc of DOCS) {
      for (const para of parts(text(doc)).prose.split(/\n\s*\n/)) {
        // Table rows are units of their own.
        const units = para.trimStart().startsWith("|") ? para.split("\n") : [para];
        for (const unit of units.filter((u) => /\bbench\b/.test(u))) {
          expect(measured.exec(unit)?.[0], `${doc}: ${unit.slice(0, 80)}...`).to.equal(undefined);
        }
      }
    }
  });

  it("list exactly the loader's keys, with its defaults", () => {
    const rows = table(README, "| Key | Default | Meaning |");
    const key = (cell: string) => cell.replace(/`/g, "");
    const keys = rows.map((r) => key(r[0]));
    const github = ["github:owner", "github:token", "github:baseUrl"];
    expect([...keys].sort()).to.deep.equal([...CONFIG_KEYS, ...SECRET_KEYS, ...github].sort());
    for (const [k, v] of Object.entries(configDefaults())) {
      if (!isScalar(v)) continue;
      const row = rows.find((r) => key(r[0]) === k)!;
      expect(row[1], `default of ${k}`).to.contain(`\`${String(v)}\``);
    }

    const service = table(README, "| `services.<name>.` key | Default | Meaning |");
    const shape = serviceSchema.shape as Record<string, { safeParse(v: unknown): unknown }>;
    expect(service.map((r) => key(r[0]))).to.deep.equal(Object.keys(shape));
    for (const row of service) {
      const r = shape[key(row[0])].safeParse(undefined) as { success: boolean; data?: unknown };
      if (r.success && isScalar(r.data)) {
        expect(row[1], `default of services.<name>.${key(row[0])}`).to.contain(`\`${r.data}\``);
      }
    }
  });

  it("name every reserved service and environment name", () => {
    for (const name of [
      ...Object.keys(RESERVED_SERVICE_NAMES),
      ...Object.keys(RESERVED_ENVIRONMENT_NAMES),
    ]) {
      expect(README).to.contain(`\`${name}\``);
    }
  });

  it("quote the stopped-profile line exactly as the program prints it", () => {
    const echo = KUBECONFIG_SCRIPT.split("\n").find((l) => l.includes("is not running"))!;
    const line = /echo "(.*)" >&2/.exec(echo)![1].replaceAll("$PROFILE", "minikube-dev");
    expect(README.split("\n")).to.include(line);
  });

  it("state the writer's limits and the pinned versions as the code has them", () => {
    const writer = text("docs/writer.md").replace(/\s+/g, " ");
    expect(writer).to.contain(`one tree request per ${TREE_CHUNK_ENTRIES} changed files`);
    expect(writer).to.contain(`for up to ${APPEAR_WITHIN_MS / 1000} s in all`);

    const lock = JSON.parse(text("package-lock.json")) as {
      packages: Record<string, { version: string }>;
    };
    for (const plugin of ["kubernetes", "github", "command"]) {
      const version = lock.packages[`node_modules/@pulumi/${plugin}`].version;
      expect(README, plugin).to.contain(`\`${plugin}\` (${version})`);
    }
    const command = lock.packages["node_modules/@pulumi/command"].version;
    expect(README).to.contain(`pulumi plugin install resource command v${command} --file`);
    expect(text("docs/e2e.md")).to.contain(`pulumi plugin install resource command v${command}`);

    const pins = text("e2e/infra/toolchain/versions.env");
    const cli = /^PULUMI_VERSION=v(\S+)$/m.exec(pins)![1];
    for (const doc of ["README.md", "docs/e2e.md"]) expect(text(doc), doc).to.contain(cli);
  });

  it("writes down the choices a platform team meets: the autoscaling dip and the shared App grant", () => {
    const flat = README.replace(/\s+/g, " ");
    // Chosen over a two-step transition: Flux owning replicas would fight the HPA forever.
    expect(flat).to.contain("drops it to one pod for a moment");
    expect(flat).to.contain("until the HPA's next sync (about 15 s)");
    expect(text("docs/github.md").replace(/\s+/g, " ")).to.match(/never remove|retainOnDelete/);
  });

  it("states what the smaller defects needed: Node 22.12, the Webhooks permission, curl on native Linux", () => {
    const pkg = JSON.parse(text("package.json")) as { engines: { node: string } };
    expect(pkg.engines.node).to.equal(">=22.12");
    expect(text("scripts/use-node24.sh")).to.contain("b >= 12");
    const flat = README.replace(/\s+/g, " ");
    expect(flat).to.match(
      /Webhooks[^|]*\| read and write|\*\*Webhooks\*\*: read and write|Webhooks: read and write/,
    );
    expect(flat).to.contain("curl --resolve");
  });
});
