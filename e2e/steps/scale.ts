/**
 * `npm run e2e:scale` (issue "A platform up that stays fast and honest at a hundred services
 * and more"): one environment grown through the sizes given (`--scale 3,30,100,300`, the
 * default), on the same infrastructure as `npm run e2e`. For each size one line:
 *
 *   scale services=N resources=R up_s= flux_ready_s= noop_preview_s= github_requests=
 *
 * `up_s` is the `pulumi up` that grows the stack to N services (the first size: a first up),
 * `flux_ready_s` the time after it until every Kustomization is Ready at once, and
 * `github_requests` the stand-in's API requests from the up's start to the preview's end.
 * Each up runs with `--event-log`, read for its phases (until the rollout wait began, the wait),
 * and the CPU seconds of each process during it are reported.
 * Then the growth ratio per step (each figure's ratio over the services' ratio: 1 is linear),
 * the steady platform at the largest size (`--steady <min>` idle, then one round of every
 * Kustomization reconciled unchanged: GitHub requests per hour at reconcileInterval 1h, by
 * kind), and the destroy.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import type { Infra } from "../infra";
import { cpuSampler, sleep, waitFor } from "../infra/procs";
import type { Stack } from "../infra/pulumi";
import { pulumiOk, ready, tail, type Obj, type Step } from "../scenario";

export interface ScaleLine {
  services: number;
  resources: number;
  up_s: number;
  /** Of the up: until the rollout wait began (every service's objects created). */
  create_s?: number;
  /** Of the up: the rollout wait, until every service was reconciled. */
  rollout_s?: number;
  /** CPU seconds by process during the up (2 cores: at most 2 x up_s in all). */
  up_cpu_s?: Record<string, number>;
  flux_ready_s: number;
  noop_preview_s: number;
  github_requests: number;
  /**
   * The stack's state file after the up, in KiB: the DIY backend writes all of it at each of
   * the up's checkpoints (two per created resource), so its size is the up's cost per step.
   */
  state_kib?: number;
  /**
   * `end`: the run had `PULUMI_SKIP_CHECKPOINTS=true` (passed through to every pulumi
   * command): the engine writes the state once, at the end of a command, not at each step.
   * An experiment, to measure what the per-step writes cost; the default is `each step`.
   */
  checkpoints?: "each step" | "end";

  destroy_s?: number;
}

/** What the scale run measured, for the report. */
export const scaleReport = {
  lines: [] as ScaleLine[],
  growth: [] as string[],
  steady: undefined as
    | {
        services: number;
        idleMinutes: number;
        idle: Record<string, number>;
        round: { kustomizations: number; seconds: number; requests: Record<string, number> };
        perHourAtReconcileInterval1h: number;
      }
    | undefined,
};

/** `svc-001` ... : generated services, all podinfo, one replica. */
export const serviceName = (i: number) => `svc-${String(i).padStart(3, "0")}`;

/** Requests by kind: `METHOD /route` with ids and SHAs folded. */
function kind(q: { method: string; path: string }): string {
  return `${q.method} ${q.path
    .replace(/^\/repos\/[^/]+\/[^/]+/, "/repos/{o}/{r}")
    .replace(/\/[0-9a-f]{40}(?=\/|$)/g, "/{sha}")
    .replace(/\/\d+(?=\/|$)/g, "/{id}")
    .replace(/\/git\/ref\/.*/, "/git/ref/{ref}")}`;
}

/**
 * The up's two phases, from Pulumi's event log (`--event-log`, one JSON event per line,
 * whole-second timestamps): from its first event until the RolloutWait step began (every
 * service's objects are then created), and the RolloutWait step itself.
 */
export function upPhases(eventLog: string): { create_s?: number; rollout_s?: number } {
  let first: number | undefined;
  let waitFrom: number | undefined;
  let waitTo: number | undefined;
  for (const line of eventLog.split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as {
      timestamp: number;
      resourcePreEvent?: { metadata: { type: string } };
      resOutputsEvent?: { metadata: { type: string } };
    };
    first ??= e.timestamp;
    if (e.resourcePreEvent?.metadata.type.endsWith(":RolloutWait")) waitFrom = e.timestamp;
    if (e.resOutputsEvent?.metadata.type.endsWith(":RolloutWait")) waitTo = e.timestamp;
  }
  return {
    create_s: first !== undefined && waitFrom !== undefined ? waitFrom - first : undefined,
    rollout_s: waitFrom !== undefined && waitTo !== undefined ? waitTo - waitFrom : undefined,
  };
}

