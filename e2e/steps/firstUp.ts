/**
 * The first end-to-end scenario: up, what Flux made of it, a no-op preview, destroy, and
 * up again. Each step throws with what it saw when an assertion fails.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Infra } from "../infra";
import { run } from "../infra/procs";
import type { Stack } from "../infra/pulumi";
import {
  commitStatus,
  gitWithKey,
  kustomizationsReady,
  noNamespaceTerminating,
  pulumiOk,
  SERVICES,
  servicesRunning,
  stateText,
  type Step,
} from "../scenario";

const DESTROY_BOUND_SECONDS = 300;

async function deployKeysAreTheOnlyAccess(infra: Infra): Promise<string> {
  const secret = await infra.kubectlJson<{ data: Record<string, string> }>([
    "-n",
    "flux-system",
    "get",
    "secret",
    "flux-platform-deploy-key",
  ]);
  const identity = Buffer.from(secret.data.identity, "base64").toString();
  const url = `ssh://git@127.0.0.1:${infra.sshPort}/${infra.owner}/flux_platform`;
  const ls = await gitWithKey(infra, identity, ["ls-remote", url, "refs/heads/main"]);
  if (ls.status !== 0 || !/refs\/heads\/main/.test(ls.stdout)) {
    throw new Error(`the platform deploy key cannot read its repository: ${ls.stderr}`);
  }
  const other = await gitWithKey(infra, identity, [
    "ls-remote",
    `ssh://git@127.0.0.1:${infra.sshPort}/${infra.owner}/flux_developer`,
  ]);
  if (other.status === 0) throw new Error("the platform deploy key reads the developer repository");
  const work = fs.mkdtempSync(path.join(infra.runDir, "clone-"));
  const clone = await gitWithKey(infra, identity, ["clone", "-q", url, work]);
  if (clone.status !== 0) throw new Error(`clone with the deploy key failed: ${clone.stderr}`);
  await run("git", [
    "-C",
    work,
    "-c",
    "user.name=x",
    "-c",
    "user.email=x@example.com",
    "commit",
    "-q",
    "--allow-empty",
    "-m",
    "should not land",
  ]);
  const push = await gitWithKey(infra, identity, ["push", "-q", "origin", "HEAD:main"], work);
  if (push.status === 0) throw new Error("a read-only deploy key pushed to the repository");
  const stranger = fs.readFileSync(path.join(infra.runDir, "ssh", "host_ed25519"), "utf8");
  const foreign = await gitWithKey(infra, stranger, ["ls-remote", url]);
  if (foreign.status === 0) throw new Error("a key that is no deploy key reads the repository");
  return "deploy key reads its own repo only; push refused; unknown key refused";
}

async function reposKeptKeysRevoked(infra: Infra): Promise<string> {
  const out: string[] = [];
  for (const repo of ["flux_platform", "flux_developer"]) {
    const dir = infra.standin.repoDir(infra.owner, repo);
    if (!fs.existsSync(dir)) throw new Error(`${repo} is gone from the GitHub stand-in`);
    const count = await run("git", ["-C", dir, "rev-list", "--count", "main"]);
    out.push(`${repo}: ${count.stdout.trim()} commits`);
  }
  const keys = fs.readFileSync(path.join(infra.runDir, "ssh", "authorized_keys"), "utf8").trim();
  if (keys !== "") throw new Error(`deploy keys still registered after destroy:\n${keys}`);
  for (const repo of ["flux_platform", "flux_developer"]) {
    const res = await fetch(`${infra.standin.url}/api/v3/repos/${infra.owner}/${repo}/hooks`, {
      headers: { authorization: `token ${infra.token}` },
    });
    const hooks = (await res.json()) as unknown[];
    if (hooks.length > 0) throw new Error(`${repo}: webhooks left after destroy`);
  }
  // The environment's age keys leave with the stack (the namespace stays on a kubeconfig
  // cluster); `.sops.yaml` and whatever was encrypted stay in Git.
  const agekeys = await infra.kubectl(["-n", "flux-system", "get", "secret", "sops-age"]);
  if (agekeys.status === 0 || !/NotFound/.test(agekeys.stderr))
    throw new Error(`flux-system/sops-age after destroy: exit ${agekeys.status} ${agekeys.stderr}`);
  const sops = await run("git", [
    "-C",
    infra.standin.repoDir(infra.owner, "flux_developer"),
    "cat-file",
    "-e",
    "main:.sops.yaml",
  ]);
  if (sops.status !== 0) throw new Error("the developer repo lost .sops.yaml");
  return `${out.join(", ")}; no deploy key or webhook left; sops-age deleted, .sops.yaml kept`;
}

/**
 * The stack's state file: the GitHub token, the deploy keys and the generated webhook token
 * (read back from the cluster Secret) only as ciphertext.
 */
