/**
 * A platform up is not held hostage by one team (issue "A platform up that stays fast and
 * honest"): while sonar's developer config cannot build, the platform team changes every
 * service (`reconcileInterval`, each Kustomization's interval). The up finishes within the rollout's bound, names sonar and
 * Flux's reason, exits 0, and every other service is Ready.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Infra } from "../infra";
import type { Stack } from "../infra/pulumi";
import {
  developerCommit,
  kustomizationAt,
  type Obj,
  pulumiOk,
  ready,
  type Step,
  tail,
} from "../scenario";

/** lib/cluster/rollout.ts ROLLOUT_TIMEOUT_SECONDS: the longest the wait after the services may take. */
const BOUND_SECONDS = 480;

export function brokenServiceStep(infra: Infra, stack: Stack): Step {
  return {
    name: "a broken team config among many: the platform's up touching every service finishes, names it, exits 0",
    run: async () => {
      const repo = infra.standin.repoDir(infra.owner, "flux_developer");
      const file = "sonar/e2e/kustomization.yaml";
      let original = "";
      const broken = await developerCommit(repo, infra.runDir, "sonar: broken", (dir) => {
        original = fs.readFileSync(path.join(dir, file), "utf8");
        fs.writeFileSync(path.join(dir, file), "resources: [missing.yaml]\n");
      });
      await kustomizationAt(infra, "config-sonar", broken, "False");
      const interval = async (value: string) => {
        const r = await stack.pulumi(["config", "set", "flux-platform:reconcileInterval", value]);
        if (r.status !== 0) throw new Error(r.stderr);
      };
      await interval("90m");
      const up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
      const out = up.stdout + up.stderr;
      if (up.status !== 0) throw new Error(`up exited ${up.status}: ${tail(out, 12)}`);
      if (up.seconds > BOUND_SECONDS) throw new Error(`up took ${up.seconds.toFixed(0)}s`);
      const named = out
        .split("\n")
        .filter((l) => /service sonar: (config|app)-sonar is not Ready/.test(l))
        .map((l) => l.trim());
      if (!named.some((l) => /config-sonar is not Ready \(BuildFailed: /.test(l)))
        throw new Error(`sonar's failure not named with Flux's reason:\n${tail(out, 15)}`);
      const others = out.split("\n").filter((l) => /service (?!sonar)\S+: .* is not Ready/.test(l));
      if (others.length > 0) throw new Error(`other services named: ${others.join(" | ")}`);
      const ks = (
        await infra.kubectlJson<{ items: (Obj & { spec: { interval: string } })[] }>([
          "-n",
          "flux-system",
          "get",
          "kustomizations",
        ])
      ).items;
      const services = ks.filter((k) => /^(config|app)-/.test(k.metadata.name));
      const notReady = services.filter((k) => !/-sonar$/.test(k.metadata.name) && !ready(k));
      if (notReady.length > 0)
        throw new Error(`not Ready: ${notReady.map((k) => k.metadata.name).join(", ")}`);
      if (!services.every((k) => k.spec.interval === "90m"))
        throw new Error("the platform's change did not reach every service");
      // Put both back: the team fixes its file, the platform its interval.
      const fixed = await developerCommit(repo, infra.runDir, "sonar: fixed", (dir) =>
        fs.writeFileSync(path.join(dir, file), original),
      );
      await kustomizationAt(infra, "config-sonar", fixed, "True");
      await interval("1h");
      const again = await pulumiOk(stack, ["up", "--yes", "--skip-preview"]);
      return `up exit 0 in ${up.seconds.toFixed(0)}s (bound ${BOUND_SECONDS}s) with ${services.length} service Kustomizations changed: ${named.join(" | ").slice(0, 300)}; the other ${services.length - 2} Ready; put back in ${again.toFixed(0)}s`;
    },
  };
}
