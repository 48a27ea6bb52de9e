/**
 * A `minikube` for the e2e that drives a kwok cluster (binary runtime, the toolchain's
 * binaries) per profile, so the program's minikube path runs through the real engine and
 * command plugin. It answers the calls the profile scripts make (lib/cluster/minikube.ts) as minikube
 * 1.39 does:
 *
 * - `start -p P ...`: creates the profile (a kwok cluster with one fake node, and on first
 *   start what a `fluxInstall: existing` stack needs: Flux's CRDs, its namespace and
 *   controllers), or restarts a stopped one. Every start gives the API server a new address,
 *   as the docker driver does: the context `P` in $KUBECONFIG points at a TCP forwarder on a
 *   new port (the controllers, like pods in a real profile, reach the API server directly).
 *   `--keep-context` is honoured: the current context is never changed.
 * - `status -p P`: exit 0 running, 7 stopped, 85 no such profile.
 * - `stop -p P`, `delete -p P`, `profile list --output json`, `addons enable X -p P`.
 *
 * State lives in $FLUX_PLATFORM_MINIKUBE_HOME; the toolchain comes from
 * $FLUX_PLATFORM_TOOLCHAIN. Everything it starts runs detached and is stopped by `stop`,
 * `delete`, or `cleanupProfiles` (the e2e runner's last step).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { createKwokCluster, kwokctl } from "../cluster";
import { installFluxCrds, startFluxControllers } from "../flux";
import type { Toolchain } from "../toolchain";
import { freePort, run, sleep, waitFor } from "../procs";

/** minikube's exit codes for `status`. */
export const STATUS = { running: 0, stopped: 7, gone: 85 } as const;

interface Profile {
  name: string;
  status: "Running" | "Stopped";
  /** The API server's own address (stable across restarts). */
  server?: string;
  /** The address the profile's context gives: a forwarder, new on every start. */
  forwarder?: string;
  /**
   * source-controller's artifact port, kept across restarts: in a real profile the
   * controllers reach each other through in-cluster Services, whose addresses a restart
   * does not change; a new port would leave every stored artifact URL pointing nowhere.
   */
  storagePort?: number;
  pids: number[];
}

const home = () => {
  const h = process.env.FLUX_PLATFORM_MINIKUBE_HOME;
  if (!h) throw new Error("minikube double: FLUX_PLATFORM_MINIKUBE_HOME is not set");
  return h;
};
const toolchain = (): Toolchain => {
  const dir = process.env.FLUX_PLATFORM_TOOLCHAIN;
  if (!dir) throw new Error("minikube double: FLUX_PLATFORM_TOOLCHAIN is not set");
  return { dir, bin: path.join(dir, "bin"), crds: path.join(dir, "crds"), root: dir };
};
const profileDir = (p: string) => path.join(home(), "profiles", p);
const profileFile = (p: string) => path.join(profileDir(p), "profile.json");
const log = (p: string) => path.join(home(), `minikube-${p}.log`);
const kwok = (p: string) => kwokctl(toolchain(), path.join(home(), "kwok"), log(p));

function load(p: string): Profile | undefined {
  return fs.existsSync(profileFile(p))
    ? (JSON.parse(fs.readFileSync(profileFile(p), "utf8")) as Profile)
    : undefined;
}
const save = (pr: Profile) => fs.writeFileSync(profileFile(pr.name), JSON.stringify(pr, null, 2));

/** Starts a process that outlives this call, in its own process group; returns its pid. */
function detached(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
) {
  const out = fs.openSync(logFile, "a");
  const child = spawn(command, args, { env, detached: true, stdio: ["ignore", out, out] });
  fs.closeSync(out);
  child.unref();
  return child.pid!;
}

async function kill(pids: readonly number[]): Promise<void> {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      /* already gone */
    }
  }
  const deadline = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(100);
  for (const pid of pids.filter(alive)) process.kill(-pid, "SIGKILL");
}

