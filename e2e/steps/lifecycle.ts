/**
 * The life of a platform after its first up (issue "Run it for real, part 2"): bad input,
 * a developer's config change, a developer trying to deploy, key rotation, a second
 * environment and a promotion, removing a service. Each step asserts what the API server,
 * git and the GitHub stand-in show.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { Cluster, Infra, Toolchain } from "../infra";
import { loadConfig } from "../../lib/config";
import { renderStack, renderedTree, writeTree } from "../../lib/render";
import { fluxBuild, type FluxKustomization } from "../../test/support/fluxBuild";
import type { KubeObject } from "../../test/support/models";
import { run, sleep, waitFor } from "../infra/procs";
import { createStack, type Stack } from "../infra/pulumi";
import { brokenServiceStep } from "./brokenService";
import { developerCheckSteps } from "./developerCheck";
import { secretsSteps, type SecondEnvironment } from "./secrets";
import {
  APP_NAMESPACE,
  gitWithKey,
  kustomizationsReady,
  pulumiOk,
  ready,
  commitStatus,
  servicesRunning,
  stackConfig,
  stackSecrets,
  stateText,
  tail,
  type Obj,
  type Step,
} from "../scenario";

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

const standinCommit = (infra: Infra, message: string, edit: (dir: string) => void) =>
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

function badInput(t: Toolchain, infra: Infra): Step {
  return {
    name: "bad config: pulumi up refuses with every problem, creates nothing",
    run: async () => {
      const stack = await createStack(
        t,
        infra.runDir,
        "e2ebad",
        {
          "github:owner": infra.owner,
          "github:baseUrl": `${infra.standin.url}/`,
          "flux-platform:fluxVersion": "latest",
          "flux-platform:cluster": { provider: "kubeconfig", context: infra.context },
          "flux-platform:services": {
            Beetle: { image: "ghcr.io/stefanprodan/podinfo", tag: "latest" },
          },
        },
        { "github:token": infra.token },
        { KUBECONFIG: infra.kubeconfig },
      );
      const up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
      const out = up.stdout + up.stderr;
      if (up.status === 0) throw new Error("pulumi up exited 0 on an invalid config");
      const expected = [
        "fluxVersion: `latest` is not an exact Flux 2.x version",
        "services.Beetle: `Beetle` is not a valid service name",
        "services.Beetle.tag: `latest` is not a pinned image tag",
      ];
      const missing = expected.filter((e) => !out.includes(e));
      if (missing.length > 0) throw new Error(`not reported: ${missing.join("; ")}\n${tail(out)}`);
      const exported = await stack.pulumi(["stack", "export"]);
      const resources =
        (JSON.parse(exported.stdout) as { deployment?: { resources?: { type: string }[] } })
          .deployment?.resources ?? [];
      const created = resources.filter((r) => r.type !== "pulumi:pulumi:Stack");
      if (created.length > 0) throw new Error(`created: ${created.map((r) => r.type).join(", ")}`);
      return `exit ${up.status}, ${expected.length} problems listed, 0 resources created`;
    },
  };
}

function configChange(infra: Infra): Step {
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

/** The stand-in's answer to a GitHub REST GET, with the stacks' token. */
export async function githubGet<T>(infra: Infra, p: string): Promise<T> {
  const res = await fetch(`${infra.standin.url}/api/v3${p}`, {
    headers: { authorization: `token ${infra.token}` },
  });
  if (!res.ok) throw new Error(`GET ${p}: ${res.status}`);
  return (await res.json()) as T;
}

type Source = Obj & {
  metadata: { annotations?: Record<string, string> };
  status?: { artifact?: { revision?: string }; lastHandledReconcileAt?: string };
};

function pushToApply(infra: Infra): Step {
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

function developerCannotDeploy(infra: Infra): Step {
  return {
    name: "the developer repo cannot deploy: refused, reported, nothing applied",
    run: async () => {
      const evil = [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: evil}",
        "spec:",
        "  selector: {matchLabels: {app: evil}}",
        "  template:",
        "    metadata: {labels: {app: evil}}",
        "    spec: {containers: [{name: c, image: 'busybox:1.36'}]}",
        "---",
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: RoleBinding",
        "metadata: {name: evil}",
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}",
        "subjects: [{kind: ServiceAccount, name: default, namespace: apps}]",
        "",
      ].join("\n");
      const k = "beetle/e2e/kustomization.yaml";
      let original = "";
      const revision = await standinCommit(infra, "beetle: deploy something", (dir) => {
        fs.writeFileSync(path.join(dir, "beetle/e2e/evil.yaml"), evil);
        original = fs.readFileSync(path.join(dir, k), "utf8");
        fs.writeFileSync(path.join(dir, k), original + "resources:\n  - evil.yaml\n");
      });
      const cond = await kustomizationAt(infra, "config-beetle", revision, "False");
      if (!/forbidden/i.test(cond.message ?? ""))
        throw new Error(`not Ready, but: ${cond.message}`);
      const failed = await commitStatus(
        infra,
        "flux_developer",
        revision,
        "config-beetle",
        "failure",
      );
      const d = await infra.kubectl(["-n", APP_NAMESPACE, "get", "deployment", "evil"]);
      const rb = await infra.kubectl(["-n", APP_NAMESPACE, "get", "rolebinding", "evil"]);
      if (d.status === 0 || rb.status === 0)
        throw new Error("the developer's Deployment or RoleBinding was applied");
      await servicesRunning(infra, ["beetle"]);
      const back = await standinCommit(infra, "beetle: undo", (dir) => {
        fs.rmSync(path.join(dir, "beetle/e2e/evil.yaml"));
        fs.writeFileSync(path.join(dir, k), original);
      });
      await kustomizationAt(infra, "config-beetle", back, "True");
      return `refused (commit status ${failed}): ${(cond.message ?? "").split("\n")[0].slice(0, 120)}`;
    },
  };
}

