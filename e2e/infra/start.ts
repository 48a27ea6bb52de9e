/**
 * The whole infrastructure of a run: the GitHub stand-in with its SSH git server, then the
 * first cluster; more clusters on demand; one stop for everything.
 */
import { startCluster, type Cluster } from "./cluster";
import { startGitHub, type GitHub } from "./standin";
import type { Toolchain } from "./toolchain";

export interface Infra extends Cluster, GitHub {
  readonly runDir: string;
  /** A second cluster (another environment), stopped with the rest. */
  addCluster(name: string): Promise<Cluster>;
  stop(): Promise<void>;
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
  const github = await startGitHub(runDir, stops);

  const first = await startCluster(t, runDir, "e2e", stops, services);

  return {
    ...first,
    runDir,
    ...github,
    addCluster: (name: string) => startCluster(t, runDir, name, stops, services),
    async stop() {
      while (stops.length > 0) await stops.pop()!().catch(() => undefined);
    },
  };
}
