/**
 * The developer's pull request check, end to end (issue "A developer's change is checked on
 * their pull request"): for each kind of developer commit, the check script the stack wrote
 * into the developer repo runs on the commit in a clone (as the workflow's job would, with the
 * real flux CLI from the toolchain), then the commit is pushed and the real kustomize-controller
 * reconciles it. Each step asserts that the check's verdict is the cluster's: passes where
 * config-tiger becomes Ready at the commit, refuses where it becomes not Ready, and says the
 * same thing. One case is stricter by design: a config.yaml that is not YAML, which the
 * cluster applies as text.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { checksDir, SECRETS_TEMPLATE, secretsPath } from "../../lib/developerRepo";
import type { Infra, Toolchain } from "../infra";
import { waitFor } from "../infra/procs";
import { REPO_ROOT } from "../infra";
import { developerCommit, type Obj, type Step } from "../scenario";

const SERVICE = "tiger";
const ENV = "e2e";
const FOLDER = `${SERVICE}/${ENV}`;
const KUSTOMIZATION = `config-${SERVICE}`;

interface Verdict {
  ok: boolean;
  /** The check's output: one `::error` line per problem, then its verdict line. */
  output: string;
  seconds: number;
}

interface Case {
  name: string;
  /** Changes the clone's folder (which starts as the stack scaffolded it). */
  edit: (dir: string) => void | Promise<void>;
  /** What both sides must say: a pattern in the check's problems and in Flux's message. */
  check: RegExp;
  cluster: RegExp;
  /** The cluster's verdict when it differs from the check's by design. */
  clusterReady?: boolean;
}

