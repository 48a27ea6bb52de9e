/**
 * A Kubernetes cluster: kwokctl (binary runtime, the toolchain's binaries, fake nodes) with
 * kube-apiserver, etcd, controller-manager and scheduler, and Flux on it (flux.ts).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { installFluxCrds, startFluxControllers } from "./flux";
import { run, sleep, startProcess, waitFor } from "./procs";
import type { Toolchain } from "./toolchain";

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
  if (flux.memoryTmp) {
    const tmp = flux.memoryTmp;
    stops.push(async () => fs.rmSync(tmp, { recursive: true, force: true }));
  }
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

export type Kubectl = Cluster["kubectl"];

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
