/**
 * `npm run render`: it writes only where it may, reads a stack file as Pulumi does (secrets,
 * merge keys, every value as the engine hands it over) and says what is wrong in one line.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError } from "../lib/config";
import { loadStackFile, OutDirError, readStackFile, RENDER_MARKER, writeTree } from "../lib/render";

const ROOT = path.resolve(__dirname, "..");
const TSX = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");
const CLI = path.join(ROOT, "scripts/render.ts");

const made: string[] = [];
const tmp = (prefix: string): string => {
  made.push(fs.mkdtempSync(path.join(os.tmpdir(), `flux-platform-render-${prefix}-`)));
  return made[made.length - 1];
};
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the script as `npm run render` does; async, so that the cases run side by side. */
const render = (...args: string[]): Promise<Run> =>
  new Promise((resolve) => {
    execFile(process.execPath, [TSX, CLI, ...args], { encoding: "utf8" }, (err, stdout, stderr) =>
      resolve({ status: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });

/** A project folder holding `Pulumi.<stack>.yaml` files with these texts. */
function project(stacks: Record<string, string>): string {
  const dir = tmp("project");
  for (const [stack, text] of Object.entries(stacks)) {
    fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), text);
  }
  return dir;
}

/** Every file under `dir`, by relative path. */
function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const file = path.join(e.parentPath, e.name);
      out.set(path.relative(dir, file), fs.readFileSync(file, "utf8"));
    }
  }
  return out;
}

const SERVICES = `  flux-platform:services:
    beetle:
      image: ghcr.io/stefanprodan/podinfo
      tag: 6.15.0
      port: 9898
`;

/** One line on stderr, exit 1, no stack trace. */
function expectOneLine(r: Run, ...parts: string[]): void {
  expect(r.status, r.stderr).to.equal(1);
  expect(r.stderr).to.not.match(/^\s+at /m);
  expect(r.stderr.trimEnd().split("\n"), r.stderr).to.have.length(1);
  for (const p of parts) expect(r.stderr).to.contain(p);
}

describe("npm run render: where it writes", () => {
  it("refuses a non-empty folder it did not write, and deletes nothing in it", async () => {
    const out = tmp("foreign");
    fs.writeFileSync(path.join(out, "sentinel.txt"), "keep me\n");
    fs.mkdirSync(path.join(out, "cluster"));
    fs.writeFileSync(path.join(out, "cluster/mine.yaml"), "a: 1\n");
    expect(() => writeTree(out, new Map([["cluster/x.yaml", "x\n"]]))).to.throw(
      OutDirError,
      /is not empty and was not written by render.*pass a new or empty folder/,
    );
    const r = await render("--stack", "dev", "--out", out);
    expectOneLine(r, out, "pass a new or empty folder");
    expect(readTree(out)).to.deep.equal(
      new Map([
        ["sentinel.txt", "keep me\n"],
        [path.join("cluster", "mine.yaml"), "a: 1\n"],
      ]),
    );
  });

  it("refuses --out that is a file", () => {
    const file = path.join(tmp("file"), "out.txt");
    fs.writeFileSync(file, "keep me\n");
    expect(() => writeTree(file, new Map([["a.yaml", "a\n"]]))).to.throw(OutDirError, /is a file/);
    expect(fs.readFileSync(file, "utf8")).to.equal("keep me\n");
  });

  it("in a folder it wrote, replaces its files, deletes those that left the render, keeps others", () => {
    const out = path.join(tmp("marked"), "out");
    writeTree(
      out,
      new Map([
        ["a.yaml", "a1\n"],
        ["gone/b.yaml", "b\n"],
        ["keep/c.yaml", "c\n"],
      ]),
    );
    fs.writeFileSync(path.join(out, "notes.txt"), "mine\n");
    fs.writeFileSync(path.join(out, "keep/local.txt"), "mine too\n");
    writeTree(
      out,
      new Map([
        ["a.yaml", "a2\n"],
        ["new/d.yaml", "d\n"],
      ]),
    );
    expect(readTree(out)).to.deep.equal(
      new Map([
        [RENDER_MARKER, fs.readFileSync(path.join(out, RENDER_MARKER), "utf8")],
        ["a.yaml", "a2\n"],
        [path.join("new", "d.yaml"), "d\n"],
        ["notes.txt", "mine\n"],
        [path.join("keep", "local.txt"), "mine too\n"],
      ]),
    );
    // Only the render's own files are listed; the emptied folder went with its file.
    const listed = fs
      .readFileSync(path.join(out, RENDER_MARKER), "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(listed).to.deep.equal(["a.yaml", "new/d.yaml"]);
    expect(fs.existsSync(path.join(out, "gone"))).to.equal(false);
  });

  it("in a folder it wrote, refuses to overwrite a file it did not write, before writing anything", () => {
    const out = tmp("clash");
    writeTree(out, new Map([["a.yaml", "a1\n"]]));
    fs.writeFileSync(path.join(out, "b.yaml"), "mine\n");
    expect(() =>
      writeTree(
        out,
        new Map([
          ["a.yaml", "a2\n"],
          ["b.yaml", "b\n"],
        ]),
      ),
    ).to.throw(OutDirError, /b\.yaml is there and was not written by render/);
    expect(fs.readFileSync(path.join(out, "a.yaml"), "utf8")).to.equal("a1\n");
    expect(fs.readFileSync(path.join(out, "b.yaml"), "utf8")).to.equal("mine\n");
  });

  it("does not follow a marker that lists a path outside the folder", () => {
    const parent = tmp("escape");
    fs.writeFileSync(path.join(parent, "victim.txt"), "keep me\n");
    const out = path.join(parent, "out");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, RENDER_MARKER), "../victim.txt\n");
    expect(() => writeTree(out, new Map([["a.yaml", "a\n"]]))).to.throw(OutDirError, /victim/);
    expect(fs.readFileSync(path.join(parent, "victim.txt"), "utf8")).to.equal("keep me\n");
  });
});

