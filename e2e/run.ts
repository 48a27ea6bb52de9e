/**
 * npm run e2e: the real Pulumi engine and providers run the program against a real
 * Kubernetes API server, Flux controllers and a local GitHub (see docs/e2e.md).
 * Every step is asserted and timed; the run ends with `N passed, M failed` and writes a JSON
 * report next to the toolchain. Everything it starts is stopped before it exits.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findToolchain, missingBinaries, startInfra, type Infra, type Toolchain } from "./infra";
import { stopAll } from "./infra/procs";
import { createStack, type Stack } from "./infra/pulumi";
import { faultSteps, tally } from "./steps/faults";
import { lifecycle } from "./steps/lifecycle";
import { minikubeSteps } from "./steps/minikube";
import { scaleReport, scaleSteps } from "./steps/scale";
import { stackConfig, stackSecrets, type Step } from "./scenario";
import { checks } from "./steps/firstUp";

interface StepResult {
  name: string;
  ok: boolean;
  /** Not run on this machine, and why: counted apart, never as passed. */
  skipped?: string;
  seconds: number;
  detail?: string;
}

const faultRun = process.argv.includes("--faults");
/** `--scale 3,30,100,300` (npm run e2e:scale): the scale run instead (e2e/steps/scale.ts). */
const argAfter = (flag: string) =>
  process.argv.includes(flag) ? process.argv[process.argv.lastIndexOf(flag) + 1] : undefined;
const scaleSizes = argAfter("--scale")
  ?.split(",")
  .map((x) => Number(x.trim()));
const mode = faultRun ? "faults" : scaleSizes ? "scale" : "e2e";
const REPORT = {
  e2e: "e2e-report.json",
  faults: "e2e-faults-report.json",
  scale: "e2e-scale-report.json",
}[mode];