/** The profile's context in $KUBECONFIG, pointing at `server`; removes it when `server` is undefined. */
function writeContext(p: string, server: string | undefined, internal?: string): void {
  const file = process.env.KUBECONFIG?.split(":")[0];
  if (!file) throw new Error("minikube double: KUBECONFIG is not set");
  type Named = { name: string };
  const cfg = (fs.existsSync(file) ? parse(fs.readFileSync(file, "utf8")) : null) ?? {};
  const others = (k: string) => ((cfg[k] ?? []) as Named[]).filter((x) => x.name !== p);
  const out: Record<string, unknown> = {
    apiVersion: "v1",
    kind: "Config",
    preferences: {},
    clusters: others("clusters"),
    contexts: others("contexts"),
    users: others("users"),
    "current-context": cfg["current-context"] ?? "",
  };
  if (server && internal) {
    const k = parse(fs.readFileSync(internal, "utf8"));
    const cluster = { ...k.clusters[0].cluster, server };
    (out.clusters as unknown[]).push({ name: p, cluster });
    (out.users as unknown[]).push({ name: p, user: k.users[0].user });
    (out.contexts as unknown[]).push({ name: p, context: { cluster: p, user: p } });
  }
  fs.writeFileSync(file, stringify(out), { mode: 0o600 });
}

/** The profile's API server through a forwarder on a new port, and Flux's controllers. */
async function bringUp(pr: Profile, internal: string): Promise<void> {
  const t = toolchain();
  const port = await freePort();
  const target = new URL(pr.server!);
  const self = path.join(__dirname, "forward.ts");
  const tsx = path.join(__dirname, "../../../node_modules/tsx/dist/cli.mjs");
  pr.pids.push(
    detached(
      process.execPath,
      [tsx, self, String(port), target.hostname, target.port],
      process.env,
      log(pr.name),
    ),
  );
  const flux = path.join(profileDir(pr.name), "flux");
  fs.mkdirSync(flux, { recursive: true });
  // source- and kustomize-controller: what the minikube stack's fluxComponents ask for.
  const started = await startFluxControllers(
    t,
    internal,
    flux,
    pr.name,
    (_n, cmd, args, o) => pr.pids.push(detached(cmd, args, o.env, o.log)),
    { notifications: false, storagePort: pr.storagePort },
  );
  pr.storagePort = started.storagePort;
  pr.forwarder = `https://127.0.0.1:${port}`;
  await waitFor(
    "the forwarder to listen",
    () =>
      new Promise<true | undefined>((res) => {
        const c = net.connect(port, "127.0.0.1", () => (c.end(), res(true)));
        c.on("error", () => res(undefined));
      }),
    20_000,
    200,
  );
  writeContext(pr.name, pr.forwarder, internal);
}

const internalKubeconfig = (p: string) => path.join(profileDir(p), "internal-kubeconfig");

async function start(p: string): Promise<number> {
  const t = toolchain();
  const existing = load(p);
  if (existing?.status === "Running") {
    console.log(`* The "${p}" cluster is already running`);
    return 0;
  }
  fs.mkdirSync(profileDir(p), { recursive: true });
  const internal = internalKubeconfig(p);
  const env = { ...process.env, PATH: `${t.bin}:${process.env.PATH}` };
  const kubectl = (args: string[], input?: string) =>
    run(path.join(t.bin, "kubectl"), ["--kubeconfig", internal, ...args], { env, input });
  let pr: Profile;
  if (!existing) {
    console.error(`* Creating kwok "${p}" ...`);
    await createKwokCluster(t, kwok(p), p, internal);
    const k = parse(fs.readFileSync(internal, "utf8"));
    // Stopped until all of it is up: a start that fails half-way leaves a profile that
    // `status` reports as not running, as minikube's does.
    pr = { name: p, status: "Stopped", server: k.clusters[0].cluster.server, pids: [] };
    save(pr);
    await installFluxCrds(t, kubectl);
  } else {
    console.error(`* Restarting existing kwok "${p}" ...`);
    const r = await kwok(p)("start", "cluster", "--name", p);
    if (r.status !== 0) throw new Error(`kwokctl start cluster failed: ${r.stderr}`);
    pr = { ...existing, pids: [] };
    await waitFor(
      "the API server after a restart",
      async () => ((await kubectl(["get", "--raw", "/readyz"])).status === 0 ? true : undefined),
      60_000,
      500,
    );
  }
  await bringUp(pr, internal);
  save({ ...pr, status: "Running" });
  console.log(`* Done! kubectl is now configured to use "${p}" cluster`);
  return 0;
}

