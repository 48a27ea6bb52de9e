/**
 * The README's first run, through the real engine and the real command plugin: a minikube
 * stack driven against the minikube double (e2e/infra/minikube/double.ts). These steps need a
 * `pulumi-resource-command` (the toolchain cannot build it: the Go module proxy does not
 * serve its module); without one they are reported as skipped, never as passed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Infra, Toolchain } from "../infra";
import { run, waitFor } from "../infra/procs";
import { createStack, type Stack } from "../infra/pulumi";
import { SERVICES, tail, type Step } from "../scenario";
import { cleanupProfiles, STATUS } from "../infra/minikube/double";

const STACK = "mk";
const PROFILE = `minikube-${STACK}`;

/**
 * Where a `pulumi-resource-command` is: the toolchain's bin, PATH, or Pulumi's plugin cache
 * (`pulumi plugin install resource command v1.2.1` puts it in
 * `~/.pulumi/plugins/resource-command-v1.2.1/`). The folder to put first on PATH, or undefined.
 */
export function findCommandPlugin(t: Toolchain): string | undefined {
  const name = "pulumi-resource-command";
  const dirs = [t.bin, ...(process.env.PATH ?? "").split(":").filter(Boolean)];
  const home = process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
  const plugins = path.join(home, "plugins");
  if (fs.existsSync(plugins)) {
    // Newest first: resource-command-v1.2.1 before v1.1.0.
    const cached = fs
      .readdirSync(plugins)
      .filter((d) => /^resource-command-v\d/.test(d))
      .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
    dirs.push(...cached.map((d) => path.join(plugins, d)));
  }
  return dirs.find((d) => fs.existsSync(path.join(d, name)));
}

interface Minikube {
  stack: Stack;
  home: string;
  kubeconfig: string;
  calls(): string[];
  minikube(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }>;
  kubectl(args: string[]): Promise<{ status: number; stdout: string; stderr: string }>;
  server(): string | undefined;
}

