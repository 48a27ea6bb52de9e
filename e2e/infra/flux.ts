/**
 * Flux as a platform team finds it on a managed cluster: its CRDs and namespace, and source-,
 * kustomize- and notification-controller as host processes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fluxSize, inMemoryBuilds, kustomizeControllerFlags } from "../../lib/cluster";
import type { Kubectl } from "./cluster";
import { freePort, waitFor } from "./procs";
import type { Toolchain } from "./toolchain";

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
): Promise<{
  receiverUrl: string;
  storagePort: number;
  /** kustomize-controller's tmpfs folder, when it has one: the caller removes it at the end. */
  memoryTmp?: string;
}> {
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
  // The FluxInstance's in-memory builds (lib/cluster/fluxInstall.ts `inMemoryBuilds`): the
  // host process unpacks artifacts into a tmpfs, as the pod would into its `medium: Memory`
  // /tmp; below that size, into the run folder's disk, as the pod's plain emptyDir.
  const size = fluxSize(services);
  const kcTmp =
    inMemoryBuilds(size) && fs.existsSync("/dev/shm")
      ? fs.mkdtempSync(path.join("/dev/shm", `flux-platform-kc-${name}-`))
      : undefined;
  spawn(
    `kustomize-controller-${name}`,
    b("kustomize-controller"),
    [
      `--metrics-addr=127.0.0.1:${ports[2]}`,
      `--health-addr=127.0.0.1:${ports[3]}`,
      ...kustomizeControllerFlags(size),
      ...eventsTo,
      "--log-level=debug",
    ],
    {
      env: kcTmp ? { ...fluxEnv, TMPDIR: kcTmp } : fluxEnv,
      log: path.join(dir, `kustomize-controller-${name}.log`),
    },
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
  return { receiverUrl: `http://127.0.0.1:${ports[5]}`, storagePort: storage, memoryTmp: kcTmp };
}
