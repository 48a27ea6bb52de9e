/**
 * Pulumi mocks for the whole program, set once. Every registration is recorded with the
 * options the mocks themselves do not expose (parent, provider, dependencies, deletedWith,
 * retainOnDelete, ignoreChanges...), read off the request the SDK sends to the mock monitor.
 * Invokes that are not mocked here throw.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export interface Registration {
  type: string;
  name: string;
  urn: string;
  inputs: Record<string, unknown>;
  custom: boolean;
  parent: string;
  provider: string;
  dependencies: string[];
  deletedWith: string;
  deleteBeforeReplace: boolean;
  retainOnDelete: boolean | undefined;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  replacementTrigger: unknown;
  customTimeouts: { create: string; update: string; delete: string } | undefined;
  /** The `import` option: the id of an existing resource to adopt. */
  importId: string;
  /** Outputs the engine is told to keep secret (`additionalSecretOutputs`). */
  additionalSecretOutputs: string[];
  read: boolean;
}

/** A profile's kubeconfig as `kubectl config view --minify --flatten` prints it (test/doubles/kubectl). */
export const fakeKubeconfig = (profile: string, server = "https://127.0.0.1:32771"): string =>
  [
    "apiVersion: v1",
    "clusters:",
    `- cluster:\n    server: ${server}\n  name: ${profile}`,
    `contexts:\n- context:\n    cluster: ${profile}\n    user: ${profile}\n  name: ${profile}`,
    `current-context: ${profile}`,
    "kind: Config",
    `users:\n- name: ${profile}\n  user:\n    client-key-data: FAKE-KUBECONFIG-CLIENT-KEY`,
    "",
  ].join("\n");
export const FAKE_PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-PRIVATE-KEY\n-----END OPENSSH PRIVATE KEY-----\n";
/** What the mocked AgeKey `<name>` makes: an identity and a recipient that name it. */
export const fakeAgeIdentity = (name: string): string =>
  `AGE-SECRET-KEY-1FAKE-AGE-IDENTITY-${name}`;
export const fakeAgeRecipient = (name: string): string => `age1fakerecipient-${name}`;

/** What the mocked world holds; tests change it before `setMocks`. */
export const world = {
  /** Repositories already on GitHub (kept by an earlier destroy, or made by another stack). */
  existingRepos: new Set<string>(),
  /** The API server of the minikube profile: a restart changes its port. */
  server: "https://127.0.0.1:32771",
  /** What the kubeconfig read prints, when not the profile's own kubeconfig. */
  kubeconfig: undefined as string | undefined,
  /**
   * The minikube profile on the machine before the run: none (a new machine, or deleted by
   * hand), running, or stopped (after a reboot). The minikube and kubectl doubles
   * (test/doubles) hold it; the profile Command's scripts and the kubeconfig read run
   * against them for real, as the command plugin would run them.
   */
  profile: "absent" as "absent" | "running" | "stopped",
  /**
   * Whether the stack's state already holds the profile Command (a stack that was up
   * before). In a preview the engine then hands the program its stored outputs; a new one
   * gets an id but unknown outputs, as pulumi-command 1.2.1 answers a create preview.
   */
  profileInState: false,
};

const DOUBLES = path.resolve(__dirname, "../doubles");
let doubleState = "";

