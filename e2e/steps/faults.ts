/**
 * `npm run e2e:faults` (issue "Faults"): the same stack as `npm run e2e`, run while the
 * GitHub stand-in injects seeded faults (5xx, secondary rate limits, connections dropped
 * before and after the request was carried out, answers past a client's timeout), with
 * `pulumi up` killed half-way and a developer pushing while the stack commits. Each step
 * asserts that the next run converges and that nothing is lost; the run ends with
 * `faults: injected=<n> survived=<n> lost=<n>`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { loadConfig } from "../../lib/config";
import { githubClient } from "../../lib/github";
import { renderStack, writtenFiles } from "../../lib/render";
import type { FaultPlan } from "../../test/github-standin/chaos";
import type { Infra } from "../infra";
import { run, sleep } from "../infra/procs";
import type { Stack } from "../infra/pulumi";
import {
  APP_NAMESPACE,
  developerCommit,
  kustomizationAt,
  kustomizationsReady,
  noNamespaceTerminating,
  pulumiOk,
  SERVICES,
  stackConfig,
  stackSecrets,
  type Step,
  tail,
} from "../scenario";

/** The faults of every faulted run: a share of the stand-in's API requests each. */
export const FAULT_PLAN = {
  seed: 20261202,
  rates: { error: 0.1, secondaryLimit: 0.05, dropBefore: 0.04, dropAfter: 0.04, slow: 0.01 },
  // Past the writer's 30 s deadline per attempt; the GitHub provider has none (it waits).
  slowMs: 35_000,
};

/** What the fault run counts, for its last line. */
export const tally = {
  injected: 0,
  survived: 0,
  lost: [] as string[],
  /** Injected faults by kind, and by kind and call (`dropAfter POST /repos/{o}/{r}/keys`). */
  byKind: {} as Record<string, number>,
  byCall: {} as Record<string, number>,
};

/** Counts the faults of the plan that just ran (the stand-in's log since its last setChaos). */
function count(infra: Infra): number {
  const log = infra.standin.chaos().log;
  for (const f of log) {
    tally.byKind[f.kind] = (tally.byKind[f.kind] ?? 0) + 1;
    const route = f.path
      .replace(/^\/repos\/[^/]+\/[^/]+/, "/repos/{o}/{r}")
      .replace(/\/[0-9a-f]{40}(?=\/|$)/g, "/{sha}")
      .replace(/\/\d+$/, "/{id}");
    const call = `${f.kind} ${f.method} ${route}`;
    tally.byCall[call] = (tally.byCall[call] ?? 0) + 1;
  }
  tally.injected += log.length;
  return log.length;
}

const REPOS = ["flux_platform", "flux_developer"] as const;
const WRITER = "flux-platform";