export function scaleSteps(
  infra: Infra,
  stack: Stack,
  sizes: readonly number[],
  steadyMinutes: number,
): Step[] {
  const file = path.join(stack.dir, `Pulumi.${stack.name}.yaml`);
  const setServices = (n: number) => {
    const doc = parse(fs.readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    doc.config["flux-platform:services"] = Object.fromEntries(
      Array.from({ length: n }, (_, i) => [
        serviceName(i + 1),
        { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0", port: 9898, replicas: 1 },
      ]),
    );
    fs.writeFileSync(file, stringify(doc));
  };
  const kustomizations = async () =>
    (await infra.kubectlJson<{ items: Obj[] }>(["-n", "flux-system", "get", "kustomizations"]))
      .items;
  const resources = async () => {
    const r = await stack.pulumi(["stack", "export"]);
    if (r.status !== 0) throw new Error(`stack export: ${r.stderr}`);
    return (
      (JSON.parse(r.stdout) as { deployment: { resources?: unknown[] } }).deployment.resources ?? []
    ).length;
  };
  const stateFile = stack.stateFile!;

  const steps: Step[] = sizes.map((n) => ({
    name: `scale: ${n} services`,
    critical: true,
    run: async () => {
      setServices(n);
      const from = infra.standin.requests.length;
      const events = path.join(stack.dir, `events-${n}.jsonl`);
      const cpu = cpuSampler();
      const up = await stack.pulumi(
        ["up", "--yes", "--skip-preview", "--event-log", events],
        60 * 60_000,
      );
      const upCpu = cpu.stop();
      if (up.status !== 0) throw new Error(`up exited ${up.status}: ${tail(up.stdout, 12)}`);
      const phases = upPhases(fs.readFileSync(events, "utf8"));
      const upDone = Date.now();
      const expected = 2 * n;
      await waitFor(
        `all ${expected} Kustomizations Ready at once`,
        async () => {
          const ks = await kustomizations();
          return ks.length === expected && ks.every(ready) ? true : undefined;
        },
        60 * 60_000,
        1000,
      );
      const fluxReady = (Date.now() - upDone) / 1000;
      const preview = await pulumiOk(stack, ["preview", "--expect-no-changes"]);
      const line: ScaleLine = {
        services: n,
        resources: await resources(),
        up_s: Math.round(up.seconds * 10) / 10,
        ...phases,
        up_cpu_s: upCpu,
        flux_ready_s: Math.round(fluxReady * 10) / 10,
        noop_preview_s: Math.round(preview * 10) / 10,
        github_requests: infra.standin.requests.length - from,
        state_kib: Math.round(fs.statSync(stateFile).size / 1024),
        checkpoints: /^(1|true)$/i.test(process.env.PULUMI_SKIP_CHECKPOINTS ?? "")
          ? "end"
          : "each step",
      };
      // Kept in the run folder, to read where the state's bytes go (docs/performance.md).
      fs.copyFileSync(stateFile, path.join(stack.dir, `state-${n}.json`));
      scaleReport.lines.push(line);
      const prev = scaleReport.lines.at(-2);
      let growth = "";
      if (prev) {
        const x = n / prev.services;
        const r = (a: number, b: number) => (b > 0 ? (a / b / x).toFixed(2) : "-");
        growth = `growth services x${x.toFixed(1)}: up ${r(line.up_s, prev.up_s)}, flux_ready ${r(line.flux_ready_s, prev.flux_ready_s)}, noop_preview ${r(line.noop_preview_s, prev.noop_preview_s)}, resources ${r(line.resources, prev.resources)} (1 = linear)`;
        scaleReport.growth.push(growth);
      }
      const text = `scale services=${n} resources=${line.resources} up_s=${line.up_s} (create ${line.create_s ?? "-"} s, rollout wait ${line.rollout_s ?? "-"} s) noop_preview_s=${line.noop_preview_s} flux_ready_s=${line.flux_ready_s} destroy_s=- github_requests=${line.github_requests} state_kib=${line.state_kib} checkpoints=${line.checkpoints}`;
      console.log(text);
      console.log(
        `  cpu during the up (s): ${Object.entries(upCpu)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
      );
      if (growth) console.log(growth);
      return text;
    },
  }));

  if (steadyMinutes > 0) {
    steps.push({
      name: `scale: steady platform: GitHub requests per hour (${steadyMinutes} min idle, then one reconcile round)`,
      run: async () => {
        const count = (from: number) => {
          const byKind: Record<string, number> = {};
          for (const q of infra.standin.requests.slice(from)) {
            byKind[kind(q)] = (byKind[kind(q)] ?? 0) + 1;
          }
          return byKind;
        };
        const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
        // 1. Nothing changes: what polls GitHub's API between reconciles.
        const idleFrom = infra.standin.requests.length;
        const t0 = Date.now();
        await sleep(steadyMinutes * 60_000);
        const idleMinutes = (Date.now() - t0) / 60_000;
        const idle = count(idleFrom);
        // 2. What one reconcileInterval brings: every Kustomization reconciled once, unchanged.
        // An hour's timers fire spread over the hour; the round fires them at once, through
        // the same reconcile (Flux's `reconcile.fluxcd.io/requestedAt`, as `flux reconcile`).
        const roundFrom = infra.standin.requests.length;
        const at = new Date().toISOString();
        const annotate = await infra.kubectl([
          "-n",
          "flux-system",
          "annotate",
          "kustomizations",
          "--all",
          "--overwrite",
          `reconcile.fluxcd.io/requestedAt=${at}`,
        ]);
        if (annotate.status !== 0) throw new Error(`annotate: ${annotate.stderr}`);
        const r0 = Date.now();
        const total = (await kustomizations()).length;
        await waitFor(
          `all ${total} Kustomizations reconciled for ${at}`,
          async () => {
            const ks = (await kustomizations()) as (Obj & {
              status?: { lastHandledReconcileAt?: string };
            })[];
            return ks.every((k) => k.status?.lastHandledReconcileAt === at && ready(k))
              ? true
              : undefined;
          },
          30 * 60_000,
          2000,
        );
        const roundSeconds = (Date.now() - r0) / 1000;
        // notification-controller posts after the events: wait until the stand-in is quiet.
        let seen = -1;
        while (seen !== infra.standin.requests.length) {
          seen = infra.standin.requests.length;
          await sleep(15_000);
        }
        const round = count(roundFrom);
        const idlePerHour = (sum(idle) / idleMinutes) * 60;
        const perHour = Math.round(sum(round) + idlePerHour);
        const services = scaleReport.lines.at(-1)?.services ?? 0;
        scaleReport.steady = {
          services,
          idleMinutes: Math.round(idleMinutes * 10) / 10,
          idle,
          round: { kustomizations: total, seconds: Math.round(roundSeconds), requests: round },
          perHourAtReconcileInterval1h: perHour,
        };
        const top = Object.entries(round)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(", ");
        return `${services} services: idle ${sum(idle)} requests in ${idleMinutes.toFixed(1)} min; one round of ${total} reconciles ${sum(round)} requests (${top || "none"}) in ${Math.round(roundSeconds)} s; at reconcileInterval 1h: ${perHour} requests/hour`;
      },
    });
  }

  steps.push({
    name: "scale: destroy at the largest size",
    run: async () => {
      const seconds = await pulumiOk(stack, ["destroy", "--yes", "--skip-preview"]);
      const last = scaleReport.lines.at(-1);
      if (last) last.destroy_s = Math.round(seconds * 10) / 10;
      const line = last
        ? `scale services=${last.services} resources=${last.resources} up_s=${last.up_s} noop_preview_s=${last.noop_preview_s} flux_ready_s=${last.flux_ready_s} destroy_s=${last.destroy_s} github_requests=${last.github_requests}`
        : `destroy_s=${seconds.toFixed(1)}`;
      console.log(line);
      return line;
    },
  });
  return steps;
}