/**
 * One team cannot touch another's config: a commit under `beetle/` that writes
 * `sonar-config` is refused by the API server (the admission policy allows the beetle
 * account only `beetle-config` and `beetle-secrets`), `config-beetle` reports it, and sonar's
 * ConfigMap is unchanged. The policy is then asked directly as the beetle account, for a
 * create of another name (which RBAC cannot limit by name) and for the Secrets.
 */
function otherTeamsConfig(infra: Infra): Step {
  return {
    name: "one team cannot touch another's config: refused by the API server, sonar unchanged",
    run: async () => {
      const sonar = () =>
        infra.kubectlJson<{ metadata: { resourceVersion: string }; data: Record<string, string> }>([
          "-n",
          APP_NAMESPACE,
          "get",
          "configmap",
          "sonar-config",
        ]);
      const before = await sonar();
      const k = "beetle/e2e/kustomization.yaml";
      let original = "";
      const revision = await standinCommit(infra, "beetle: change sonar's config", (dir) => {
        fs.writeFileSync(
          path.join(dir, "beetle/e2e/sonar.yaml"),
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sonar-config}\ndata: {hijacked: 'true'}\n",
        );
        original = fs.readFileSync(path.join(dir, k), "utf8");
        fs.writeFileSync(path.join(dir, k), original + "resources:\n  - sonar.yaml\n");
      });
      const cond = await kustomizationAt(infra, "config-beetle", revision, "False");
      if (
        !/forbidden/i.test(cond.message ?? "") ||
        !(cond.message ?? "").includes("sonar-config")
      ) {
        throw new Error(`not Ready, but: ${cond.message}`);
      }
      const after = await sonar();
      if (
        after.metadata.resourceVersion !== before.metadata.resourceVersion ||
        after.data.hijacked
      ) {
        throw new Error("sonar's ConfigMap was changed");
      }
      // What RBAC cannot limit by name: a create of another name, asked as the beetle account.
      const as = "system:serviceaccount:flux-system:config-beetle";
      const create = await infra.kubectl([
        "-n",
        APP_NAMESPACE,
        "create",
        "configmap",
        "sonar-extra",
        "--dry-run=server",
        `--as=${as}`,
      ]);
      const expected = `service beetle may write only its own ConfigMap ${APP_NAMESPACE}/beetle-config and Secret ${APP_NAMESPACE}/beetle-secrets; refused: ConfigMap ${APP_NAMESPACE}/sonar-extra`;
      if (create.status === 0 || !create.stderr.includes(expected)) {
        throw new Error(`create as ${as}: exit ${create.status}: ${create.stderr}`);
      }
      // Its own Secret beetle-secrets may be written (team secrets); sonar's may not.
      const secret = (name: string) =>
        infra.kubectl([
          "-n",
          APP_NAMESPACE,
          "create",
          "secret",
          "generic",
          name,
          "--from-literal=K=v",
          "--dry-run=server",
          `--as=${as}`,
        ]);
      const own = await secret("beetle-secrets");
      if (own.status !== 0) throw new Error(`its own Secret was refused: ${own.stderr}`);
      const other = await secret("sonar-secrets");
      if (
        other.status === 0 ||
        !other.stderr.includes(`refused: Secret ${APP_NAMESPACE}/sonar-secrets`)
      ) {
        throw new Error(`sonar's Secret as ${as}: exit ${other.status}: ${other.stderr}`);
      }
      const back = await standinCommit(infra, "beetle: undo", (dir) => {
        fs.rmSync(path.join(dir, "beetle/e2e/sonar.yaml"));
        fs.writeFileSync(path.join(dir, k), original);
      });
      await kustomizationAt(infra, "config-beetle", back, "True");
      return `refused: ${(cond.message ?? "").split("\n")[0].slice(0, 110)}; sonar-config unchanged; the policy refused a create as config-beetle: "${expected}"; its own Secret beetle-secrets allowed, sonar-secrets refused`;
    },
  };
}