async function setUp(t: Toolchain, infra: Infra, pluginDir: string): Promise<Minikube> {
  const home = path.join(infra.runDir, "minikube");
  fs.mkdirSync(home, { recursive: true });
  const kubeconfig = path.join(home, "kubeconfig");
  // Not `bin/`: .gitignore leaves every bin/ folder out of the repository.
  const doubleBin = path.resolve(__dirname, "../infra/minikube/shim");
  const env = {
    KUBECONFIG: kubeconfig,
    FLUX_PLATFORM_MINIKUBE_HOME: home,
    FLUX_PLATFORM_TOOLCHAIN: t.dir,
    FLUX_PLATFORM_NODE: process.execPath,
  };
  const stack = await createStack(
    t,
    infra.runDir,
    STACK,
    {
      "github:owner": infra.owner,
      "github:baseUrl": `${infra.standin.url}/`,
      "flux-platform:environment": STACK,
      "flux-platform:platformRepo": "mk_platform",
      "flux-platform:developerRepo": "mk_developer",
      "flux-platform:syncInterval": "1m",
      // The defaults a new user gets (docker driver, 2 CPUs, 4 GiB); the double runs kwok.
      "flux-platform:cluster": { provider: "minikube" },
      // The double's first start brings Flux's CRDs and controllers, as the e2e cluster has.
      "flux-platform:fluxInstall": "existing",
      "flux-platform:fluxComponents": ["source-controller", "kustomize-controller"],
      "flux-platform:infrastructure": { kyverno: false, reloader: false, gateway: false },
      "flux-platform:gitSsh": { host: "127.0.0.1", port: infra.sshPort },
      "flux-platform:services": Object.fromEntries(
        SERVICES.map((s) => [
          s,
          { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0", port: 9898, replicas: 1 },
        ]),
      ),
    },
    { "github:token": infra.token },
    env,
    [doubleBin, pluginDir],
  );
  const procEnv = { ...stack.env };
  return {
    stack,
    home,
    kubeconfig,
    calls: () => {
      const f = path.join(home, "calls");
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : [];
    },
    minikube: (...args) => run(path.join(doubleBin, "minikube"), args, { env: procEnv }),
    kubectl: (args) =>
      run(
        path.join(t.bin, "kubectl"),
        ["--kubeconfig", kubeconfig, "--context", PROFILE, ...args],
        {
          env: procEnv,
        },
      ),
    server: () => {
      const text = fs.existsSync(kubeconfig) ? fs.readFileSync(kubeconfig, "utf8") : "";
      const i = text.indexOf(`name: ${PROFILE}`);
      return i < 0 ? undefined : /server: (\S+)/.exec(text)?.[1];
    },
  };
}

/** `pulumi ...` on the minikube stack; throws with the output's tail unless it exits `want`. */
async function pulumi(m: Minikube, args: string[], want = 0) {
  const r = await m.stack.pulumi(args);
  const out = `${r.stdout}\n${r.stderr}`;
  if ((want === 0) !== (r.status === 0)) {
    throw new Error(`pulumi ${args.join(" ")} exited ${r.status}:\n${tail(out, 40)}`);
  }
  return { ...r, out };
}

/** The `Resources:` summary of a preview or up: counts per operation. */
function summary(out: string): Record<string, number> {
  const counts: Record<string, number> = {};
  const block = out.slice(out.lastIndexOf("Resources:"));
  for (const m of block.matchAll(
    /^\s+(?:[-+~]+\s+)?(\d+) (to create|to update|to replace|to delete|created|updated|replaced|deleted|unchanged)/gm,
  )) {
    counts[m[2]] = Number(m[1]);
  }
  return counts;
}

/** What a refusal must look like: the one line, first among the errors, no script or trace. */
function oneLine(out: string, line: string): void {
  const errors = out.split("\n").filter((l) => /^\s*error: /.test(l));
  if (errors[0]?.trim() !== `error: ${line}`) {
    throw new Error(`the first error is not the one line "${line}":\n${tail(out, 30)}`);
  }
  for (const noise of ["set -uo pipefail", "minikube status --profile", "    at "]) {
    if (out.includes(noise))
      throw new Error(`the output shows ${JSON.stringify(noise)}:\n${tail(out, 30)}`);
  }
}

async function status(m: Minikube): Promise<number> {
  return (await m.minikube("status", "-p", PROFILE)).status;
}

/** Waits for every Kustomization of the stack to be Ready (a restarted profile reconciles again). */
async function kustomizationsReady(m: Minikube): Promise<string> {
  let seen = "";
  return waitFor(
    "every Kustomization of the minikube stack to be Ready",
    async () => {
      const r = await m.kubectl(["-n", "flux-system", "get", "kustomizations", "-o", "json"]);
      if (r.status !== 0) throw new Error(`kubectl get kustomizations: ${r.stderr}`);
      const items = (
        JSON.parse(r.stdout) as {
          items: { status?: { conditions?: { type: string; status: string }[] } }[];
        }
      ).items;
      const ready = items.filter((k) =>
        k.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      seen = `${ready.length} of ${items.length} Kustomizations Ready`;
      return items.length === SERVICES.length * 2 && ready.length === items.length
        ? `${ready.length} Kustomizations Ready`
        : undefined;
    },
    120_000,
    2000,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (${seen})`);
  });
}

/**
 * A new user's minikube stack, from its first preview to up again after destroy. Every step
 * is skipped (and reported so) when no command plugin is found.
 */
export function minikubeSteps(t: Toolchain, infra: Infra, stops: (() => Promise<void>)[]): Step[] {
  const pluginDir = findCommandPlugin(t);
  const names = [
    "minikube: first preview of a new stack shows creates and starts nothing",
    "minikube: pulumi up (with its preview) creates the profile and the platform",
    "minikube: no-op preview",
    "minikube: stopped profile: preview and up refused with one line, nothing started",
    "minikube: restarted profile (new API server address): 0 replacements",
    "minikube: pulumi destroy deletes the profile",
    "minikube: pulumi up again after destroy",
  ];
  if (!pluginDir) {
    const why =
      "no pulumi-resource-command in the toolchain, on PATH or in ~/.pulumi/plugins (pulumi plugin install resource command v1.2.1)";
    return names.map((name) => ({ name, skip: why, run: async () => undefined }));
  }
  let m: Minikube;
  // A failed step the others build on stops the group, not the whole run.
  let broken: string | undefined;
  const guard = (step: Step & { critical?: boolean }): Step => ({
    name: step.name,
    run: async () => {
      if (broken) throw new Error(`not run: "${broken}" failed`);
      try {
        return await step.run();
      } catch (err) {
        if (step.critical) broken = step.name;
        throw err;
      }
    },
  });
  const [first, up, noop, stopped, restarted, destroy, again] = names;
  const steps: (Step & { critical?: boolean })[] = [
    {
      name: first,
      critical: true,
      run: async () => {
        m = await setUp(t, infra, pluginDir);
        stops.push(() => cleanupProfiles(m.home, t));
        const r = await pulumi(m, ["preview", "--diff"]);
        const s = summary(r.out);
        if (
          !/\+\s+command:local:Command\s|command:local:Command.*create/.test(r.out) &&
          !(s["to create"] > 0)
        ) {
          throw new Error(`the preview does not create the profile:\n${tail(r.out, 30)}`);
        }
        if (m.calls().some((c) => !c.startsWith("minikube status"))) {
          throw new Error(`the preview ran minikube: ${m.calls().join("; ")}`);
        }
        return `exit 0 in ${r.seconds.toFixed(1)}s, ${s["to create"]} to create; minikube asked ${m.calls().length} times, never started; plugin from ${pluginDir}`;
      },
    },
    {
      name: up,
      critical: true,
      run: async () => {
        const r = await pulumi(m, ["up", "--yes"]);
        if ((await status(m)) !== STATUS.running) throw new Error("the profile is not running");
        return `exit 0 in ${r.seconds.toFixed(1)}s (${summary(r.out).created} created); ${await kustomizationsReady(m)}`;
      },
    },
    {
      name: noop,
      run: async () => {
        const r = await pulumi(m, ["preview", "--expect-no-changes"]);
        return `exit 0 in ${r.seconds.toFixed(1)}s`;
      },
    },
    {
      name: stopped,
      run: async () => {
        const stop = await m.minikube("stop", "-p", PROFILE);
        if (stop.status !== 0) throw new Error(`minikube stop: ${stop.stderr}`);
        const before = m.calls().length;
        const line = `flux-platform: minikube profile ${PROFILE} is not running; start it with: minikube start -p ${PROFILE}`;
        const p = await pulumi(m, ["preview"], 1);
        oneLine(p.out, line);
        const u = await pulumi(m, ["up", "--yes"], 1);
        oneLine(u.out, line);
        const started = m
          .calls()
          .slice(before)
          .filter((c) => !c.startsWith("minikube status"));
        if (started.length > 0) throw new Error(`minikube was asked to: ${started.join("; ")}`);
        if ((await status(m)) !== STATUS.stopped)
          throw new Error("the profile is no longer stopped");
        return `preview exit ${p.status} in ${p.seconds.toFixed(1)}s, up exit ${u.status} in ${u.seconds.toFixed(1)}s, each with the one line first; nothing started`;
      },
    },
    {
      name: restarted,
      run: async () => {
        const before = m.server();
        const start = await m.minikube("start", "-p", PROFILE);
        if (start.status !== 0) throw new Error(`minikube start: ${start.stderr}`);
        const after = m.server();
        if (!after || after === before)
          throw new Error(`the API server address did not change (${before})`);
        const p = await pulumi(m, ["preview", "--diff"]);
        const ps = summary(p.out);
        if (ps["to replace"])
          throw new Error(`the preview replaces ${ps["to replace"]}:\n${tail(p.out, 30)}`);
        const u = await pulumi(m, ["up", "--yes"]);
        const us = summary(u.out);
        if (us.replaced) throw new Error(`the up replaced ${us.replaced}:\n${tail(u.out, 30)}`);
        return `${before} -> ${after}; preview ${JSON.stringify(ps)}, up ${JSON.stringify(us)}; ${await kustomizationsReady(m)}`;
      },
    },
    {
      name: destroy,
      critical: true,
      run: async () => {
        const r = await pulumi(m, ["destroy", "--yes"]);
        if ((await status(m)) !== STATUS.gone) throw new Error("the profile still exists");
        if (m.server() !== undefined)
          throw new Error("the profile's context is still in the kubeconfig");
        return `exit 0 in ${r.seconds.toFixed(1)}s; minikube status exits ${STATUS.gone}; context removed`;
      },
    },
    {
      name: again,
      run: async () => {
        const r = await pulumi(m, ["up", "--yes"]);
        if ((await status(m)) !== STATUS.running) throw new Error("the profile is not running");
        const ready = await kustomizationsReady(m);
        const d = await pulumi(m, ["destroy", "--yes"]);
        return `exit 0 in ${r.seconds.toFixed(1)}s; ${ready}; destroyed again in ${d.seconds.toFixed(1)}s`;
      },
    },
  ];
  return steps.map(guard);
}
