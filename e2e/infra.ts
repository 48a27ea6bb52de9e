/**
 * Local infrastructure for the end-to-end run, all on loopback and all stopped afterwards:
 * a Kubernetes control plane (kwokctl, binary runtime, one fake node), Flux's CRDs and
 * controllers as host processes, an OpenSSH git server whose only keys are the deploy keys
 * the program registers, and the GitHub stand-in reached as GitHub Enterprise Server.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fluxSize, kustomizeControllerFlags } from "../lib/cluster";
import { startStandIn, type StandIn } from "../test/github-standin/server";
import { freePort, run, runSync, sleep, startProcess, waitFor } from "./procs";

export const REPO_ROOT = path.resolve(__dirname, "..");

export interface Toolchain {
  /** The cache folder of this toolchain version (`<root>/<key>`). */
  readonly dir: string;
  readonly bin: string;
  readonly crds: string;
  /** Where reports and runs go: next to the toolchain. */
  readonly root: string;
}

/** The toolchain `npm run e2e:toolchain` built for the pins in e2e/toolchain/versions.env. */
export function findToolchain(): Toolchain {
  const root =
    process.env.FLUX_PLATFORM_TOOLCHAIN_DIR ??
    path.join(os.homedir(), ".cache/flux-platform/toolchain");
  const manifest = fs.readFileSync(path.join(REPO_ROOT, "e2e/toolchain/versions.env"));
  const key = createHash("sha256").update(manifest).digest("hex").slice(0, 12);
  // FLUX_PLATFORM_TOOLCHAIN: one toolchain folder to use as it is (a build of other pins).
  const dir = process.env.FLUX_PLATFORM_TOOLCHAIN ?? path.join(root, key);
  return { dir, bin: path.join(dir, "bin"), crds: path.join(dir, "crds"), root };
}

/** Binaries the run needs; a missing one means the toolchain is not (fully) built. */
export const REQUIRED_BINARIES = [
  "pulumi",
  "pulumi-language-nodejs",
  "pulumi-resource-pulumi-nodejs",
  "pulumi-resource-kubernetes",
  "pulumi-resource-github",
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
  "kwokctl",
  "kubectl",
  "source-controller",
  "kustomize-controller",
  "notification-controller",
  "sops",
  "flux",
];

export function missingBinaries(t: Toolchain): string[] {
  return REQUIRED_BINARIES.filter((b) => !fs.existsSync(path.join(t.bin, b)));
}

export interface Infra extends Cluster {
  readonly runDir: string;
  readonly standin: StandIn;
  readonly token: string;
  readonly owner: string;
  readonly sshPort: number;
  /** A second cluster (another environment), stopped with the rest. */
  addCluster(name: string): Promise<Cluster>;
  stop(): Promise<void>;
}

/** The OpenSSH server: user `git`, forced commands per deploy key (e2e/git-ssh-shell). */
async function startSshd(
  runDir: string,
  standinRoot: string,
): Promise<{ port: number; hostKey: string; authorizedKeys: string; gitShell: string }> {
  const dir = path.join(runDir, "ssh");
  fs.mkdirSync(dir, { recursive: true });
  const hostKey = path.join(dir, "host_ed25519");
  runSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  const authorizedKeys = path.join(dir, "authorized_keys");
  // The forced command, where `git` can run it whatever the checkout's permissions.
  const gitShell = path.join(dir, "git-ssh-shell");
  fs.copyFileSync(path.join(REPO_ROOT, "e2e/git-ssh-shell"), gitShell);
  fs.chmodSync(gitShell, 0o755);
  fs.writeFileSync(authorizedKeys, "");
  if (spawnUser("git") === false) {
    throw new Error(
      "the SSH git server logs in as user `git`, which does not exist and cannot be created here (run as root once, or `useradd -m -s /bin/bash git`)",
    );
  }
  fs.mkdirSync("/run/sshd", { recursive: true });
  const port = await freePort();
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "AllowUsers git",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      // The run's files live under a temp dir that is not owned by `git`.
      "StrictModes no",
      "PermitRootLogin no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  const sshd = fs.existsSync("/usr/sbin/sshd") ? "/usr/sbin/sshd" : "sshd";
  startProcess("sshd", sshd, ["-D", "-e", "-f", config], { log: path.join(runDir, "sshd.log") });
  await waitFor(
    "sshd to listen",
    async () => {
      const r = await run("ssh-keyscan", ["-p", String(port), "-t", "ed25519", "127.0.0.1"]);
      return r.stdout.includes("ssh-ed25519") ? true : undefined;
    },
    20_000,
    300,
  );
  // The bare repositories must be readable by `git`.
  fs.chmodSync(standinRoot, 0o755);
  return {
    port,
    hostKey: fs.readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" "),
    authorizedKeys,
    gitShell,
  };
}

