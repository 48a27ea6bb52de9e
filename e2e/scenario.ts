/**
 * What every step file uses: the Step type, the e2e stacks' config, and the waits and
 * actions the steps share (pulumi, Flux, git as a developer, the GitHub stand-in).
 * The steps themselves are in steps/.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { Cluster, Infra } from "./infra";
import type { Stack } from "./infra/pulumi";
import { run, waitFor } from "./infra/procs";

/**
 * An e2e stack's config: an existing (kubeconfig) cluster where Flux already runs, GitHub as
 * GitHub Enterprise Server (the stand-in), `extra` on top (adoptRepos, replicas...).
 */
export function stackConfig(
  infra: Infra,
  cluster: Cluster,
  environment: string,
  extra: Record<string, unknown> = {},
  replicas = 1,
): Record<string, unknown> {
  const podinfo = { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0", port: 9898, replicas };
  return {
    "github:owner": infra.owner,
    "github:baseUrl": `${infra.standin.url}/`,
    "flux-platform:environment": environment,
    // Pushes reach Flux through GitHub's webhooks (the stand-in delivers them to this
    // cluster's receiver); polling is only the fallback, far slower than any step's wait.
    "flux-platform:syncInterval": "2m",
    ...(cluster.receiverUrl ? { "flux-platform:webhookReceiverUrl": cluster.receiverUrl } : {}),
    "flux-platform:cluster": { provider: "kubeconfig", context: cluster.context },
    // Flux runs as host processes (no operator: its chart and images cannot be had here).
    "flux-platform:fluxInstall": "existing",
    "flux-platform:fluxComponents": [
      "source-controller",
      "kustomize-controller",
      "notification-controller",
    ],
    // Kyverno's and Envoy Gateway's images cannot be had here; Reloader is not built (its
    // module is not served). The Gateway and routes are checked by the API server instead.
    "flux-platform:infrastructure": { kyverno: false, reloader: false, gateway: false },
    "flux-platform:gitSsh": { host: "127.0.0.1", port: infra.sshPort },
    // notification-controller posts commit statuses to the stand-in.
    "flux-platform:commitStatus": true,
    // beetle with its own settings: the API server takes its patch, HPA (and PDB from two pods).
    "flux-platform:services": Object.fromEntries(
      SERVICES.map((s) => [
        s,
        s === "beetle"
          ? {
              ...podinfo,
              readinessPath: "/readyz",
              env: { PODINFO_UI_MESSAGE: `beetle in ${environment}` },
              resources: { limits: { cpu: "500m" } },
              autoscaling: { maxReplicas: 3 },
            }
          : podinfo,
      ]),
    ),
    ...extra,
  };
}

/** Secret config of every e2e stack. */
export const stackSecrets = (infra: Infra): Record<string, string> => ({
  "github:token": infra.token,
  "flux-platform:commitStatusToken": infra.token,
});

/** Waits for a commit status with `state` from `kustomization` on a commit of the stand-in. */
export async function commitStatus(
  infra: Infra,
  repo: string,
  sha: string,
  kustomization: string,
  state: "success" | "failure",
): Promise<string> {
  return waitFor(
    `a ${state} status from ${kustomization} on ${repo}@${sha.slice(0, 8)}`,
    async () => {
      const r = await fetch(
        `${infra.standin.url}/api/v3/repos/${infra.owner}/${repo}/commits/${sha}/statuses`,
        { headers: { authorization: `token ${infra.token}` } },
      );
      const list = (await r.json()) as { state: string; context: string; description: string }[];
      const s = list.find((x) => x.context.includes(kustomization));
      return s?.state === state ? `${s.context}: ${s.state}` : undefined;
    },
    90_000,
    2000,
  );
}

export interface Step {
  readonly name: string;
  /** When it fails, the steps after it cannot mean anything: stop. */
  readonly critical?: boolean;
  /** Why the step cannot run on this machine: it is reported as skipped, never as passed. */
  readonly skip?: string;
  /** Returns a short detail for the report, or throws. */
  run(): Promise<string | void>;
}

export const SERVICES = ["beetle", "sonar", "tiger"];
export const APP_NAMESPACE = "apps";

export type Obj = {
  metadata: { name: string; namespace?: string; deletionTimestamp?: string };
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
};

export function tail(text: string, lines = 25): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

export async function pulumiOk(stack: Stack, args: string[]): Promise<number> {
  const r = await stack.pulumi(args);
  if (r.status !== 0) {
    throw new Error(
      `pulumi ${args.join(" ")} exited ${r.status}:\n${tail(r.stdout)}\n${tail(r.stderr)}`,
    );
  }
  return r.seconds;
}

export const ready = (o: Obj) =>
  o.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";

export async function kustomizationsReady(
  infra: Cluster,
  services: readonly string[] = SERVICES,
): Promise<string> {
  const expected = services.flatMap((s) => [`config-${s}`, `app-${s}`]);
  const list = await waitFor(
    "every Flux Kustomization to be Ready",
    async () => {
      const ks = (
        await infra.kubectlJson<{ items: Obj[] }>(["-n", "flux-system", "get", "kustomizations"])
      ).items;
      const names = ks.map((k) => k.metadata.name).sort();
      if (names.join() !== [...expected].sort().join()) return undefined;
      return ks.every(ready) ? ks : undefined;
    },
    180_000,
    2000,
  ).catch(async (err: Error) => {
    const ks = await infra.kubectl(["-n", "flux-system", "get", "kustomizations,gitrepositories"]);
    throw new Error(`${err.message}\n${ks.stdout}${ks.stderr}`);
  });
  return `${list.length} Kustomizations Ready`;
}

export async function servicesRunning(
  infra: Cluster,
  services: readonly string[] = SERVICES,
): Promise<string> {
  return waitFor(
    "each service's ConfigMap, Service and an Available Deployment",
    async () => {
      for (const s of services) {
        await infra.kubectlJson(["-n", APP_NAMESPACE, "get", "configmap", `${s}-config`]);
        await infra.kubectlJson(["-n", APP_NAMESPACE, "get", "service", s]);
        const d = await infra.kubectlJson<Obj>(["-n", APP_NAMESPACE, "get", "deployment", s]);
        const available = d.status?.conditions?.find((c) => c.type === "Available");
        if (available?.status !== "True") return undefined;
      }
      return `${services.length} services: ConfigMap, Service, Deployment Available`;
    },
    120_000,
    2000,
  );
}

/** git over the SSH server with one private key; returns the exit status and stderr. */
export async function gitWithKey(infra: Infra, key: string, args: string[], cwd?: string) {
  const dir = fs.mkdtempSync(path.join(infra.runDir, "key-"));
  const file = path.join(dir, "id");
  fs.writeFileSync(file, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
  const ssh = `ssh -i ${file} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes`;
  return run("git", args, { env: { ...process.env, GIT_SSH_COMMAND: ssh }, cwd });
}

export async function noNamespaceTerminating(infra: Infra): Promise<string> {
  return waitFor(
    "no namespace in Terminating",
    async () => {
      const ns = (await infra.kubectlJson<{ items: Obj[] }>(["get", "namespaces"])).items;
      const stuck = ns.filter((n) => n.status?.phase === "Terminating");
      return stuck.length === 0 ? `${ns.length} namespaces, none Terminating` : undefined;
    },
    60_000,
    2000,
  );
}

/** The text of a stack's state file in the e2e's file backend. */
export function stateText(infra: Infra, stack: Stack): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.includes(`${path.sep}stacks${path.sep}`) && p.endsWith(`${stack.name}.json`))
        files.push(p);
    }
  };
  walk(path.join(infra.runDir, "state"));
  if (files.length === 0) throw new Error("no state file found");
  return fs.readFileSync(files[0], "utf8");
}

