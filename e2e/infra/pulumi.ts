/**
 * The real Pulumi CLI on the program, offline: a file backend, no update check, no plugin
 * downloads (every plugin comes from the toolchain on PATH), a PULUMI_HOME of the run's own.
 * The program is copied into the run's folder with the repository's node_modules linked, so
 * the stack's config file and state never land in the repository.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";
import { REPO_ROOT } from "./repo";
import type { Toolchain } from "./toolchain";
import { run, type RunResult } from "./procs";

const PROGRAM_FILES = [
  "Pulumi.yaml",
  "package.json",
  "tsconfig.json",
  "index.ts",
  "lib",
  "components",
];

export interface Stack {
  readonly name: string;
  readonly dir: string;
  pulumi(
    args: string[],
    timeoutMs?: number,
    killer?: (kill: () => void) => void,
    /** Set for this command only (PULUMI_SKIP_CHECKPOINTS, in e2e:faults). */
    extraEnv?: Record<string, string>,
  ): Promise<RunResult>;
  /** The stack's env (KUBECONFIG, PATH...), for commands run beside it. */
  readonly env: NodeJS.ProcessEnv;
  /** The e2e's file backend folder (`PULUMI_BACKEND_URL`); none for a user's own backend. */
  readonly stateDir?: string;
  /** The stack's state file in it (the file backend's `.pulumi/stacks/<project>/<stack>.json`). */
  readonly stateFile?: string;
}

export async function createStack(
  t: Toolchain,
  runDir: string,
  name: string,
  config: Record<string, unknown>,
  secrets: Record<string, string>,
  extraEnv: Record<string, string>,
  /** Folders to put first on PATH (the minikube double, a command plugin). */
  pathFirst: readonly string[] = [],
): Promise<Stack> {
  const dir = path.join(runDir, "program");
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of PROGRAM_FILES) {
      fs.cpSync(path.join(REPO_ROOT, f), path.join(dir, f), { recursive: true });
    }
    fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  }
  const state = path.join(runDir, "state");
  fs.mkdirSync(state, { recursive: true });
  const node = path.dirname(process.execPath);
  const env = {
    ...process.env,
    ...extraEnv,
    PATH: [...pathFirst, t.bin, node, process.env.PATH].join(":"),
    PULUMI_HOME: path.join(runDir, "pulumi-home"),
    // `metadata=skip`: gocloud's fileblob writes a `.attrs` sidecar beside every state file by
    // truncating it and then writing it (not through a temporary file, as it writes the state
    // itself); an up killed between the two leaves it empty and every later command fails
    // "failed to load checkpoint: EOF". Without sidecars a killed up leaves only whole files.
    PULUMI_BACKEND_URL: `file://${state}?metadata=skip`,
    PULUMI_CONFIG_PASSPHRASE: "e2e-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    // Makes `--event-log` available (the scale run reads an up's phases from it).
    PULUMI_DEBUG_COMMANDS: "true",
    // The GitHub token reaches the program only through secret config.
    GITHUB_TOKEN: "",
  };
  const log = path.join(runDir, `pulumi-${name}.log`);
  // `E2E_PULUMI_PROFILE=<folder>`: each command also writes the CLI's own CPU and memory
  // profiles and execution trace (`--profiling <folder>/<command>-<n>`, read with
  // `go tool pprof`), to see where the engine spends an up (docs/performance.md).
  const profileDir = process.env.E2E_PULUMI_PROFILE;
  let profiled = 0;
  const profiling = (cmd: string) =>
    profileDir ? ["--profiling", path.join(profileDir, `${cmd}-${++profiled}`)] : [];
  const pulumi = (
    args: string[],
    timeoutMs = 20 * 60_000,
    killer?: (kill: () => void) => void,
    only: Record<string, string> = {},
  ) =>
    run(
      "pulumi",
      [...args, ...profiling(args[0]), "--stack", name, "--non-interactive", "--color", "never"],
      {
        env: { ...env, ...only },
        cwd: dir,
        log,
        timeoutMs,
        killer,
      },
    );
  fs.writeFileSync(path.join(dir, `Pulumi.${name}.yaml`), stringify({ config }));
  const init = await run("pulumi", ["stack", "init", name, "--non-interactive"], {
    env,
    cwd: dir,
    log,
  });
  if (init.status !== 0 && !/already exists/.test(init.stderr)) {
    throw new Error(`pulumi stack init ${name}: ${init.stderr}`);
  }
  for (const [k, v] of Object.entries(secrets)) {
    // The value goes on stdin: never in a process list or the run's log.
    const r = await run(
      "pulumi",
      ["config", "set", "--secret", k, "--stack", name, "--non-interactive"],
      { env, cwd: dir, log, input: v },
    );
    if (r.status !== 0) throw new Error(`pulumi config set ${k}: ${r.stderr}`);
  }
  const stateFile = path.join(state, ".pulumi", "stacks", "flux-platform", `${name}.json`);
  return { name, dir, pulumi, env, stateDir: state, stateFile };
}