/** Ensures a login user exists for sshd (not locked: sshd refuses locked accounts). */
function spawnUser(name: string): boolean {
  try {
    runSync("id", ["-u", name]);
  } catch {
    if (process.getuid?.() !== 0) return false;
    runSync("useradd", ["--system", "--create-home", "--shell", "/bin/bash", name]);
  }
  if (process.getuid?.() === 0) runSync("usermod", ["-p", "*", name]);
  return true;
}

/**
 * Starts everything; each part registers how to stop it in `stops` as soon as it runs, so a
 * failure half-way still leaves nothing behind (the runner runs `stops` in reverse).
 */
export async function startInfra(
  t: Toolchain,
  runDir: string,
  stops: (() => Promise<void>)[],
  /** The most services a stack will have: Flux's controllers are sized for it. */
  services = 3,
): Promise<Infra> {
  const token = `ghp_e2e_${Math.random().toString(36).slice(2)}`;
  const owner = "acme";

  // GitHub stand-in + SSH git server over the same bare repositories.
  const standinRoot = path.join(runDir, "github");
  fs.mkdirSync(standinRoot, { recursive: true });
  const ssh = await startSshd(runDir, standinRoot);
  const standin = await startStandIn({
    root: standinRoot,
    token,
    user: owner,
    sshHostKeys: [ssh.hostKey],
    authorizedKeysFile: ssh.authorizedKeys,
    gitShell: ssh.gitShell,
  });
  stops.push(() => standin.close());

  const first = await startCluster(t, runDir, "e2e", stops, services);

  return {
    ...first,
    runDir,
    standin,
    token,
    owner,
    sshPort: ssh.port,
    addCluster: (name: string) => startCluster(t, runDir, name, stops, services),
    async stop() {
      while (stops.length > 0) await stops.pop()!().catch(() => undefined);
    },
  };
}

/** One Kubernetes cluster as a platform team finds it, with Flux's controllers running. */
export interface Cluster {
  readonly kubeconfig: string;
  readonly context: string;
  /** kubectl with this cluster's kubeconfig. */
  kubectl(
    args: string[],
    input?: string,
  ): Promise<{ status: number; stdout: string; stderr: string }>;
  kubectlJson<T = { items: Record<string, unknown>[] }>(args: string[]): Promise<T>;
  /** Where notification-controller's webhook receiver listens (the stacks' `webhookReceiverUrl`). */
  readonly receiverUrl?: string;
  /**
   * Stops the control plane (etcd, kube-apiserver, controller-manager, scheduler; kwokctl
   * `stop cluster`), waits `downMs`, starts it again and waits until the API server answers
   * `/readyz`. Flux's controllers (host processes) keep running through it.
   */
  restartControlPlane?(downMs: number): Promise<number>;
}

/**
 * A cluster through kwokctl (binary runtime, the built binaries, one fake node) with
 * Flux's namespace, CRDs (from the controllers' modules) and source- and
 * kustomize-controller as host processes.
 */
