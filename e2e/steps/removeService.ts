/**
 * Removing a service (issue "Run it for real, part 2"): its Kustomizations are deleted, Flux
 * prunes its objects, and no finalizer is left pending.
 */
import type { Infra } from "../infra";
import { waitFor } from "../infra/procs";
import type { Stack } from "../infra/pulumi";
import { APP_NAMESPACE, kustomizationsReady, type Obj, pulumiOk, type Step } from "../scenario";

export function removeService(infra: Infra, stack: Stack): Step {
  return {
    name: "removing a service: Kustomizations deleted, Flux prunes, no finalizer left",
    run: async () => {
      const rm = await stack.pulumi(["config", "rm", "--path", "flux-platform:services.tiger"]);
      if (rm.status !== 0) throw new Error(rm.stderr);
      const seconds = await pulumiOk(stack, ["up", "--yes", "--skip-preview"]);
      await waitFor(
        "tiger's Deployment, Service and ConfigMap to be pruned",
        async () => {
          const left = await infra.kubectl([
            "-n",
            APP_NAMESPACE,
            "get",
            "deployment/tiger",
            "service/tiger",
            "configmap/tiger-config",
            "--ignore-not-found",
            "-o",
            "name",
          ]);
          return left.status === 0 && left.stdout.trim() === "" ? true : undefined;
        },
        120_000,
        2000,
      );
      const ks = (
        await infra.kubectlJson<{ items: Obj[] }>(["-n", "flux-system", "get", "kustomizations"])
      ).items;
      const names = ks.map((k) => k.metadata.name);
      if (names.some((n) => n.endsWith("-tiger")))
        throw new Error(`still there: ${names.join(", ")}`);
      const stuck = ks.filter((k) => k.metadata.deletionTimestamp);
      if (stuck.length > 0)
        throw new Error(`being deleted: ${stuck.map((k) => k.metadata.name).join(", ")}`);
      await kustomizationsReady(infra, ["beetle", "sonar"]);
      return `up ${seconds.toFixed(1)}s; tiger's objects pruned; ${names.length} Kustomizations left, none with a deletion pending`;
    },
  };
}