async function main(): Promise<number> {
  const t: Toolchain = findToolchain();
  const missing = missingBinaries(t);
  if (process.argv.includes("--check")) {
    // .ci/run asks whether the toolchain is built before running the e2e.
    console.log(
      missing.length === 0
        ? `e2e: toolchain ready in ${t.dir}`
        : `e2e: toolchain in ${t.dir} lacks ${missing.join(", ")}`,
    );
    return missing.length === 0 ? 0 : 2;
  }
  if (missing.length > 0) {
    console.error(
      `e2e: the toolchain in ${t.dir} lacks ${missing.join(", ")}: run \`npm run e2e:toolchain\` first (one to two hours cold)`,
    );
    return 2;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  // Under the temp dir, not the (often private) cache: the SSH server's user `git` must
  // reach the authorized keys and the bare repositories.
  const runDir = path.join(os.tmpdir(), `flux-platform-e2e-${stamp}`);
  fs.mkdirSync(runDir, { recursive: true, mode: 0o755 });
  console.log(`e2e: run folder ${runDir}`);
  const results: StepResult[] = [];
  let infra: Infra | undefined;
  const stops: (() => Promise<void>)[] = [];
  const started = Date.now();
  const onSignal = async () => {
    while (stops.length > 0) await stops.pop()!().catch(() => undefined);
    await stopAll();
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Whatever goes wrong, nothing the run started may be left running.
  process.on("uncaughtException", (err) => {
    console.error(`e2e: ${err.stack ?? String(err)}`);
    void onSignal();
  });
  try {
    const setup = Date.now();
    infra = await startInfra(t, runDir, stops, scaleSizes ? Math.max(...scaleSizes) : undefined);
    results.push({ name: "infrastructure up", ok: true, seconds: (Date.now() - setup) / 1000 });
    console.log(`ok   infrastructure up (${results[0].seconds.toFixed(1)}s)`);
    const stack: Stack = await createStack(
      t,
      runDir,
      "e2e",
      stackConfig(infra, infra, "e2e"),
      stackSecrets(infra),
      { KUBECONFIG: infra.kubeconfig },
    );
    // `--only <text>[|<text>...]`: the steps whose name contains one of them (to work on one
    // group, e.g. minikube, or `pulumi up (first)|secrets:` for a group that needs the first up).
    const only = process.argv.includes("--only")
      ? process.argv[process.argv.indexOf("--only") + 1].split("|")
      : undefined;
    // `--faults` (npm run e2e:faults): the fault scenario instead (e2e/steps/faults.ts).
    if (scaleSizes && !scaleSizes.every((n) => Number.isInteger(n) && n > 0)) {
      throw new Error(`--scale: ${argAfter("--scale")}: a list of service counts, like 3,30,100`);
    }
    const steps = (
      faultRun
        ? faultSteps(infra, stack)
        : scaleSizes
          ? scaleSteps(infra, stack, scaleSizes, Number(argAfter("--steady") ?? 5))
          : [
              ...checks(infra, stack),
              ...lifecycle(t, infra, stack),
              ...minikubeSteps(t, infra, stops),
            ]
    ).filter((s) => only === undefined || only.some((o) => s.name.includes(o)));
    for (const step of steps) {
      const r = await runStep(step);
      results.push(r);
      if (!r.ok && step.critical) break;
    }
  } catch (err) {
    results.push({ name: "setup", ok: false, seconds: 0, detail: String(err) });
    console.log(`FAIL setup: ${String(err)}`);
  } finally {
    const requests = infra?.standin.requests ?? [];
    while (stops.length > 0) await stops.pop()!().catch(() => undefined);
    await stopAll();
    const skipped = results.filter((r) => r.skipped).length;
    const passed = results.filter((r) => r.ok && !r.skipped).length;
    const failed = results.length - passed - skipped;
    const report = {
      started: new Date(started).toISOString(),
      seconds: (Date.now() - started) / 1000,
      runDir,
      toolchain: t.dir,
      steps: results,
      githubRequests: countRequests(requests),
      ...(faultRun ? { faults: tally } : {}),
      ...(scaleSizes ? { scale: scaleReport } : {}),
      passed,
      failed,
      skipped,
    };
    const json = JSON.stringify(report, null, 2);
    fs.writeFileSync(path.join(runDir, "report.json"), json);
    fs.mkdirSync(path.join(t.root, "e2e-reports"), { recursive: true });
    fs.writeFileSync(path.join(t.root, "e2e-reports", `${stamp}.json`), json);
    fs.writeFileSync(path.join(t.root, REPORT), json);
    console.log(`report: ${path.join(t.root, REPORT)}`);
    if (faultRun) {
      console.log(
        `faults: injected=${tally.injected} survived=${tally.survived} lost=${tally.lost.length}${tally.lost.length ? ` (${tally.lost.join("; ")})` : ""}`,
      );
      console.log(
        `faults by kind: ${Object.entries(tally.byKind)
          .map(([k, n]) => `${k}=${n}`)
          .join(" ")}`,
      );
    }
    console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
    process.exitCode = failed === 0 ? 0 : 1;
  }
  return process.exitCode as number;
}

async function runStep(step: Step): Promise<StepResult> {
  if (step.skip) {
    console.log(`skip ${step.name}: ${step.skip}`);
    return { name: step.name, ok: true, skipped: step.skip, seconds: 0 };
  }
  const t0 = Date.now();
  try {
    const detail = await step.run();
    const seconds = (Date.now() - t0) / 1000;
    console.log(`ok   ${step.name} (${seconds.toFixed(1)}s)${detail ? `: ${detail}` : ""}`);
    return { name: step.name, ok: true, seconds, ...(detail ? { detail } : {}) };
  } catch (err) {
    const seconds = (Date.now() - t0) / 1000;
    const detail = err instanceof Error ? err.message : String(err);
    console.log(`FAIL ${step.name} (${seconds.toFixed(1)}s): ${detail}`);
    return { name: step.name, ok: false, seconds, detail };
  }
}

/** GitHub requests by kind: `METHOD /route/with/{placeholders} status`. */
function countRequests(requests: readonly { method: string; path: string; status: number }[]) {
  const out: Record<string, number> = {};
  for (const q of requests) {
    const route = q.path
      .replace(/^\/repos\/[^/]+\/[^/]+/, "/repos/{o}/{r}")
      .replace(/\/git\/(commits|trees|blobs)\/[0-9a-f]{40}/, "/git/$1/{sha}")
      .replace(/\/keys\/\d+/, "/keys/{id}")
      .replace(/\/orgs\/[^/]+/, "/orgs/{o}")
      .replace(/\/branches\/[^/]+/, "/branches/{b}");
    const key = `${q.method} ${route} ${q.status}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

void main().then((code) => process.exit(code));