const DEV = { user: "dev", email: "dev@example.com" };

/**
 * A developer's commit: clone `url` (the stand-in's bare repository here, GitHub in the smoke
 * run), edit, commit, push to main. Returns the new commit.
 */
export async function developerCommit(
  url: string,
  workParent: string,
  message: string,
  edit: (dir: string) => void | Promise<void>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const work = fs.mkdtempSync(path.join(workParent, "dev-"));
  const git = (args: string[]) =>
    run("git", ["-c", `user.name=${DEV.user}`, "-c", `user.email=${DEV.email}`, ...args], {
      cwd: work,
      env,
    });
  const clone = await run("git", ["clone", "-q", url, work], { env });
  if (clone.status !== 0) throw new Error(`clone: ${clone.stderr}`);
  await edit(work);
  await git(["add", "-A"]);
  const commit = await git(["commit", "-q", "-m", message]);
  if (commit.status !== 0) throw new Error(`commit: ${commit.stderr}${commit.stdout}`);
  const push = await git(["push", "-q", "origin", "HEAD:main"]);
  if (push.status !== 0) throw new Error(`push: ${push.stderr}`);
  return (await git(["rev-parse", "HEAD"])).stdout.trim();
}

/** A developer's commit to the stand-in's developer repository (see developerCommit). */
export const standinCommit = (infra: Infra, message: string, edit: (dir: string) => void) =>
  developerCommit(
    infra.standin.repoDir(infra.owner, "flux_developer"),
    infra.runDir,
    message,
    edit,
  );

async function kustomization(c: Cluster, name: string): Promise<Obj> {
  return c.kubectlJson<Obj>(["-n", "flux-system", "get", "kustomization", name]);
}

/** Waits until the Kustomization reconciled `revision` and reports Ready as `status`. */
export async function kustomizationAt(
  c: Cluster,
  name: string,
  revision: string,
  status: "True" | "False",
) {
  return waitFor(
    `${name} at ${revision.slice(0, 8)} with Ready=${status}`,
    async () => {
      const k = (await kustomization(c, name)) as Obj & {
        status?: { lastAttemptedRevision?: string };
      };
      const r = k.status?.conditions?.find((x) => x.type === "Ready");
      return k.status?.lastAttemptedRevision?.endsWith(revision) && r?.status === status
        ? r
        : undefined;
    },
    120_000,
    2000,
  );
}

/** The stand-in's answer to a GitHub REST GET, with the stacks' token. */
export async function githubGet<T>(infra: Infra, p: string): Promise<T> {
  const res = await fetch(`${infra.standin.url}/api/v3${p}`, {
    headers: { authorization: `token ${infra.token}` },
  });
  if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
  return (await res.json()) as T;
}

export type Source = Obj & {
  metadata: { annotations?: Record<string, string> };
  status?: { artifact?: { revision?: string }; lastHandledReconcileAt?: string };
};
