/**
 * npm run smoke -- --stack <name> [--service beetle]
 *
 * The e2e's steps against the real things, for a platform team's own machine: the stack's
 * real GitHub (github:token / GITHUB_TOKEN) and its minikube (or kubeconfig) cluster, with
 * the `pulumi`, `kubectl`, `git` and `minikube` on PATH and the stack's own backend.
 * Steps: `pulumi up`; every Flux Kustomization Ready; a config change committed to the
 * developer repo reaches the ConfigMap and Reloader rolls the Deployment (a new ReplicaSet);
 * `pulumi destroy`. It CHANGES real things: it creates or updates the stack's repositories,
 * cluster and deploy keys, pushes one commit to `<service>/<env>/config.yaml` of the
 * developer repo (it stays: history is never rewritten), and destroys the stack at the end
 * (repositories and their files are kept). It cannot run on the build machines (no GitHub,
 * minikube or Docker there); `npm run e2e` runs the same step code against local stand-ins.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { Cluster } from "./infra";
import { REPO_ROOT } from "./infra";
import { run, waitFor } from "./infra/procs";
import {
  developerCommit,
  kustomizationAt,
  kustomizationsReady,
  pulumiOk,
  type Step,
} from "./scenario";
import type { Stack } from "./infra/pulumi";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { stack: { type: "string" }, service: { type: "string", default: "beetle" } },
  });
  if (!values.stack) {
    console.error("usage: npm run smoke -- --stack <name> [--service beetle]");
    return 2;
  }
  const name = values.stack;
  const service = values.service ?? "beetle";
  const stack: Stack = {
    name,
    dir: REPO_ROOT,
    env: process.env,
    pulumi: (args, timeoutMs = 30 * 60_000) =>
      run("pulumi", [...args, "--stack", name, "--non-interactive"], { cwd: REPO_ROOT, timeoutMs }),
  };
  const outputs = JSON.parse(
    (await stack.pulumi(["stack", "output", "--json"])).stdout || "{}",
  ) as Record<string, string>;
  const token = process.env.GITHUB_TOKEN ?? "";
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "flux-platform-smoke-"));
  let cluster: Cluster | undefined;
  const steps: Step[] = [
    {
      name: "pulumi up",
      critical: true,
      run: async () => {
        const s = await pulumiOk(stack, ["up", "--yes"]);
        Object.assign(
          outputs,
          JSON.parse((await stack.pulumi(["stack", "output", "--json"])).stdout) as object,
        );
        const context = outputs.kubeContext;
        const kubectl = (args: string[]) => run("kubectl", ["--context", context, ...args]);
        cluster = {
          kubeconfig: process.env.KUBECONFIG ?? path.join(os.homedir(), ".kube/config"),
          context,
          kubectl,
          kubectlJson: async <T>(args: string[]) =>
            JSON.parse((await kubectl([...args, "-o", "json"])).stdout) as T,
        };
        return `exit 0 in ${s.toFixed(1)}s`;
      },
    },
    {
      name: "every Flux Kustomization Ready",
      run: async () => {
        const got = await stack.pulumi(["config", "get", "flux-platform:services", "--json"]);
        const parsed = JSON.parse(got.stdout) as { value: string; objectValue?: object };
        const services = Object.keys(parsed.objectValue ?? (JSON.parse(parsed.value) as object));
        return kustomizationsReady(cluster!, services);
      },
    },
    {
      name: "config change: ConfigMap updated, Reloader rolls the Deployment",
      run: async () => {
        const env = outputs.environment;
        const sets = async () =>
          (
            await cluster!.kubectlJson<{ items: unknown[] }>([
              "-n",
              "apps",
              "get",
              "replicasets",
              "-l",
              `app.kubernetes.io/name=${service}`,
            ])
          ).items.length;
        const before = await sets();
        const url =
          outputs.developerRepoUrl.replace("https://", `https://x-access-token:${token}@`) + ".git";
        const revision = await developerCommit(
          url,
          work,
          `smoke: ${service} config change`,
          (dir) => {
            fs.appendFileSync(
              path.join(dir, `${service}/${env}/config.yaml`),
              `# smoke ${new Date().toISOString()}\nsmokeRun: true\n`,
            );
          },
        );
        await kustomizationAt(cluster!, `config-${service}`, revision, "True");
        await waitFor(
          "a new ReplicaSet (Reloader)",
          async () => ((await sets()) > before ? true : undefined),
          300_000,
          5000,
        );
        return `commit ${revision.slice(0, 8)} applied, Deployment rolled`;
      },
    },
    {
      name: "pulumi destroy",
      run: async () => `exit 0 in ${(await pulumiOk(stack, ["destroy", "--yes"])).toFixed(1)}s`,
    },
  ];
  let failed = 0;
  for (const step of steps) {
    const t0 = Date.now();
    try {
      const detail = await step.run();
      console.log(
        `ok   ${step.name} (${((Date.now() - t0) / 1000).toFixed(1)}s)${detail ? `: ${detail}` : ""}`,
      );
    } catch (err) {
      failed++;
      console.log(`FAIL ${step.name}: ${err instanceof Error ? err.message : String(err)}`);
      if (step.critical) break;
    }
  }
  console.log(`${steps.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

void main().then((code) => process.exit(code));
