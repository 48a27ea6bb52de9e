/**
 * A second environment and a promotion (issue "Run it for real, part 2"): a `prd` stack on a
 * cluster of its own adopts the repositories; dev's platform change reaches prd only with
 * prd's own up.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Cluster, Infra, Toolchain } from "../infra";
import { run, sleep, waitFor } from "../infra/procs";
import { createStack, type Stack } from "../infra/pulumi";
import {
  APP_NAMESPACE,
  kustomizationsReady,
  pulumiOk,
  servicesRunning,
  type Source,
  stackConfig,
  stackSecrets,
  type Step,
  tail,
} from "../scenario";
import type { SecondEnvironment } from "./secrets";

/** Changes the platform template in the program (as the platform team would) and returns the undo. */
function platformChange(stack: Stack): void {
  const file = path.join(stack.dir, "lib/platformRepo/templates.ts");
  const text = fs.readFileSync(file, "utf8");
  if (!text.includes("revisionHistoryLimit: 3,")) throw new Error("template marker not found");
  fs.writeFileSync(file, text.replace("revisionHistoryLimit: 3,", "revisionHistoryLimit: 4,"));
}

async function historyLimit(c: Cluster): Promise<number | undefined> {
  const d = await c
    .kubectlJson<{ spec: { revisionHistoryLimit?: number } }>([
      "-n",
      APP_NAMESPACE,
      "get",
      "deployment",
      "beetle",
    ])
    .catch(() => undefined);
  return d?.spec.revisionHistoryLimit;
}

export function twoEnvironments(
  t: Toolchain,
  infra: Infra,
  dev: Stack,
  second: SecondEnvironment,
): Step[] {
  let prd: Stack | undefined;
  let cluster: Cluster | undefined;
  return [
    {
      name: "second environment: adopts the repos, on its own cluster",
      critical: true,
      run: async () => {
        cluster = await infra.addCluster(second.environment);
        prd = await createStack(
          t,
          infra.runDir,
          "e2eprd",
          stackConfig(infra, cluster, second.environment, { "flux-platform:adoptRepos": true }, 2),
          stackSecrets(infra),
          { KUBECONFIG: cluster.kubeconfig },
        );
        const seconds = await pulumiOk(prd, ["up", "--yes", "--skip-preview"]);
        await kustomizationsReady(cluster);
        await servicesRunning(cluster);
        second.cluster = cluster;
        return `exit 0 in ${seconds.toFixed(1)}s; prd's Kustomizations Ready, services Available`;
      },
    },
    {
      name: "promotion: dev's platform change reaches prd only with prd's own up",
      run: async () => {
        if (!prd || !cluster) throw new Error("no second environment");
        platformChange(dev);
        await pulumiOk(dev, ["up", "--yes", "--skip-preview"]);
        await waitFor(
          "dev's beetle to get the change",
          async () => ((await historyLimit(infra)) === 4 ? true : undefined),
          120_000,
          2000,
        );
        // prd's source fetches the new commit at once (its own webhook), and for 30 s after
        // that nothing changes in prd: the change is under environments/dev/.
        const head = (
          await run("git", [
            "-C",
            infra.standin.repoDir(infra.owner, "flux_platform"),
            "rev-parse",
            "main",
          ])
        ).stdout.trim();
        await waitFor(
          "prd's platform source to fetch dev's commit",
          async () => {
            const s = await cluster!.kubectlJson<Source>([
              "-n",
              "flux-system",
              "get",
              "gitrepository",
              "flux-platform",
            ]);
            return s.status?.artifact?.revision?.endsWith(head) ? true : undefined;
          },
          30_000,
          500,
        );
        await sleep(30_000);
        const prdBefore = await historyLimit(cluster);
        if (prdBefore !== 3)
          throw new Error(`prd's beetle has revisionHistoryLimit ${prdBefore} before prd's up`);
        const preview = await prd.pulumi(["preview", "--diff"]);
        if (preview.status !== 0) throw new Error(`preview: ${tail(preview.stderr)}`);
        if (
          !preview.stdout.includes("environments/prd/apps/base/deployment.yaml") ||
          !/~ revisionHistoryLimit: 3 => 4/.test(preview.stdout)
        ) {
          throw new Error(`prd's preview does not show the change:\n${tail(preview.stdout, 40)}`);
        }
        await pulumiOk(prd, ["up", "--yes", "--skip-preview"]);
        await waitFor(
          "prd's beetle to get the change",
          async () => ((await historyLimit(cluster!)) === 4 ? true : undefined),
          120_000,
          2000,
        );
        return "dev applied it; prd fetched dev's commit and stayed unchanged for 30 s; prd's preview showed the diff; prd's up applied it";
      },
    },
  ];
}
