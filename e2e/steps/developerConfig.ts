/**
 * A developer's config change, end to end (issue "Run it for real, part 2"): a commit to the
 * developer repo reaches the service's ConfigMap in place with a commit status, and a push
 * reaches Flux through its webhook in seconds, not at the polling interval.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Infra } from "../infra";
import { waitFor } from "../infra/procs";
import {
  APP_NAMESPACE,
  commitStatus,
  githubGet,
  kustomizationAt,
  type Obj,
  ready,
  type Source,
  stackConfig,
  standinCommit,
  type Step,
} from "../scenario";

export function configChange(infra: Infra): Step {
  return {
    name: "a developer's config change reaches the ConfigMap (same name)",
    run: async () => {
      const before = await infra.kubectlJson<Obj & { metadata: { uid: string } }>([
        "-n",
        APP_NAMESPACE,
        "get",
        "configmap",
        "beetle-config",
      ]);
      const revision = await standinCommit(infra, "beetle: turn on newCheckout in e2e", (dir) => {
        fs.appendFileSync(
          path.join(dir, "beetle/e2e/config.yaml"),
          "featureFlags:\n  newCheckout: true\n",
        );
      });
      await kustomizationAt(infra, "config-beetle", revision, "True");
      const after = await infra.kubectlJson<{
        metadata: { uid: string };
        data: Record<string, string>;
      }>(["-n", APP_NAMESPACE, "get", "configmap", "beetle-config"]);
      if (!after.data["override.yaml"]?.includes("newCheckout: true")) {
        throw new Error(`override.yaml is now:\n${after.data["override.yaml"]}`);
      }
      if (after.metadata.uid !== before.metadata.uid) throw new Error("the ConfigMap was replaced");
      const status = await commitStatus(
        infra,
        "flux_developer",
        revision,
        "config-beetle",
        "success",
      );
      return `override.yaml updated in place; commit status ${status}; the rollout is Reloader's, which is not run here (its module is not served)`;
    },
  };
}

interface HookJson {
  id: number;
  active: boolean;
  events: string[];
  config: { url: string };
}

export function pushToApply(infra: Infra): Step {
  return {
    name: "push to apply: a signed push makes the source fetch in seconds, not at its poll",
    run: async () => {
      const interval = String(stackConfig(infra, infra, "e2e")["flux-platform:syncInterval"]);
      // Each repo's webhook points at its Receiver's path, which the controller published.
      const paths: string[] = [];
      for (const [repo, receiver] of [
        ["flux_platform", "flux-platform-push"],
        ["flux_developer", "flux-developer-push"],
      ]) {
        const hooks = await githubGet<HookJson[]>(infra, `/repos/${infra.owner}/${repo}/hooks`);
        const r = await infra.kubectlJson<Obj & { status?: { webhookPath?: string } }>([
          "-n",
          "flux-system",
          "get",
          "receiver",
          receiver,
        ]);
        const url = `${infra.receiverUrl}${r.status?.webhookPath ?? "(no webhookPath)"}`;
        if (hooks.length !== 1 || hooks[0].config.url !== url || !hooks[0].active) {
          throw new Error(`${repo}: hooks ${JSON.stringify(hooks)}, receiver at ${url}`);
        }
        if (!ready(r)) throw new Error(`Receiver ${receiver} is not Ready`);
        paths.push(url);
      }
      const source = () =>
        infra.kubectlJson<Source>(["-n", "flux-system", "get", "gitrepository", "flux-developer"]);
      const before = await source();
      const pushed = Date.now();
      const revision = await standinCommit(infra, "sonar: a comment, pushed", (dir) => {
        fs.appendFileSync(path.join(dir, "sonar/e2e/config.yaml"), "# pushed\n");
      });
      const after = await waitFor(
        `flux-developer to fetch ${revision.slice(0, 8)}`,
        async () => {
          const s = await source();
          return s.status?.artifact?.revision?.endsWith(revision) ? s : undefined;
        },
        60_000,
        100,
      );
      const seconds = (Date.now() - pushed) / 1000;
      // The receiver's doing, not a poll: it set the reconcile request the controller handled.
      const requested = after.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"];
      if (
        !requested ||
        requested === before.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"] ||
        after.status?.lastHandledReconcileAt !== requested
      ) {
        throw new Error(
          `fetched after ${seconds.toFixed(1)}s, but not on a receiver's request (requestedAt ${requested}, handled ${after.status?.lastHandledReconcileAt})`,
        );
      }
      if (seconds > 10) throw new Error(`fetched ${seconds.toFixed(1)}s after the push`);
      const [hook] = await githubGet<HookJson[]>(
        infra,
        `/repos/${infra.owner}/flux_developer/hooks`,
      );
      const deliveries = await githubGet<{ event: string; status_code: number }[]>(
        infra,
        `/repos/${infra.owner}/flux_developer/hooks/${hook.id}/deliveries`,
      );
      const last = deliveries.find((d) => d.event === "push");
      if (last?.status_code !== 200) throw new Error(`push delivery: ${JSON.stringify(last)}`);
      await kustomizationAt(infra, "config-sonar", revision, "True");
      return `fetched ${seconds.toFixed(1)}s after the push (polling interval ${interval}); the receiver answered the signed delivery 200; ${paths.length} webhooks on the Receivers' paths`;
    },
  };
}