export async function startCluster(
  t: Toolchain,
  runDir: string,
  name: string,
  stops: (() => Promise<void>)[],
  services = 3,
): Promise<Cluster> {
  // Kubernetes: kwokctl with the built binaries and one fake node.
  const env = { ...process.env, PATH: `${t.bin}:${process.env.PATH}` };
  const kubeconfig = path.join(runDir, `kubeconfig-${name}`);
  const b = (x: string) => path.join(t.bin, x);
  const kwok = kwokctl(t, path.join(runDir, "kwok"), path.join(runDir, "kwokctl.log"));
  stops.push(async () => {
    await kwok("delete", "cluster", "--name", name);
  });
  await createKwokCluster(t, kwok, name, kubeconfig, services);

  const kubectl = (args: string[], input?: string) =>
    run(b("kubectl"), ["--kubeconfig", kubeconfig, ...args], { env, input });
  const kubectlJson = async <T>(args: string[]): Promise<T> => {
    const r = await kubectl([...args, "-o", "json"]);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };

  // Flux as a platform team finds it on a managed cluster: its namespace, CRDs and controllers.
  await installFluxCrds(t, kubectl);
  const flux = await startFluxControllers(t, kubeconfig, runDir, name, startProcess, {
    services,
  });
  return {
    kubeconfig,
    context: `kwok-${name}`,
    kubectl,
    kubectlJson,
    receiverUrl: flux.receiverUrl,
    async restartControlPlane(downMs: number) {
      const stopped = await kwok("stop", "cluster", "--name", name);
      if (stopped.status !== 0) throw new Error(`kwokctl stop cluster: ${stopped.stderr}`);
      const t0 = Date.now();
      await sleep(downMs);
      const started = await kwok("start", "cluster", "--name", name);
      if (started.status !== 0) throw new Error(`kwokctl start cluster: ${started.stderr}`);
      await waitFor(
        "the API server to answer /readyz",
        async () => ((await kubectl(["get", "--raw", "/readyz"])).status === 0 ? true : undefined),
        120_000,
        500,
      );
      return (Date.now() - t0) / 1000;
    },
  };
}

type Kubectl = Cluster["kubectl"];

/** kwokctl with the toolchain's binaries, its clusters under `workdir`. */
export function kwokctl(t: Toolchain, workdir: string, log: string) {
  const env = { ...process.env, PATH: `${t.bin}:${process.env.PATH}`, KWOK_WORKDIR: workdir };
  return (...args: string[]) => run(path.join(t.bin, "kwokctl"), args, { env, log });
}

/**
 * A kwok cluster (binary runtime, the built binaries) with fake nodes, its context in
 * `kubeconfig`: one node per 100 services (a kwok node takes 110 pods; the scale run's
 * 300 services left pods Pending on one, and Flux's health checks timed out on them), and
 * room for 65,000 Services.
 */
export async function createKwokCluster(
  t: Toolchain,
  kwok: ReturnType<typeof kwokctl>,
  name: string,
  kubeconfig: string,
  services = 3,
): Promise<void> {
  const b = (x: string) => path.join(t.bin, x);
  const created = await kwok(
    "create",
    "cluster",
    "--name",
    name,
    "--runtime",
    "binary",
    "--kube-apiserver-binary",
    b("kube-apiserver"),
    "--kube-controller-manager-binary",
    b("kube-controller-manager"),
    "--kube-scheduler-binary",
    b("kube-scheduler"),
    "--etcd-binary",
    b("etcd"),
    "--kwok-controller-binary",
    b("kwok"),
    // kube-apiserver's default Service range is 10.0.0.0/24: 254 Services, fewer than the
    // scale run's 300 ("failed to allocate a serviceIP: range is full").
    "--extra-args",
    "kube-apiserver=service-cluster-ip-range=10.96.0.0/16",
    "--kubeconfig",
    kubeconfig,
    "--wait",
    "2m",
  );
  if (created.status !== 0)
    throw new Error(`kwokctl create cluster failed: ${created.stderr.slice(-2000)}`);
  const nodes = String(Math.max(1, Math.ceil(services / 100)));
  await kwok("scale", "node", "--replicas", nodes, "--name", name);
}

/** Flux's CRDs (from the controllers' modules) and its namespace, as `fluxInstall: existing` needs. */
export async function installFluxCrds(t: Toolchain, kubectl: Kubectl): Promise<void> {
  const crds = fs.realpathSync(t.crds);
  const files = fs
    .readdirSync(crds)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) => ["-f", path.join(crds, f)]);
  const applied = await kubectl(["apply", "--server-side", ...files]);
  if (applied.status !== 0) throw new Error(`applying Flux CRDs failed: ${applied.stderr}`);
  await kubectl(["create", "namespace", "flux-system"]);
  await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
}