describe("npm run render: the stack file, as Pulumi reads it", function () {
  this.timeout(60_000);
  const runs = new Map<string, Run>();
  const outs = new Map<string, string>();
  const dir = project({
    status: `config:
  github:owner: acme
  flux-platform:commitStatus: true
  flux-platform:commitStatusToken:
    secure: v1:c2VjcmV0:AAABAJxAQHc2t3Nhp9CUkuhmpcCtUfI2ORE0dQ==
${SERVICES}`,
    app: `config:
  github:owner: acme
  flux-platform:gitAuth: githubApp
  flux-platform:githubApp: {appId: 123, installationId: 456}
  flux-platform:githubAppPrivateKey:
    secure: v1:c2VjcmV0:AAABAKVsLS0tQkVHSU4gUlNBIFBSSVZBVEUgS0VZLS0tLS0=
${SERVICES}`,
    merged: `config:
  github:owner: acme
  # The stack name would be the environment: the same for both.
  flux-platform:environment: dev
  flux-platform:services:
    beetle: &podinfo
      image: ghcr.io/stefanprodan/podinfo
      tag: 6.15.0
      port: 9898
    sonar:
      <<: *podinfo
      replicas: 2
`,
    expanded: `config:
  github:owner: acme
  flux-platform:environment: dev
  flux-platform:services:
    beetle:
      image: ghcr.io/stefanprodan/podinfo
      tag: 6.15.0
      port: 9898
    sonar:
      image: ghcr.io/stefanprodan/podinfo
      tag: 6.15.0
      port: 9898
      replicas: 2
`,
    syntax: `config:\n  github:owner: [acme\n${SERVICES}`,
    duplicate: `config:\n  github:owner: acme\n  github:owner: other\n${SERVICES}`,
  });

  before(async () => {
    const cases: Record<string, string[]> = {
      status: ["--stack", "status"],
      app: ["--stack", "app"],
      merged: ["--stack", "merged"],
      expanded: ["--stack", "expanded"],
      syntax: ["--stack", "syntax"],
      duplicate: ["--stack", "duplicate"],
      missing: ["--stack", "nosuch"],
    };
    await Promise.all([
      ...Object.entries(cases).map(async ([name, args]) => {
        const out = path.join(tmp(name), "out");
        outs.set(name, out);
        runs.set(name, await render(...args, "--project-dir", dir, "--out", out));
      }),
      render("--stack", "dev", "--outt", tmp("flag")).then((r) => runs.set("flag", r)),
    ]);
  });

  it("counts a `secure:` commitStatusToken as set: commitStatus true renders", () => {
    const r = runs.get("status")!;
    expect(r.status, r.stderr).to.equal(0);
    expect(readTree(outs.get("status")!).size).to.be.greaterThan(30);
  });

  it("counts a `secure:` githubAppPrivateKey as set: gitAuth githubApp renders", () => {
    const r = runs.get("app")!;
    expect(r.status, r.stderr).to.equal(0);
    expect(readTree(outs.get("app")!).size).to.be.greaterThan(30);
  });

  it("resolves `<<` merge keys: renders the same as the expanded stack", () => {
    expect(runs.get("merged")!.status, runs.get("merged")!.stderr).to.equal(0);
    expect(runs.get("expanded")!.status, runs.get("expanded")!.stderr).to.equal(0);
    const merged = readTree(outs.get("merged")!);
    expect([...merged.keys()].some((f) => f.includes("sonar"))).to.equal(true);
    expect(merged).to.deep.equal(readTree(outs.get("expanded")!));
  });

  it("a YAML syntax error: one line with file, line and column", () => {
    expectOneLine(runs.get("syntax")!, "Pulumi.syntax.yaml:");
    expect(runs.get("syntax")!.stderr).to.match(/^Pulumi\.syntax\.yaml:\d+:\d+: /);
  });

  it("a duplicate key: one line with file, line and column", () => {
    expectOneLine(
      runs.get("duplicate")!,
      "Pulumi.duplicate.yaml:3:3: duplicate key `github:owner`",
    );
  });

  it("a missing stack file: one line naming it and the folder", () => {
    expectOneLine(runs.get("missing")!, `Pulumi.nosuch.yaml: not found in ${dir}`);
  });

  it("an unknown flag: one line", () => {
    expectOneLine(runs.get("flag")!, "--outt");
  });

  it("hands the loader every value as the engine does: a string, a scalar as written", () => {
    const stacks = project({
      text: `config:
  github:owner: acme
  flux-platform:environment: dev
  # The engine hands over \`2024\` and \`1.10\` as written: valid repository names.
  flux-platform:platformRepo: 2024
  flux-platform:developerRepo: 1.10
  flux-platform:adoptRepos: "true"
  flux-platform:deployKeyGeneration: '2'
${SERVICES}`,
      // \`True\` is YAML's true, but Pulumi hands over the text, which is no JSON boolean.
      capital: `config:\n  github:owner: acme\n  flux-platform:adoptRepos: True\n${SERVICES}`,
    });
    const raw = readStackFile(path.join(stacks, "Pulumi.text.yaml"));
    expect(Object.values(raw).every((v) => typeof v === "string")).to.equal(true);
    expect(raw["flux-platform:services"]).to.equal(
      '{"beetle":{"image":"ghcr.io/stefanprodan/podinfo","port":9898,"tag":"6.15.0"}}',
    );
    // Pulumi.yaml's defaults, filled in as the engine fills them in.
    expect(raw["flux-platform:syncInterval"]).to.equal("1m");
    expect(loadStackFile(stacks, "text")).to.deep.include({
      platformRepo: "2024",
      developerRepo: "1.10",
      adoptRepos: true,
      deployKeyGeneration: 2,
    });
    expect(() => loadStackFile(stacks, "capital"))
      .to.throw(ConfigError)
      .with.property("problems")
      .that.deep.equals([
        "adoptRepos: `True` is not of type boolean, which Pulumi.yaml declares for it (Pulumi refuses the stack before the program runs)",
      ]);
  });

  it("refuses what Pulumi.yaml's declared types refuse: a list given as a quoted string", () => {
    const stacks = project({
      typed: `config:\n  github:owner: acme\n  flux-platform:fluxComponents: '["source-controller", "kustomize-controller", "helm-controller"]'\n${SERVICES}`,
    });
    expect(() => loadStackFile(stacks, "typed"))
      .to.throw(ConfigError)
      .with.property("problems")
      .that.deep.equals([
        'fluxComponents: `["source-controller", "kustomize-controller", "helm-controller"]` is not of type array<string>, which Pulumi.yaml declares for it (Pulumi refuses the stack before the program runs)',
      ]);
  });
});
