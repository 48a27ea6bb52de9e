/**
 * Deploy key rotation (issue "Run it for real, part 2"): one up registers the new key before
 * the old one goes, and the sources stay Ready throughout.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Infra } from "../infra";
import { sleep } from "../infra/procs";
import type { Stack } from "../infra/pulumi";
import { gitWithKey, type Obj, pulumiOk, ready, type Step } from "../scenario";

export function keyRotation(infra: Infra, stack: Stack): Step {
  return {
    name: "key rotation: new key registered before the old one goes, source Ready throughout",
    run: async () => {
      const from = infra.standin.requests.length;
      let polling = true;
      const notReady: string[] = [];
      const poll = (async () => {
        while (polling) {
          const repos = await infra
            .kubectlJson<{ items: Obj[] }>(["-n", "flux-system", "get", "gitrepositories"])
            .catch(() => ({ items: [] as Obj[] }));
          for (const r of repos.items) if (!ready(r)) notReady.push(r.metadata.name);
          await sleep(500);
        }
      })();
      const set = await stack.pulumi(["config", "set", "flux-platform:deployKeyGeneration", "2"]);
      if (set.status !== 0) throw new Error(set.stderr);
      const seconds = await pulumiOk(stack, ["up", "--yes", "--skip-preview"]).finally(() => {
        polling = false;
      });
      await poll;
      const calls = infra.standin.requests.slice(from).map((q) => `${q.method} ${q.path}`);
      for (const repo of ["flux_platform", "flux_developer"]) {
        const post = calls.indexOf(`POST /repos/${infra.owner}/${repo}/keys`);
        const del = calls.findIndex((c) =>
          c.startsWith(`DELETE /repos/${infra.owner}/${repo}/keys/`),
        );
        if (post < 0 || del < 0 || post > del) {
          throw new Error(
            `${repo}: key calls in this order: ${calls.filter((c) => c.includes("/keys")).join(", ")}`,
          );
        }
      }
      if (notReady.length > 0)
        throw new Error(`not Ready during the rotation: ${[...new Set(notReady)].join(", ")}`);
      const lines = fs
        .readFileSync(path.join(infra.runDir, "ssh", "authorized_keys"), "utf8")
        .trim()
        .split("\n");
      if (lines.length !== 2)
        throw new Error(`${lines.length} deploy keys registered after the rotation`);
      const secret = await infra.kubectlJson<{ data: Record<string, string> }>([
        "-n",
        "flux-system",
        "get",
        "secret",
        "flux-developer-deploy-key",
      ]);
      const identity = Buffer.from(secret.data.identity, "base64").toString();
      const ls = await gitWithKey(infra, identity, [
        "ls-remote",
        `ssh://git@127.0.0.1:${infra.sshPort}/${infra.owner}/flux_developer`,
      ]);
      if (ls.status !== 0) throw new Error(`the new key cannot read: ${ls.stderr}`);
      return `one up (${seconds.toFixed(1)}s): POST new key before DELETE old for both repos; GitRepositories Ready at every poll; 2 keys left`;
    },
  };
}