async function stateHasNoPlainSecret(infra: Infra, stack: Stack): Promise<string> {
  const text = stateText(infra, stack);
  const hook = await infra.kubectlJson<{ data: Record<string, string> }>([
    "-n",
    "flux-system",
    "get",
    "secret",
    "github-webhook-token",
  ]);
  const webhookToken = Buffer.from(hook.data.token, "base64").toString();
  const leaks = [
    [infra.token, "the GitHub token"],
    // Every OpenSSH private key's body starts with base64("openssh-key-v1\0"); the
    // serialized key-pair provider's code carries only the PEM armour, not this.
    ["b3BlbnNzaC1rZXktdjEA", "a private key"],
    [webhookToken, "the webhook token"],
  ].filter(([needle]) => text.includes(needle));
  // An age identity is `AGE-SECRET-KEY-1` and 58 bech32 characters (the library's own code,
  // serialized with the provider, carries only the prefix).
  if (/AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}/.test(text)) leaks.push(["", "an age identity"]);
  if (leaks.length > 0)
    throw new Error(`the state holds ${leaks.map(([, w]) => w).join(" and ")} in plain text`);
  const ciphertexts = (text.match(/"ciphertext"/g) ?? []).length;
  return `${ciphertexts} secret values, all encrypted (GitHub token, deploy keys, webhook token, age keys)`;
}

export function checks(infra: Infra, stack: Stack): Step[] {
  return [
    {
      name: "pulumi up (first)",
      critical: true,
      run: async () =>
        `exit 0 in ${(await pulumiOk(stack, ["up", "--yes", "--skip-preview"])).toFixed(1)}s`,
    },
    {
      name: "every Flux Kustomization Ready",
      critical: true,
      run: () => kustomizationsReady(infra),
    },
    { name: "services applied by Flux, Deployments Available", run: () => servicesRunning(infra) },
    {
      name: "deploy keys: read-only, per repository, the only access",
      run: () => deployKeysAreTheOnlyAccess(infra),
    },
    {
      name: "commit statuses: each environment marks the platform commit it applied",
      run: async () => {
        const dir = infra.standin.repoDir(infra.owner, "flux_platform");
        const head = (await run("git", ["-C", dir, "rev-parse", "main"])).stdout.trim();
        const marks = [];
        for (const s of SERVICES)
          marks.push(await commitStatus(infra, "flux_platform", head, `app-${s}`, "success"));
        return marks.join(", ");
      },
    },
    {
      name: "state: GitHub token, private keys, webhook token and age keys encrypted",
      run: () => stateHasNoPlainSecret(infra, stack),
    },
    {
      name: "pulumi preview --expect-no-changes",
      run: async () =>
        `exit 0 in ${(await pulumiOk(stack, ["preview", "--expect-no-changes", "--diff"])).toFixed(1)}s`,
    },
    {
      name: `pulumi destroy (bound ${DESTROY_BOUND_SECONDS}s)`,
      critical: true,
      run: async () => {
        const seconds = await pulumiOk(stack, ["destroy", "--yes", "--skip-preview"]);
        if (seconds > DESTROY_BOUND_SECONDS) throw new Error(`took ${seconds}s`);
        return `exit 0 in ${seconds.toFixed(1)}s`;
      },
    },
    { name: "after destroy: no namespace Terminating", run: () => noNamespaceTerminating(infra) },
    {
      name: "after destroy: repositories kept, deploy keys revoked, age keys deleted",
      run: () => reposKeptKeysRevoked(infra),
    },
    {
      name: "pulumi up again after destroy",
      critical: true,
      run: async () =>
        `exit 0 in ${(await pulumiOk(stack, ["up", "--yes", "--skip-preview"])).toFixed(1)}s`,
    },
    { name: "every Flux Kustomization Ready again", run: () => kustomizationsReady(infra) },
  ];
}