/** Runs a profile script with bash against the minikube and kubectl doubles. */
function runScript(script: string, environment: Record<string, string>) {
  const r = spawnSync("/bin/bash", ["-c", script], {
    encoding: "utf8",
    env: {
      PATH: `${DOUBLES}:/usr/bin:/bin`,
      HOME: doubleState,
      KUBECONFIG: path.join(doubleState, "user-kubeconfig"),
      DOUBLE_STATE: doubleState,
      ...environment,
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh double state holding `world.profile` and `world.server`. */
function resetDoubles(): void {
  doubleState = fs.mkdtempSync(path.join(os.tmpdir(), "flux-platform-mocks-"));
  fs.mkdirSync(path.join(doubleState, "profiles"));
  fs.writeFileSync(path.join(doubleState, "server"), world.server);
  if (world.kubeconfig !== undefined) {
    fs.writeFileSync(path.join(doubleState, "kubectl-prints"), world.kubeconfig);
  }
  if (world.profile !== "absent") {
    // Profiles are named per stack; the doubles keep one file per profile.
    fs.writeFileSync(path.join(doubleState, "profile-state"), world.profile);
  }
}

/** Calls the doubles saw in this run (`minikube status --profile ...`, `kubectl ...`). */
export function doubleCalls(): string[] {
  const f = path.join(doubleState, "calls");
  return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : [];
}

/** Puts `world.profile` in place for `profile`, the first time a script asks about it. */
function placeProfile(profile: string): void {
  const marker = path.join(doubleState, "profile-state");
  if (fs.existsSync(marker)) {
    fs.writeFileSync(path.join(doubleState, "profiles", profile), fs.readFileSync(marker));
    fs.rmSync(marker);
  }
}

export const registrations: Registration[] = [];
export const invokes: { token: string; inputs: Record<string, unknown> }[] = [];

interface Req {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProvider(): string;
  getDependenciesList(): string[];
  getDeletedwith(): string;
  getDeletebeforereplace(): boolean;
  getRetainondelete(): boolean | undefined;
  getIgnorechangesList(): string[];
  getReplaceonchangesList(): string[];
  getReplacementTrigger(): { toJavaScript(): unknown } | undefined;
  getCustomtimeouts():
    { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
  getObject(): { toJavaScript(): Record<string, unknown> };
  getImportid(): string;
  getAdditionalsecretoutputsList(): string[];
}

type Callback = (err: unknown, resp: { getUrn(): string }) => void;
const monitor = MockMonitor.prototype as unknown as {
  registerResource(req: Req, cb: Callback): Promise<void>;
  readResource(req: Req, cb: Callback): Promise<void>;
};

function timeouts(t: ReturnType<Req["getCustomtimeouts"]>): Registration["customTimeouts"] {
  return t && { create: t.getCreate(), update: t.getUpdate(), delete: t.getDelete() };
}

function record(original: (req: Req, cb: Callback) => Promise<void>, read: boolean) {
  return function (this: unknown, req: Req, cb: Callback): Promise<void> {
    return original.call(this, req, (err, resp) => {
      if (!err) {
        registrations.push({
          type: req.getType(),
          name: req.getName(),
          urn: resp.getUrn(),
          inputs: read ? {} : req.getObject().toJavaScript(),
          custom: read || req.getCustom(),
          parent: req.getParent(),
          provider: req.getProvider(),
          dependencies: read ? [] : req.getDependenciesList(),
          deletedWith: read ? "" : req.getDeletedwith(),
          deleteBeforeReplace: read ? false : req.getDeletebeforereplace(),
          retainOnDelete: read ? undefined : req.getRetainondelete(),
          ignoreChanges: read ? [] : req.getIgnorechangesList(),
          replaceOnChanges: read ? [] : req.getReplaceonchangesList(),
          replacementTrigger: read ? undefined : req.getReplacementTrigger()?.toJavaScript(),
          customTimeouts: timeouts(read ? undefined : req.getCustomtimeouts()),
          importId: read ? "" : req.getImportid(),
          additionalSecretOutputs: read ? [] : req.getAdditionalsecretoutputsList(),
          read,
        });
      }
      cb(err, resp);
    });
  };
}

let installed = false;

/**
 * Sets the mocks (once per process) and the stack config; import the program after this.
 * `preview: true` runs the program as `pulumi preview` does (new resources' outputs unknown).
 */
export async function setMocks(
  stack: string,
  config: Record<string, string>,
  { preview = false }: { preview?: boolean } = {},
): Promise<void> {
  if (!installed) {
    monitor.registerResource = record(monitor.registerResource, false);
    monitor.readResource = record(monitor.readResource, true);
    installed = true;
  }
  registrations.length = 0;
  invokes.length = 0;
  resetDoubles();
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic/flux-platform:SshKeyPair") {
          state.privateKeyOpenssh = FAKE_PRIVATE_KEY;
          state.publicKeyOpenssh = "ssh-ed25519 AAAAFAKEPUBLICKEY";
        }
        if (args.type === "pulumi-nodejs:dynamic/flux-platform:AgeKey") {
          state.identity = fakeAgeIdentity(args.name);
          state.recipient = fakeAgeRecipient(args.name);
        }
        if (args.type === "pulumi-nodejs:dynamic/flux-platform:RandomToken") {
          state.value = "f".repeat(64);
        }
        if (args.type === "command:local:Command") {
          const env = args.inputs.environment as Record<string, string>;
          placeProfile(env.PROFILE);
          // pulumi-command 1.2.1: a create preview makes a unique hex id and runs nothing, so
          // stdout and stderr stay unknown (absent here); a stored profile keeps its outputs;
          // a create runs the create script.
          const id = `${args.name}-1a2b3c4d`;
          if (world.profileInState) return { id, state: { ...state, stdout: "created\n" } };
          if (preview) return { id, state };
          const r = runScript(args.inputs.create as string, env);
          if (r.status !== 0) throw new Error(`create script exited ${r.status}: ${r.stderr}`);
          return { id, state: { ...state, stdout: r.stdout, stderr: r.stderr } };
        }
        if (args.type === "github:index/repository:Repository") {
          state.name = args.inputs.name ?? args.id;
          state.htmlUrl = `https://github.com/acme/${state.name}`;
        }
        return { id: args.id || `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs) {
        invokes.push({ token: args.token, inputs: args.inputs });
        if (args.token === "command:local:run") {
          // The read runs for real against the doubles, as the plugin runs it.
          const env = args.inputs.environment as Record<string, string>;
          placeProfile(env.PROFILE);
          const r = runScript(args.inputs.command as string, env);
          if (r.status !== 0) throw new Error(`command exited ${r.status}: ${r.stderr}`);
          return { ...args.inputs, stdout: r.stdout, stderr: r.stderr };
        }
        if (args.token === "github:index/getRepository:getRepository") {
          // As the provider answers: a 404 is an empty result, not an error.
          const name = args.inputs.name as string;
          return world.existingRepos.has(name) ? { name, nodeId: `R_${name}` } : {};
        }
        throw new Error(`Mock not implemented: ${args.token}`);
      },
    },
    "flux-platform",
    stack,
    preview,
  );
}

/**
 * An output's value, or its error (a RunError the program raises): `pulumi.all(...).apply`
 * never runs on a failed or unknown output, so this reads the SDK's promise (test-only).
 */
export function settled<T>(o: pulumi.Output<T>): Promise<{ value?: T; error?: Error }> {
  const inner = o as unknown as { promise(): Promise<T> };
  return inner.promise().then(
    (value) => ({ value }),
    (error: Error) => ({ error }),
  );
}

/** Resolves an output's value and whether it is secret. */
export function resolve<T>(o: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
  return new Promise((res) =>
    pulumi
      .all([o, pulumi.isSecret(o)])
      .apply(([value, secret]) => res({ value: value as T, secret })),
  );
}