async function stop(p: string): Promise<number> {
  const pr = load(p);
  if (!pr) {
    console.error(`* Profile "${p}" not found.`);
    return STATUS.gone;
  }
  await kill(pr.pids);
  await kwok(p)("stop", "cluster", "--name", p);
  save({ ...pr, status: "Stopped", pids: [], forwarder: undefined });
  console.log("* 1 node stopped.");
  return 0;
}

async function remove(p: string): Promise<number> {
  const pr = load(p);
  if (pr) {
    await kill(pr.pids);
    await kwok(p)("delete", "cluster", "--name", p);
    fs.rmSync(profileDir(p), { recursive: true, force: true });
  }
  writeContext(p, undefined);
  console.log(`* Removed all traces of the "${p}" cluster.`);
  return 0;
}

function status(p: string): number {
  const pr = load(p);
  if (!pr) {
    console.log(`* Profile "${p}" not found. Run "minikube profile list" to view all profiles.`);
    return STATUS.gone;
  }
  console.log(`${p}\ntype: Control Plane\nhost: ${pr.status}\napiserver: ${pr.status}`);
  return pr.status === "Running" ? STATUS.running : STATUS.stopped;
}

function profileList(): number {
  const dir = path.join(home(), "profiles");
  const valid = (fs.existsSync(dir) ? fs.readdirSync(dir) : [])
    .map(load)
    .filter((x): x is Profile => x !== undefined)
    .map((x) => ({ Name: x.name, Status: x.status }));
  console.log(JSON.stringify({ invalid: [], valid }));
  return 0;
}

/** Stops every profile the double started (the e2e's clean-up). */
export async function cleanupProfiles(minikubeHome: string, t: Toolchain): Promise<void> {
  process.env.FLUX_PLATFORM_MINIKUBE_HOME = minikubeHome;
  process.env.FLUX_PLATFORM_TOOLCHAIN = t.dir;
  const dir = path.join(minikubeHome, "profiles");
  for (const p of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const pr = load(p);
    if (!pr) continue;
    await kill(pr.pids);
    await kwok(p)("delete", "cluster", "--name", p);
  }
}

/** The minikube command line: `<command> [args] --profile P | -p P`. */
export async function main(argv: string[]): Promise<number> {
  fs.mkdirSync(path.join(home(), "profiles"), { recursive: true });
  fs.appendFileSync(path.join(home(), "calls"), `minikube ${argv.join(" ")}\n`);
  let profile = "minikube";
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "-p" || argv[i] === "--profile") profile = argv[i + 1];
    else if (argv[i].startsWith("--profile=")) profile = argv[i].slice("--profile=".length);
  }
  switch (argv[0]) {
    case "start":
      return start(profile);
    case "stop":
      return stop(profile);
    case "delete":
      return remove(profile);
    case "status":
      return status(profile);
    case "profile":
      return profileList();
    case "addons":
      // Recorded, not run: kwok runs no pods (an HPA is accepted, never scaled, here).
      if (!load(profile)) return STATUS.gone;
      console.log(`* The '${argv[2]}' addon is enabled`);
      return 0;
    default:
      console.error(`minikube double: unsupported command: ${argv.join(" ")}`);
      return 64;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`X minikube double: ${err.message}`);
      process.exit(80);
    },
  );
}