function keyRotation(infra: Infra, stack: Stack): Step {
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

function twoEnvironments(
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

function removeService(infra: Infra, stack: Stack): Step {
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

/**
 * Switches the dev stack from deploy keys to a GitHub App (registered on the stand-in with a
 * key made here): one up revokes dev's deploy keys, grants the App's installation both repos,
 * and Flux reads them over HTTPS with installation tokens; the commit statuses come from the
 * App too, since the token Secret is gone.
 */
function githubAppMode(infra: Infra, stack: Stack): Step {
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

/**
 * Envoy Gateway's chart and images cannot be had here, so the e2e stacks run with the
 * Gateway off; this step renders the same stack with it on, builds the Gateway's and every
 * service's Kustomization as kustomize-controller would, and has the real API server, with
 * the Gateway API CRDs of the pinned module installed, accept them (server-side dry run:
 * schema and CEL validation, nothing stored).
 */
function gatewayAccepted(t: Toolchain, infra: Infra): Step {
  return {
    name: "Gateway API: the rendered Gateway and every HTTPRoute are accepted by the API server",
    run: async () => {
      const dir = path.join(fs.realpathSync(t.crds), "gateway-api");
      const crds = fs.readdirSync(dir).flatMap((f) => ["-f", path.join(dir, f)]);
      const installed = await infra.kubectl(["apply", "--server-side", ...crds]);
      if (installed.status !== 0) throw new Error(`Gateway API CRDs: ${installed.stderr}`);
      await infra.kubectl([
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd",
        "-l",
        "gateway.networking.k8s.io/bundle-version",
      ]);
      const raw = stackConfig(infra, infra, "e2e", {
        "flux-platform:infrastructure": { kyverno: false, reloader: false, gateway: true },
        "flux-platform:commitStatus": false,
        // A receiver host under the ingress domain: its route and ReferenceGrant too.
        "flux-platform:webhookReceiverUrl": "http://flux-webhook.e2e.localhost",
      });
      const rendered = renderStack(loadConfig(raw, "e2e"));
      const out = fs.mkdtempSync(path.join(infra.runDir, "gateway-"));
      writeTree(out, renderedTree(rendered));
      const objects = rendered.clusterObjects
        .filter(
          (o) =>
            o.kind === "Kustomization" && /^(infrastructure-gateway|app-)/.test(o.metadata.name),
        )
        .flatMap((ks) =>
          fluxBuild(
            ks as unknown as FluxKustomization,
            path.join(out, rendered.config.platformRepo),
          ),
        )
        .concat(rendered.cluster.receivers as KubeObject[])
        .filter((o) => o.apiVersion.startsWith("gateway.networking.k8s.io/"));
      const file = path.join(out, "gateway-objects.yaml");
      fs.writeFileSync(file, objects.map((o) => JSON.stringify(o)).join("\n---\n"));
      const dry = await infra.kubectl(["apply", "--dry-run=server", "-f", file]);
      if (dry.status !== 0) throw new Error(`refused: ${dry.stderr}`);
      const routes = objects.filter((o) => o.kind === "HTTPRoute").length;
      const lines = dry.stdout.trim().split("\n");
      const grants = objects.filter((o) => o.kind === "ReferenceGrant").length;
      if (lines.length !== objects.length || routes !== 4 || grants !== 1) {
        throw new Error(
          `expected ${objects.length} objects with 4 routes and a ReferenceGrant, the API server answered:\n${dry.stdout}`,
        );
      }
      // The check has teeth: the same API server refuses a route the Gateway API forbids.
      const route = objects.find((o) => o.kind === "HTTPRoute")!;
      const broken = JSON.parse(JSON.stringify(route)) as { spec: { hostnames: string[] } };
      broken.spec.hostnames = ["Not_A_Host"];
      const bad = await infra.kubectl(
        ["apply", "--dry-run=server", "-f", "-"],
        JSON.stringify(broken),
      );
      if (bad.status === 0)
        throw new Error("the API server accepted an HTTPRoute with an invalid host name");
      return `${objects.length} objects (GatewayClass, Gateway, ${routes} HTTPRoutes incl. the webhook receiver's, its ReferenceGrant) accepted (server dry run); an invalid host name refused`;
    },
  };
}

export function lifecycle(t: Toolchain, infra: Infra, dev: Stack): Step[] {
  const second: SecondEnvironment = { environment: "prd" };
  const secrets = secretsSteps(t, infra, dev, second);
  return [
    gatewayAccepted(t, infra),
    badInput(t, infra),
    configChange(infra),
    pushToApply(infra),
    developerCannotDeploy(infra),
    otherTeamsConfig(infra),
    brokenServiceStep(infra, dev),
    ...secrets.steps,
    ...developerCheckSteps(t, infra),
    keyRotation(infra, dev),
    ...twoEnvironments(t, infra, dev, second),
    secrets.acrossEnvironments,
    removeService(infra, dev),
    githubAppMode(infra, dev),
  ];
}