export function developerCheckSteps(t: Toolchain, infra: Infra): Step[] {
  const bare = infra.standin.repoDir(infra.owner, "flux_developer");
  const sops = path.join(t.bin, "sops");
  let original: Record<string, string> | undefined;
  const timings: number[] = [];

  /** The folder as the stack scaffolded it, read once from main before the first case. */
  const restore = (dir: string) => {
    const folder = path.join(dir, FOLDER);
    if (original === undefined) {
      original = {};
      for (const f of fs.readdirSync(folder, { recursive: true, withFileTypes: true }))
        if (f.isFile()) {
          const p = path.join(f.parentPath, f.name);
          original[path.relative(folder, p)] = fs.readFileSync(p, "utf8");
        }
    }
    fs.rmSync(folder, { recursive: true, force: true });
    for (const [f, text] of Object.entries(original)) {
      fs.mkdirSync(path.dirname(path.join(folder, f)), { recursive: true });
      fs.writeFileSync(path.join(folder, f), text);
    }
  };

  /** The workflow job's command in the clone: `node .flux-platform/checks/<env>/check.mjs folder`. */
  const runCheck = (dir: string): Verdict => {
    // The workflow installs `yaml` into the checkout's node_modules; here, the project's.
    const modules = path.join(dir, "node_modules");
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), modules);
    const t0 = Date.now();
    try {
      const r = spawnSync(
        process.execPath,
        [path.join(checksDir(ENV), "check.mjs"), "folder", FOLDER],
        {
          cwd: dir,
          encoding: "utf8",
          env: { ...process.env, PATH: `${t.bin}:${process.env.PATH}`, GITHUB_STEP_SUMMARY: "" },
        },
      );
      if (r.status !== 0 && r.status !== 1)
        throw new Error(`check.mjs exited ${r.status}: ${r.stderr}${r.stdout}`);
      const seconds = (Date.now() - t0) / 1000;
      timings.push(seconds);
      return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`, seconds };
    } finally {
      fs.rmSync(modules);
    }
  };

  /** config-tiger's Ready condition once it has tried `sha` and decided. */
  const clusterVerdict = (sha: string) =>
    waitFor(
      `${KUSTOMIZATION} decided on ${sha.slice(0, 8)}`,
      async () => {
        const k = await infra.kubectlJson<Obj & { status?: { lastAttemptedRevision?: string } }>([
          "-n",
          "flux-system",
          "get",
          "kustomization",
          KUSTOMIZATION,
        ]);
        const r = k.status?.conditions?.find((c) => c.type === "Ready");
        return k.status?.lastAttemptedRevision?.endsWith(sha) &&
          (r?.status === "True" || r?.status === "False")
          ? r
          : undefined;
      },
      180_000,
      2000,
    );

  /** Commits the case on main after the check ran on it; the cluster's verdict on that commit. */
  const judge = async (message: string, edit: (dir: string) => void | Promise<void>) => {
    let verdict: Verdict | undefined;
    const sha = await developerCommit(bare, infra.runDir, message, async (dir) => {
      restore(dir);
      await edit(dir);
      verdict = runCheck(dir);
    });
    const ready = await clusterVerdict(sha);
    return { sha, verdict: verdict!, ready };
  };

  const encryptedFor = (dir: string, recipient?: string) => {
    fs.cpSync(path.join(dir, SECRETS_TEMPLATE), path.join(dir, FOLDER, "secrets"), {
      recursive: true,
    });
    const file = secretsPath(SERVICE, ENV);
    fs.writeFileSync(
      path.join(dir, file),
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${SERVICE}-secrets\nstringData:\n  API_KEY: e2e-check-value\n`,
    );
    if (recipient === undefined) return;
    const r = spawnSync(
      sops,
      [
        "--encrypt",
        "--age",
        recipient,
        "--encrypted-regex",
        "^(data|stringData)$",
        "--mac-only-encrypted",
        "--in-place",
        file,
      ],
      { cwd: dir, encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`sops: ${r.stderr}`);
  };

  const cases: Case[] = [
    {
      name: "a good change",
      edit: (dir) => fs.appendFileSync(path.join(dir, FOLDER, "config.yaml"), "logLevel: debug\n"),
      check: /: ok, e2e's cluster would apply it/,
      cluster: /Applied revision/,
    },
    {
      name: "a variable the platform does not fill in",
      edit: (dir) =>
        fs.appendFileSync(path.join(dir, FOLDER, "config.yaml"), "database: ${DB_HOST}\n"),
      check: /`\$\{DB_HOST\}` is not filled in/,
      cluster: /variable not set \(strict mode\): "DB_HOST"/,
    },
    {
      name: "another team's ConfigMap",
      edit: (dir) => {
        fs.writeFileSync(
          path.join(dir, FOLDER, "extra.yaml"),
          "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sonar-config\ndata:\n  override.yaml: |\n    taken: over\n",
        );
        const k = path.join(dir, FOLDER, "kustomization.yaml");
        fs.writeFileSync(k, `${fs.readFileSync(k, "utf8")}resources:\n  - extra.yaml\n`);
      },
      check: /makes a ConfigMap named `sonar-config`/,
      cluster: /sonar-config/,
    },
    {
      name: "a ConfigMap over 1 MiB",
      edit: (dir) =>
        fs.appendFileSync(
          path.join(dir, FOLDER, "config.yaml"),
          `notes: "${"x".repeat(1024 * 1024 + 100)}"\n`,
        ),
      check: /holds \d+ bytes; Kubernetes takes at most 1048576/,
      cluster: /Too long|at most 1048576|too large|exceeds/i,
    },
    {
      name: "a secrets file in clear text",
      edit: (dir) => encryptedFor(dir),
      check: /secrets\/secrets\.yaml is not encrypted/,
      cluster: /sops\.mac. is missing/,
    },
    {
      name: "a secrets file encrypted to another environment's key",
      edit: async (dir) => {
        const age = (await import("age-encryption")) as typeof import("age-encryption");
        const other = await age.identityToRecipient(await age.generateX25519Identity());
        encryptedFor(dir, other);
      },
      check: /is encrypted to age1\w+, not to e2e's key/,
      cluster: /decrypt|no identity matched|data key/i,
    },
    {
      name: "a config.yaml that is not YAML (the check is stricter: the cluster applies text)",
      edit: (dir) =>
        fs.appendFileSync(path.join(dir, FOLDER, "config.yaml"), "featureFlags: [on, off\n"),
      check: /config\.yaml is not valid YAML/,
      cluster: /Applied revision/,
      clusterReady: true,
    },
  ];

  const steps: Step[] = cases.map((c) => ({
    name: `developer check: ${c.name}: the check's verdict is the cluster's`,
    run: async () => {
      const { sha, verdict, ready } = await judge(`${SERVICE}: ${c.name}`, c.edit);
      const clusterOk = ready.status === "True";
      const expectedCluster = c.clusterReady ?? verdict.ok;
      const problems = verdict.output
        .split("\n")
        .filter((l) => l.startsWith("::error"))
        .map((l) => l.replace(/^::error[^:]*::/, ""));
      const said = problems.join(" | ") || verdict.output.trim().split("\n").at(-1)!;
      if (!c.check.test(verdict.output))
        throw new Error(`the check said: ${verdict.output.trim()}`);
      if (clusterOk !== expectedCluster)
        throw new Error(
          `the check ${verdict.ok ? "passed" : "refused"} ${sha.slice(0, 8)}, the cluster: Ready=${ready.status} (${ready.reason}: ${ready.message})`,
        );
      if (!c.cluster.test(ready.message ?? ""))
        throw new Error(`the cluster's message is not the expected one: ${ready.message}`);
      if (verdict.output.includes("e2e-check-value"))
        throw new Error("the check printed a secret's value");
      const msg = (ready.message ?? "").replace(/\s+/g, " ").slice(0, 160);
      return `check ${verdict.ok ? "passes" : "refuses"} in ${verdict.seconds.toFixed(1)}s (${said.slice(0, 200)}); ${KUSTOMIZATION} at ${sha.slice(0, 8)}: Ready=${ready.status} ${ready.reason} (${msg})`;
    },
  }));

  steps.push({
    name: "developer check: the folder back as scaffolded; the check's time per folder",
    run: async () => {
      const { verdict, ready } = await judge(`${SERVICE}: back to the scaffold`, () => undefined);
      if (!verdict.ok || ready.status !== "True")
        throw new Error(`check ok=${verdict.ok}, cluster Ready=${ready.status}: ${ready.message}`);
      const sorted = [...timings].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      return `${timings.length} checks: median ${median.toFixed(1)}s, max ${sorted.at(-1)!.toFixed(1)}s per folder (flux build + the rules, this machine)`;
    },
  });
  return steps;
}
