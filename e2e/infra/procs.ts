/**
 * Processes and small waits for the end-to-end run: every process it starts is recorded so
 * the runner can stop all of them, whatever happened.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

const started: { name: string; child: ChildProcess }[] = [];

/** Starts a long-running process with its output in `log`. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; log: string; cwd?: string },
): ChildProcess {
  const out = fs.openSync(options.log, "a");
  const child = spawn(command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ["ignore", out, out],
  });
  fs.closeSync(out);
  child.on("exit", (code, signal) => {
    fs.appendFileSync(options.log, `\n[e2e] ${name} exited: code ${code} signal ${signal}\n`);
  });
  started.push({ name, child });
  return child;
}

/** Stops every started process: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopAll(graceMs = 5000): Promise<void> {
  const alive = started.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
  for (const p of alive) p.child.kill("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (
    Date.now() < deadline &&
    alive.some((p) => p.child.exitCode === null && p.child.signalCode === null)
  ) {
    await sleep(100);
  }
  for (const p of alive) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  }
  started.length = 0;
}

/** Runs a command to completion (async, so the in-process GitHub stand-in keeps serving). */
export function run(
  command: string,
  args: readonly string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    input?: string;
    log?: string;
    timeoutMs?: number;
    /**
     * Gets a function that SIGKILLs the command and everything it started (its own process
     * group), as a closed laptop or a cancelled CI job would (e2e/steps/faults.ts).
     */
    killer?: (kill: () => void) => void;
  } = {},
): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      detached: options.killer !== undefined,
    });
    options.killer?.(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    });
    // Tracked until it exits, so an interrupted run stops a `pulumi up` in flight too.
    const tracked = { name: command, child };
    started.push(tracked);
    child.on("exit", () => {
      const i = started.indexOf(tracked);
      if (i >= 0) started.splice(i, 1);
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = options.timeoutMs
      ? setTimeout(() => child.kill("SIGKILL"), options.timeoutMs)
      : undefined;
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      if (options.log) {
        fs.appendFileSync(
          options.log,
          `\n$ ${command} ${args.join(" ")}\n[exit ${code}]\n${stdout}${stderr ? `\n[stderr]\n${stderr}` : ""}\n`,
        );
      }
      resolve({ status: code ?? -1, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    });
    // A command that exits without reading its input must not crash the runner (EPIPE).
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
  });
}

export function runSync(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): string {
  const r = spawnSync(command, args, { encoding: "utf8", env: env ?? process.env });
  if (r.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.stdout}`);
  }
  return r.stdout;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${String(last)}` : ""}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * CPU seconds used by each command (by the name it was started as, e.g. `pulumi`,
 * `kube-apiserver`) while it runs: sampled every `everyMs`, the last sample of each process
 * kept, so a process that exits loses at most one interval. Linux only; for the scale
 * run's report of where an up's time goes.
 */
export function cpuSampler(everyMs = 1000): { stop(): Record<string, number> } {
  const tick = 100; // USER_HZ on Linux
  const last = new Map<number, { comm: string; ticks: number }>();
  const sample = () => {
    for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        // The program's own name (argv[0]): the kernel's comm is cut at 15 characters
        // (`kustomize-contr`), and Node 24 names its main thread `MainThread`.
        const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
        const comm = argv0 ? path.basename(argv0) : stat.slice(stat.indexOf("(") + 1, close);
        const f = stat.slice(close + 2).split(" ");
        // Fields 14 and 15 (utime, stime) are at 11 and 12 after the comm.
        last.set(Number(pid), { comm, ticks: Number(f[11]) + Number(f[12]) });
      } catch {
        // The process ended between the listing and the read.
      }
    }
  };
  const before = new Map<number, number>();
  sample();
  for (const [pid, v] of last) before.set(pid, v.ticks);
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const byComm: Record<string, number> = {};
      for (const [pid, v] of last) {
        const used = (v.ticks - (before.get(pid) ?? 0)) / tick;
        if (used >= 0.5) byComm[v.comm] = Math.round(((byComm[v.comm] ?? 0) + used) * 10) / 10;
      }
      return byComm;
    },
  };
}
