/**
 * GitHub App mode (issue "Run it for real, part 2"): Flux and the commit statuses move from
 * deploy keys and a token to a GitHub App's installation tokens.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Infra } from "../infra";
import { run, waitFor } from "../infra/procs";
import type { Stack } from "../infra/pulumi";
import {
  commitStatus,
  githubGet,
  kustomizationAt,
  pulumiOk,
  ready,
  type Source,
  standinCommit,
  stateText,
  type Step,
} from "../scenario";

/**
 * Switches the dev stack from deploy keys to a GitHub App (registered on the stand-in with a
 * key made here): one up revokes dev's deploy keys, grants the App's installation both repos,
 * and Flux reads them over HTTPS with installation tokens; the commit statuses come from the
 * App too, since the token Secret is gone.
 */
export function githubAppMode(infra: Infra, stack: Stack): Step {
  return {
    name: "GitHub App mode: one up moves Flux from deploy keys to the App's installation tokens",
    run: async () => {
      const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
      const res = await fetch(`${infra.standin.url}/_standin/apps`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          id: 424242,
          slug: "flux-platform-e2e",
          owner: infra.owner,
          publicKeyPem: publicKey.export({ type: "spki", format: "pem" }),
        }),
      });
      if (res.status !== 201) throw new Error(`registering the App: ${res.status}`);
      const { installationId } = (await res.json()) as { installationId: number };
      // As the README says to: the App's numbers through --path.
      for (const args of [
        ["flux-platform:gitAuth", "githubApp"],
        ["--path", "flux-platform:githubApp.appId", "424242"],
        ["--path", "flux-platform:githubApp.installationId", String(installationId)],
      ]) {
        const set = await stack.pulumi(["config", "set", ...args]);
        if (set.status !== 0) throw new Error(set.stderr);
      }
      // The key goes on stdin, as `pulumi config set --secret ... < app.pem` takes it.
      const setKey = await run(
        "pulumi",
        [
          "config",
          "set",
          "--secret",
          "flux-platform:githubAppPrivateKey",
          "--stack",
          stack.name,
          "--non-interactive",
        ],
        {
          env: stack.env,
          cwd: stack.dir,
          input: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
        },
      );
      if (setKey.status !== 0) throw new Error(setKey.stderr);
      const from = infra.standin.requests.length;
      const seconds = await pulumiOk(stack, ["up", "--yes", "--skip-preview"]);

      // GitHub: dev's deploy keys revoked, the installation holds both repos.
      for (const repo of ["flux_platform", "flux_developer"]) {
        const keys = await githubGet<{ title: string }[]>(
          infra,
          `/repos/${infra.owner}/${repo}/keys`,
        );
        if (keys.some((k) => k.title === "flux-e2e"))
          throw new Error(`${repo}: dev's deploy key is still there`);
      }
      const granted = await githubGet<{ repositories: { name: string }[] }>(
        infra,
        `/user/installations/${installationId}/repositories`,
      );
      const names = granted.repositories.map((r) => r.name).sort();
      if (names.join() !== "flux_developer,flux_platform")
        throw new Error(`granted: ${names.join()}`);

      // Flux: both sources over HTTPS-style URLs with provider github, at main's head.
      for (const repo of ["flux_platform", "flux_developer"]) {
        const name = repo.replace("_", "-");
        const head = (
          await run("git", ["-C", infra.standin.repoDir(infra.owner, repo), "rev-parse", "main"])
        ).stdout.trim();
        await waitFor(
          `${name} to read ${head.slice(0, 8)} with the App`,
          async () => {
            const s = await infra.kubectlJson<
              Source & { spec: { url: string; provider?: string } }
            >(["-n", "flux-system", "get", "gitrepository", name]);
            return s.spec.provider === "github" &&
              s.spec.url === `${infra.standin.url}/${infra.owner}/${repo}` &&
              ready(s) &&
              s.status?.artifact?.revision?.endsWith(head)
              ? true
              : undefined;
          },
          60_000,
          500,
        );
      }
      const git = (path: RegExp) =>
        infra.standin.requests.slice(from).filter((q) => path.test(q.path) && q.status === 200)
          .length;
      const tokens = infra.standin.requests
        .slice(from)
        .filter(
          (q) =>
            q.method === "POST" &&
            q.path === `/app/installations/${installationId}/access_tokens` &&
            q.status === 201,
        ).length;
      // Flux asks for the refs first and clones only when main moved (nothing new here).
      const refs = git(/\/info\/refs$/);
      if (tokens === 0 || refs === 0) {
        throw new Error(`installation tokens issued: ${tokens}, ref listings over HTTP: ${refs}`);
      }
      const tokenSecret = await infra.kubectl([
        "-n",
        "flux-system",
        "get",
        "secret",
        "commit-status-token",
        "--ignore-not-found",
        "-o",
        "name",
      ]);
      if (tokenSecret.stdout.trim() !== "")
        throw new Error("the commit-status token Secret is still there");

      // A developer's commit: fetched (webhook), applied, and marked by the App.
      const revision = await standinCommit(infra, "beetle: read by the App", (dir) => {
        fs.appendFileSync(path.join(dir, "beetle/e2e/config.yaml"), "# read by the App\n");
      });
      await kustomizationAt(infra, "config-beetle", revision, "True");
      const clones = git(/\/git-upload-pack$/);
      if (clones === 0) throw new Error("the new commit was not fetched over git smart HTTP");
      const status = await commitStatus(
        infra,
        "flux_developer",
        revision,
        "config-beetle",
        "success",
      );
      // The App's private key is in the state only as ciphertext.
      const pemBody = privateKey.export({ type: "pkcs1", format: "pem" }).toString().split("\n")[1];
      if (stateText(infra, stack).includes(pemBody)) {
        throw new Error("the state holds the App's private key in plain text");
      }
      return `one up (${seconds.toFixed(1)}s): deploy keys revoked, installation ${installationId} granted both repos; ${tokens} installation tokens, ${refs} ref listings and ${clones} fetches over git smart HTTP; a developer's commit applied and marked ${status} with the App's token; its private key only encrypted in the state`;
    },
  };
}
