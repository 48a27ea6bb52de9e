/**
 * npm run bench: config load + render, for the dev stack and for a generated stack of 300
 * services with mixed per-service settings (and 600, to show growth). Target on a 2-core machine: 300 services under 3 s,
 * linear growth. Then the GitHub writes of a first `pulumi up` and of a no-op one for 3,
 * 300 and 1000 services, counted by the GitHub stand-in: one commit per repository, none
 * when nothing changed, fewer than 80 content-generating requests (GitHub's per-minute
 * secondary limit) for 1000 services. Exits 1 if a target is missed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { loadConfig, type RawConfig } from "../lib/config";
import { githubClient } from "../lib/github";
import { ownedBy } from "../lib/github";
import { writeFiles } from "../lib/github";
import { readStackFile, renderStack, renderedTree, writtenFiles } from "../lib/render";
import { gitOk } from "../test/github-standin/git";
import { startStandIn } from "../test/github-standin/server";

function generated(n: number): RawConfig {
  const services: Record<string, object> = {};
  for (let i = 0; i < n; i++) {
    services[`svc-${String(i).padStart(4, "0")}`] = {
      image: "ghcr.io/stefanprodan/podinfo",
      tag: "6.15.0",
      port: 9898,
      replicas: 1 + (i % 3),
      // Mixed settings, as a holdout of real services would have them: every fourth service
      // with its own resources, env and HTTP probes, every fifth autoscaled.
      ...(i % 4 === 0
        ? {
            resources: {
              requests: { cpu: `${100 + (i % 400)}m`, memory: "128Mi" },
              limits: { cpu: "1", memory: "256Mi" },
            },
            env: { LOG_LEVEL: "info", WORKERS: 1 + (i % 8) },
            command: ["./podinfo"],
            args: [`--level=info`],
            readinessPath: "/readyz",
            livenessPath: "/healthz",
          }
        : {}),
      ...(i % 5 === 0 ? { autoscaling: { maxReplicas: 4 + (i % 3) } } : {}),
    };
  }
  return { "github:owner": "acme", "flux-platform:services": services };
}

function time(label: string, raw: RawConfig, stack: string, runs = 5): number {
  const samples: number[] = [];
  let files = 0;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    files = renderedTree(renderStack(loadConfig(raw, stack))).size;
    samples.push(performance.now() - start);
  }
  const median = samples.sort((a, b) => a - b)[Math.floor(runs / 2)];
  console.log(
    `${label.padEnd(24)} ${String(files).padStart(5)} files  median ${median.toFixed(1)} ms  (${runs} runs)`,
  );
  return median;
}

function fail(message: string): void {
  console.error(message);
  process.exitCode = 1;
}

/** A first and a no-op write of a generated dev stack's two repositories. */
async function githubWrites(n: number): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "bench-standin-"));
  const standin = await startStandIn({ root, token: "bench" });
  try {
    const r = renderStack(loadConfig(generated(n), "dev"));
    const gh = githubClient({ token: "bench", baseUrl: standin.url }, { minWriteIntervalMs: 0 });
    const repos = [
      { repo: r.config.platformRepo, files: writtenFiles(r.platformFiles, false) },
      { repo: r.config.developerRepo, files: writtenFiles(r.developerFiles, false) },
    ];
    const commits = async () => {
      let total = 0;
      for (const { repo } of repos) {
        const dir = standin.repoDir("acme", repo);
        total += Number((await gitOk(dir, ["rev-list", "--count", "main"])).trim()) - 1;
      }
      return total;
    };
    for (const { repo } of repos) await standin.createRepo("acme", repo);
    const count = async (owned: boolean) => {
      standin.requests.length = 0;
      const before = await commits();
      for (const { repo, files } of repos) {
        const t = { owner: "acme", repo, branch: "main" };
        await writeFiles(gh, t, files, owned ? ownedBy(files) : {}, "flux-platform: dev");
      }
      const writes = standin.requests.filter((q) => q.method !== "GET").length;
      return { commits: (await commits()) - before, writes, requests: standin.requests.length };
    };
    const first = await count(false);
    const noop = await count(true);
    console.log(
      `github-writes services=${n} first-commits=${first.commits} first-writes=${first.writes} first-requests=${first.requests} noop-commits=${noop.commits} noop-requests=${noop.requests}`,
    );
    if (first.commits !== repos.length)
      fail(`services=${n}: first-commits must be ${repos.length}`);
    if (noop.commits !== 0) fail(`services=${n}: noop-commits must be 0`);
    if (first.writes >= 80) fail(`services=${n}: first-writes must stay under 80`);
  } finally {
    await standin.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  time("dev stack", readStackFile(path.resolve(__dirname, "../Pulumi.dev.yaml")), "dev");
  const t300 = time("300 services", generated(300), "dev");
  const t600 = time("600 services", generated(600), "dev");
  console.log(`growth 300 -> 600: x${(t600 / t300).toFixed(2)} (linear is x2)`);
  if (t300 >= 3000) fail(`300 services took ${t300.toFixed(0)} ms: target is under 3000 ms`);
  for (const n of [3, 300, 1000]) await githubWrites(n);
}

void main();