/** How a long-running process is started: tracked by the runner, or detached (minikube double). */
export type Spawn = (
  name: string,
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; log: string },
) => unknown;

/**
 * source-, kustomize- and notification-controller as host processes on loopback ports of
 * their own, each waited for until its health endpoint answers. Logs and storage in `dir`.
 */
export async function startFluxControllers(
  t: Toolchain,
  kubeconfig: string,
  dir: string,
  name: string,
  spawn: Spawn,
  {
    notifications = true,
    storagePort,
    services = 3,
  }: {
    notifications?: boolean;
    /** Sized as the Flux Operator sizes a FluxInstance for this many services (lib/cluster/fluxInstall.ts). */
    services?: number;
    /** source-controller's artifact address (a restart that keeps its artifacts keeps it too). */
    storagePort?: number;
  } = {},
): Promise<{ receiverUrl: string; storagePort: number }> {
  const b = (x: string) => path.join(t.bin, x);
  const env = { ...process.env, PATH: `${t.bin}:${process.env.PATH}` };
  const fluxEnv = { ...env, KUBECONFIG: kubeconfig, RUNTIME_NAMESPACE: "flux-system" };
  const storage = storagePort ?? (await freePort());
  const ports = await Promise.all(Array.from({ length: 8 }, () => freePort()));
  // notification-controller: events in on ports[4], receiver on ports[5], health on ports[7].
  const events = `http://127.0.0.1:${ports[4]}`;
  // Without notification-controller no events address: the controllers would retry every
  // event 5 times against a closed port, slowing each reconcile (seen: a 130 s first up).
  const eventsTo = notifications ? [`--events-addr=${events}`] : [];
  if (notifications)
    spawn(
      `notification-controller-${name}`,
      b("notification-controller"),
      [
        `--events-addr=127.0.0.1:${ports[4]}`,
        `--receiverAddr=127.0.0.1:${ports[5]}`,
        `--metrics-addr=127.0.0.1:${ports[6]}`,
        `--health-addr=127.0.0.1:${ports[7]}`,
        "--log-level=debug",
      ],
      { env: fluxEnv, log: path.join(dir, `notification-controller-${name}.log`) },
    );
  fs.mkdirSync(path.join(dir, `flux-storage-${name}`), { recursive: true });
  spawn(
    `source-controller-${name}`,
    b("source-controller"),
    [
      `--storage-path=${path.join(dir, `flux-storage-${name}`)}`,
      `--storage-addr=127.0.0.1:${storage}`,
      `--storage-adv-addr=127.0.0.1:${storage}`,
      `--metrics-addr=127.0.0.1:${ports[0]}`,
      `--health-addr=127.0.0.1:${ports[1]}`,
      ...eventsTo,
      "--log-level=debug",
    ],
    { env: fluxEnv, log: path.join(dir, `source-controller-${name}.log`) },
  );
  spawn(
    `kustomize-controller-${name}`,
    b("kustomize-controller"),
    [
      `--metrics-addr=127.0.0.1:${ports[2]}`,
      `--health-addr=127.0.0.1:${ports[3]}`,
      ...kustomizeControllerFlags(fluxSize(services)),
      ...eventsTo,
      "--log-level=debug",
    ],
    { env: fluxEnv, log: path.join(dir, `kustomize-controller-${name}.log`) },
  );
  for (const p of [ports[1], ports[3], ...(notifications ? [ports[7]] : [])]) {
    await waitFor(
      `a Flux controller's health endpoint on ${p}`,
      async () => {
        const r = await fetch(`http://127.0.0.1:${p}/readyz`).catch(() => undefined);
        return r?.ok ? true : undefined;
      },
      60_000,
      500,
    );
  }
  return { receiverUrl: `http://127.0.0.1:${ports[5]}`, storagePort: storage };
}