export function faultSteps(infra: Infra, stack: Stack): Step[] {
  const bare = (repo: string) => infra.standin.repoDir(infra.owner, repo);
  const git = async (repo: string, args: string[]) =>
    (await run("git", ["-C", bare(repo), ...args])).stdout;
  const stackCommits = async (repo: string) =>
    (await git(repo, ["log", "--format=%H %an", "main"]))
      .trim()
      .split("\n")
      .filter((l) => l.endsWith(` ${WRITER}`))
      .map((l) => l.split(" ")[0]);
  const rendered = (extra: Record<string, unknown> = {}) =>
    renderStack(
      loadConfig({ ...stackConfig(infra, infra, "e2e"), ...stackSecrets(infra), ...extra }, "e2e"),
    );
  /** Every path the stack writes into `repo`. */
  const declared = (repo: string, extra?: Record<string, unknown>) => {
    const r = rendered(extra);
    return Object.keys(
      writtenFiles(repo === "flux_platform" ? r.platformFiles : r.developerFiles, false),
    );
  };

  /** Runs `pulumi up` under the fault plan until it exits 0 (at most `attempts` times). */
  const upUnderFaults = async (what: string, attempts = 4) => {
    // A new plan starts a new count (the stand-in resets its log).
    infra.standin.setChaos(FAULT_PLAN);
    const tries: string[] = [];
    try {
      for (let i = 1; i <= attempts; i++) {
        const r = await stack.pulumi(["up", "--yes", "--skip-preview"]);
        if (r.status === 0) {
          tries.push(`exit 0 in ${r.seconds.toFixed(0)}s`);
          return { tries, injected: count(infra) };
        }
        const line = (r.stdout + r.stderr)
          .split("\n")
          .find((l) => /error:/.test(l) && !/update failed/.test(l));
        tries.push(`exit ${r.status}: ${(line ?? tail(r.stderr, 3)).trim().slice(0, 200)}`);
      }
    } finally {
      infra.standin.setChaos(undefined);
    }
    count(infra);
    throw new Error(`${what}: no converge in ${attempts} runs: ${tries.join(" | ")}`);
  };

  /** One `pulumi up` under a targeted plan, which must exit 0; the plan's faults. */
  const upUnder = async (plan: FaultPlan) => {
    infra.standin.setChaos(plan);
    let up;
    try {
      up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
    } finally {
      infra.standin.setChaos(undefined);
    }
    const log = infra.standin.chaos().log;
    const injected = count(infra);
    if (up.status !== 0) throw new Error(`up: ${tail(up.stdout + up.stderr, 8)}`);
    return { up, log, injected };
  };

  /** No stack commit holds a part of what the stack declared: every one has all of it. */
  const wholeTrees = async (paths: Record<string, string[]>, since: Record<string, number>) => {
    const out: string[] = [];
    for (const repo of REPOS) {
      const commits = await stackCommits(repo);
      for (const c of commits.slice(0, commits.length - since[repo])) {
        const tree = new Set((await git(repo, ["ls-tree", "-r", "--name-only", c])).split("\n"));
        const missing = paths[repo].filter((p) => !tree.has(p));
        if (missing.length > 0) {
          tally.lost.push(`${repo}@${c.slice(0, 8)} lacks ${missing.length} files`);
          throw new Error(
            `${repo}: commit ${c.slice(0, 8)} is half-written: lacks ${missing.slice(0, 3).join(", ")}`,
          );
        }
      }
      out.push(`${repo}: ${commits.length - since[repo]} new commit(s), each whole`);
    }
    return out.join(", ");
  };
  const counts = async () =>
    Object.fromEntries(
      await Promise.all(REPOS.map(async (r) => [r, (await stackCommits(r)).length])),
    ) as Record<string, number>;

  /** Changes `flux-platform:services` in the stack's file, as a platform engineer would. */
  const editServices = (edit: (services: Record<string, unknown>) => void) => {
    const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
    const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    edit(doc.config["flux-platform:services"] as Record<string, unknown>);
    fs.writeFileSync(file, stringify(doc));
  };

  /** No secret in clear in the run folder, outside the cluster's and sshd's own data. */
  const noClearSecret = () => {
    const needles: [RegExp | string, string][] = [
      [infra.token, "the GitHub token"],
      ["b3BlbnNzaC1rZXktdjEA", "an OpenSSH private key"],
      [/AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}/, "an age identity"],
    ];
    const found: string[] = [];
    let files = 0;
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          // The cluster's etcd and sshd's host key hold secrets by design; plugins are binaries.
          if (["kwok", "ssh", "plugins", "node_modules"].includes(e.name)) continue;
          walk(p);
        } else if (e.isFile() && fs.statSync(p).size < 20_000_000) {
          files++;
          const text = fs.readFileSync(p, "latin1");
          for (const [n, what] of needles)
            if (typeof n === "string" ? text.includes(n) : n.test(text))
              found.push(`${what} in ${path.relative(infra.runDir, p)}`);
        }
      }
    };
    walk(infra.runDir);
    if (found.length > 0) {
      tally.lost.push(...found);
      throw new Error(found.join("; "));
    }
    return files;
  };

  /** The faults of a step that converged with nothing lost. */
  const afterFaults = (injected: number) => {
    tally.survived += injected;
  };

  /** Every service the stack has by now (the steps add some). */
  const services = () => {
    const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
    const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    return Object.keys(doc.config["flux-platform:services"] as Record<string, unknown>);
  };
  const addService = (name: string) =>
    editServices((s) => {
      s[name] = { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0", port: 9898 };
    });

  /**
   * The documented recovery after a killed `pulumi up`: `pulumi cancel` (the lock it left),
   * `pulumi up`; only if that names pending operations, `pulumi refresh
   * --clear-pending-creates` and `pulumi up` again. Returns what it took.
   */
  const recover = async () => {
    // The kill left only whole files in the state folder (an empty one, such as a truncated
    // fileblob `.attrs` sidecar, fails every later command with "failed to load checkpoint: EOF").
    const state = stack.stateDir!;
    const empty = fs
      .readdirSync(state, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && fs.statSync(path.join(e.parentPath, e.name)).size === 0)
      .map((e) => path.relative(state, path.join(e.parentPath, e.name)));
    if (empty.length > 0) throw new Error(`the kill left empty state files: ${empty.join(", ")}`);
    const took: string[] = [];
    const cancel = await stack.pulumi(["cancel", "--yes"]);
    took.push(`cancel exit ${cancel.status}`);
    let up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
    took.push(`up exit ${up.status}`);
    if (up.status !== 0 && /pending/i.test(up.stdout + up.stderr)) {
      const refresh = await stack.pulumi(["refresh", "--clear-pending-creates", "--yes"]);
      took.push(`refresh --clear-pending-creates exit ${refresh.status}`);
      up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
      took.push(`up exit ${up.status}`);
    }
    if (up.status !== 0) throw new Error(`${took.join(", ")}: ${tail(up.stdout + up.stderr, 8)}`);
    const preview = await pulumiOk(stack, ["preview", "--expect-no-changes"]);
    await kustomizationsReady(infra, services());
    return `${took.join(", ")}; no-op preview in ${preview.toFixed(0)}s; every Kustomization Ready`;
  };

  /** `pulumi up` killed with SIGKILL (with everything it started) once `when` holds. */
  const killedUp = async (
    what: string,
    when: () => Promise<boolean>,
    env: Record<string, string> = {},
  ) => {
    let kill: () => void = () => undefined;
    let killed = false;
    const up = stack.pulumi(["up", "--yes", "--skip-preview"], 20 * 60_000, (k) => (kill = k), env);
    let done = false;
    void up.then(() => (done = true));
    const deadline = Date.now() + 180_000;
    while (!killed && !done && Date.now() < deadline) {
      if (await when()) {
        kill();
        killed = true;
      } else await sleep(100);
    }
    const r = await up;
    if (!killed) throw new Error(`${what}: never reached (up exit ${r.status})`);
  };
  const exists = async (kind: string, name: string) =>
    (await infra.kubectl(["-n", "flux-system", "get", kind, name])).status === 0;

  return [
    {
      name: "faults: a first up under injected GitHub faults converges, every commit whole",
      critical: true,
      run: async () => {
        const { tries, injected } = await upUnderFaults("first up");
        await kustomizationsReady(infra);
        const preview = await pulumiOk(stack, ["preview", "--expect-no-changes"]);
        const whole = await wholeTrees(
          { flux_platform: declared("flux_platform"), flux_developer: declared("flux_developer") },
          { flux_platform: 0, flux_developer: 0 },
        );
        afterFaults(injected);
        return `${injected} faults injected; runs: ${tries.join(" | ")}; Flux Ready; no-op preview in ${preview.toFixed(0)}s; ${whole}`;
      },
    },
    {
      name: "faults: an update under faults keeps a developer's commit pushed during the stack's write",
      run: async () => {
        const before = await counts();
        // A change to both repositories: a new service.
        editServices((services) => {
          services.wasp = { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0", port: 9898 };
        });
        // The developer pushes as soon as the stack has made its commit object and before it
        // moves the branch (its writes are at least a second apart).
        let pushed = "";
        let watching = true;
        const from = infra.standin.requests.length;
        const watcher = (async () => {
          while (watching && !pushed) {
            const seen = infra.standin.requests
              .slice(from)
              .some(
                (q) =>
                  q.method === "POST" &&
                  q.path.endsWith("flux_developer/git/commits") &&
                  q.status === 201,
              );
            if (seen) {
              pushed = await developerCommit(
                bare("flux_developer"),
                infra.runDir,
                "beetle: a note",
                (dir) => {
                  fs.writeFileSync(
                    path.join(dir, "NOTES.md"),
                    "written by a developer during the stack's write\n",
                  );
                  fs.appendFileSync(
                    path.join(dir, "beetle/e2e/config.yaml"),
                    "# the developer's line\n",
                  );
                },
              );
            }
            await sleep(20);
          }
        })();
        let result: Awaited<ReturnType<typeof upUnderFaults>>;
        try {
          result = await upUnderFaults("update");
        } finally {
          watching = false;
          await watcher;
        }
        if (!pushed) throw new Error("the developer's push never raced the stack's write");
        const head = await git("flux_developer", ["log", "--format=%H", "main"]);
        if (!head.includes(pushed)) {
          tally.lost.push("the developer's commit");
          throw new Error("the developer's commit is gone from main");
        }
        const notes = await git("flux_developer", ["show", "main:NOTES.md"]);
        const config = await git("flux_developer", ["show", "main:beetle/e2e/config.yaml"]);
        if (
          !notes.includes("written by a developer") ||
          !config.includes("# the developer's line")
        ) {
          tally.lost.push("the developer's files");
          throw new Error("the developer's files were changed");
        }
        const races = infra.standin.requests
          .slice(from)
          .filter(
            (q) =>
              q.method === "PATCH" &&
              q.path.includes("flux_developer/git/refs") &&
              q.status === 422,
          ).length;
        const after = await counts();
        await kustomizationsReady(infra, [...SERVICES, "wasp"]);
        afterFaults(result.injected);
        return `${result.injected} faults; runs: ${result.tries.join(" | ")}; developer commit ${pushed.slice(0, 8)} kept with its files (${races} ref update(s) refused as not fast-forward, then re-planned); stack commits +${after.flux_platform - before.flux_platform} platform, +${after.flux_developer - before.flux_developer} developer`;
      },
    },
    {
      name: "faults: pulumi up killed (SIGKILL) during the repository write: the next up converges",
      run: async () => {
        // A change of the platform repo's files: beetle gets an env variable.
        editServices((services) => {
          const beetle = services.beetle as { env?: Record<string, string> };
          beetle.env = { ...beetle.env, FAULTS_RUN: "killed-once" };
        });
        const from = infra.standin.requests.length;
        const tree = () =>
          infra.standin.requests
            .slice(from)
            .find((r) => r.method === "POST" && r.path.endsWith("/git/trees"));
        await killedUp("the repository write", async () => tree() !== undefined);
        const recovered = await recover();
        const files = noClearSecret();
        return `killed at ${tree()!.method} ${tree()!.path}; ${recovered}; ${files} files in the run folder, no secret in clear`;
      },
    },
    {
      name: "faults: pulumi up killed during the Kubernetes applies: the documented recovery converges",
      run: async () => {
        addService("hornet");
        await killedUp("the applies", () => exists("kustomization", "config-hornet"));
        return `killed once hornet's config Kustomization existed; ${await recover()}`;
      },
    },
    {
      // docs/performance.md: at hundreds of services the file backend's write of the whole
      // state at each step is most of an up; PULUMI_SKIP_CHECKPOINTS=true writes it once, at
      // the end. What a kill then costs: what the up made is missing from the state.
      name: "faults: pulumi up with PULUMI_SKIP_CHECKPOINTS=true killed during the applies: the next up adopts what it made",
      run: async () => {
        addService("gnat");
        addService("midge");
        const stateFile = stack.stateFile!;
        await killedUp(
          "the applies without checkpoints",
          async () =>
            (await exists("kustomization", "app-gnat")) &&
            (await exists("kustomization", "config-midge")),
          { PULUMI_SKIP_CHECKPOINTS: "true" },
        );
        // The kill left the state as before the up: none of the objects it made are in it.
        const state = fs.readFileSync(stateFile, "utf8");
        const inState = ["app-gnat", "config-midge"].filter((n) =>
          state.includes(`kustomization-${n}"`),
        );
        if (inState.length > 0)
          throw new Error(`in the state after the kill: ${inState.join(", ")}`);
        // Server-side apply makes a create of an object that exists an update (pulumi-kubernetes
        // always PATCHes with apply on create), so the next up takes them over.
        const recovered = await recover();
        // Then a change to an object the killed up made: its field manager (a random name per
        // create) still co-owns the fields the next up's manager now sets.
        editServices((services) => {
          (services.gnat as { replicas?: number }).replicas = 2;
        });
        const up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
        if (up.status !== 0)
          throw new Error(`gnat's replicas 2: ${tail(up.stdout + up.stderr, 12)}`);
        await kustomizationsReady(infra, services());
        return `killed once app-gnat and config-midge existed, neither in the state; ${recovered}; then gnat's replicas changed: up exit 0, Ready`;
      },
    },
    {
      name: "faults: pulumi up killed while it waits for Flux to be Ready: the documented recovery converges",
      run: async () => {
        addService("moth");
        // app-moth is the last object the up applies; then it waits for the services' rollout.
        await killedUp("the wait for Ready", () => exists("kustomization", "app-moth"));
        return `killed once app-moth existed (the up then waits for every service's rollout); ${await recover()}`;
      },
    },
    {
      name: "faults: the control plane stopped and started while Flux reconciles: both recover",
      run: async () => {
        const sha = await developerCommit(
          bare("flux_developer"),
          infra.runDir,
          "beetle: during an outage",
          (dir) =>
            fs.appendFileSync(path.join(dir, "beetle/e2e/config.yaml"), "outage: survived\n"),
        );
        const down = await infra.restartControlPlane!(10_000);
        await kustomizationAt(infra, "config-beetle", sha, "True");
        const cm = await infra.kubectlJson<{ data: Record<string, string> }>([
          "-n",
          APP_NAMESPACE,
          "get",
          "configmap",
          "beetle-config",
        ]);
        if (!cm.data["override.yaml"].includes("outage: survived"))
          throw new Error("the developer's change did not reach beetle-config");
        await kustomizationsReady(infra, services());
        const preview = await pulumiOk(stack, ["preview", "--expect-no-changes"]);
        return `API server back in ${down.toFixed(0)}s; the commit pushed just before reached beetle-config; every Kustomization Ready; no-op preview in ${preview.toFixed(0)}s`;
      },
    },
    {
      name: "faults: the control plane stopped and started while pulumi up waits: the next up converges",
      run: async () => {
        addService("gnat");
        const up = stack.pulumi(["up", "--yes", "--skip-preview"]);
        let done = false;
        void up.then(() => (done = true));
        const deadline = Date.now() + 180_000;
        while (!done && Date.now() < deadline && !(await exists("kustomization", "config-gnat")))
          await sleep(100);
        const down = await infra.restartControlPlane!(10_000);
        const first = await up;
        const again =
          first.status === 0 ? undefined : await stack.pulumi(["up", "--yes", "--skip-preview"]);
        if (again && again.status !== 0)
          throw new Error(`up after the outage: ${tail(again.stdout + again.stderr, 8)}`);
        await kustomizationsReady(infra, services());
        const preview = await pulumiOk(stack, ["preview", "--expect-no-changes"]);
        return `API server down ${down.toFixed(0)}s during the up's wait; that up exit ${first.status}${again ? `, the next exit 0` : ""}; every Kustomization Ready; no-op preview in ${preview.toFixed(0)}s`;
      },
    },
    {
      name: "faults: deploy key and webhook calls whose answers were lost: one up converges, nothing orphaned or registered twice",
      run: async () => {
        const gh = githubClient(
          { token: infra.token, baseUrl: infra.standin.url },
          { minWriteIntervalMs: 0 },
        );
        const list = async (repo: string, what: "keys" | "hooks") =>
          (
            await gh.request(`GET /repos/{owner}/{repo}/${what}`, {
              owner: infra.owner,
              repo,
            })
          ).data as { id: number; key?: string; config?: { url?: string } }[];
        // Someone removed the webhooks by hand: the preview shows it and the up puts them back.
        for (const repo of REPOS)
          for (const h of await list(repo, "hooks"))
            await gh.request("DELETE /repos/{owner}/{repo}/hooks/{hook_id}", {
              owner: infra.owner,
              repo,
              hook_id: h.id,
            });
        const preview = await stack.pulumi(["preview", "--expect-no-changes"]);
        if (preview.status === 0) throw new Error("the preview did not show the removed webhooks");
        const set = await stack.pulumi(["config", "set", "flux-platform:deployKeyGeneration", "2"]);
        if (set.status !== 0) throw new Error(set.stderr);
        // Every create (two new keys, two webhooks) is carried out and its answer lost, and so
        // is the first delete of an old key: then the plan's limit lets requests through.
        const { up, log, injected } = await upUnder({
          seed: 1,
          rates: { dropAfter: 1 },
          methods: ["POST", "DELETE"],
          path: "^/repos/[^/]+/[^/]+/(keys|hooks)(/\\d+)?$",
          limit: 5,
        });
        const lost = log.map(
          (f) => `${f.method} ${f.path.replace(/^\/repos\/[^/]+\//, "")} ${f.carriedOut}`,
        );
        const posts = log.filter((f) => f.method === "POST" && f.carriedOut === 201);
        const deletes = log.filter((f) => f.method === "DELETE" && f.carriedOut === 204);
        if (posts.length !== 4 || deletes.length !== 1)
          throw new Error(`lost answers not as planned: ${lost.join(", ")}`);
        const keys = fs
          .readFileSync(path.join(infra.runDir, "ssh", "authorized_keys"), "utf8")
          .trim()
          .split("\n");
        for (const repo of REPOS) {
          const k = await list(repo, "keys");
          const h = await list(repo, "hooks");
          if (k.length !== 1 || h.length !== 1)
            throw new Error(
              `${repo}: ${k.length} deploy key(s), ${h.length} webhook(s) after the up`,
            );
        }
        if (keys.length !== 2) throw new Error(`${keys.length} deploy keys registered`);
        await kustomizationsReady(infra, services());
        const noop = await pulumiOk(stack, ["preview", "--expect-no-changes"]);
        afterFaults(injected);
        return `${injected} answers lost (${lost.join(", ")}); up exit 0 in ${up.seconds.toFixed(0)}s; each repo 1 deploy key (generation 2) and 1 webhook; every Kustomization Ready; no-op preview in ${noop.toFixed(0)}s`;
      },
    },
    {
      name: "faults: an answer that never comes: the writer's deadline per attempt, then its retry",
      run: async () => {
        addService("wasp");
        // The first read of a branch ref is held past the writer's 30 s deadline.
        const { up, log, injected } = await upUnder({
          seed: 1,
          rates: { slow: 1 },
          slowMs: FAULT_PLAN.slowMs,
          methods: ["GET"],
          path: "/git/ref/",
          limit: 1,
        });
        if (injected !== 1) throw new Error(`${injected} slow answers injected, not 1`);
        // The same read again after the held one: the retry.
        const after = infra.standin.requests.filter((q) => q.path === log[0].path);
        await kustomizationsReady(infra, services());
        afterFaults(injected);
        return `GET ${log[0].path.replace(/^\/repos\/[^/]+\//, "")} held ${FAULT_PLAN.slowMs / 1000}s; up exit 0 in ${up.seconds.toFixed(0)}s (${after.length} reads of that ref); every Kustomization Ready`;
      },
    },
    {
      name: "faults: destroy with a Kustomization stuck, the developer repo unreachable and GitHub faults: within 300 s, no namespace Terminating",
      run: async () => {
        // Stuck: a developer file kustomize cannot build.
        const sha = await developerCommit(
          bare("flux_developer"),
          infra.runDir,
          "sonar: broken",
          (dir) =>
            fs.writeFileSync(
              path.join(dir, "sonar/e2e/kustomization.yaml"),
              "resources: [missing.yaml]\n",
            ),
        );
        await kustomizationAt(infra, "config-sonar", sha, "False");
        // Unreachable: git over SSH (the user git) can no longer read the repository.
        fs.chmodSync(bare("flux_developer"), 0o700);
        try {
          infra.standin.setChaos(FAULT_PLAN);
          const tries: string[] = [];
          let last = "";
          const t0 = Date.now();
          try {
            for (let i = 1; i <= 4; i++) {
              const r = await stack.pulumi(["destroy", "--yes", "--skip-preview"]);
              const line = (r.stdout + r.stderr)
                .split("\n")
                .find((l) => /error:/.test(l) && !/update failed|destroy failed/.test(l));
              last = (line ?? tail(r.stdout + r.stderr, 6)).trim().slice(0, 400);
              tries.push(
                r.status === 0
                  ? `exit 0 in ${r.seconds.toFixed(0)}s`
                  : `exit ${r.status}: ${last.slice(0, 160)}`,
              );
              if (r.status === 0) break;
            }
          } finally {
            infra.standin.setChaos(undefined);
          }
          const seconds = (Date.now() - t0) / 1000;
          const injected = count(infra);
          if (!tries.at(-1)?.startsWith("exit 0"))
            throw new Error(`destroy: ${tries.join(" | ")}; last: ${last}`);
          if (seconds > 300) throw new Error(`destroy took ${seconds.toFixed(0)}s`);
          const ns = await noNamespaceTerminating(infra);
          for (const repo of REPOS)
            if (!fs.existsSync(bare(repo))) {
              tally.lost.push(repo);
              throw new Error(`${repo} is gone`);
            }
          afterFaults(injected);
          return `${injected} faults; runs: ${tries.join(" | ")} (${seconds.toFixed(0)}s in all); ${ns}; both repositories kept`;
        } finally {
          fs.chmodSync(bare("flux_developer"), 0o755);
        }
      },
    },
  ];
}
