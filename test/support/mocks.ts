/**
 * Pulumi mocks for the whole program, set once. Every registration is recorded with the
 * options the mocks themselves do not expose (parent, provider, dependencies, deletedWith,
 * retainOnDelete, ignoreChanges...), read off the request the SDK sends to the mock monitor.
 * Invokes that are not mocked here throw.
 */
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";

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
  read: boolean;
}

/** A profile's kubeconfig as `kubectl config view --minify --flatten` prints it. */
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
export const FAKE_KUBECONFIG = fakeKubeconfig("minikube-dev");
export const FAKE_PRIVATE_KEY =
  "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKE-PRIVATE-KEY\n-----END OPENSSH PRIVATE KEY-----\n";

/** What the mocked world holds; tests change it before `setMocks`. */
export const world = {
  /** Repositories already on GitHub (kept by an earlier destroy, or made by another stack). */
  existingRepos: new Set<string>(),
  /** The API server of the minikube profile: a restart changes its port. */
  server: "https://127.0.0.1:32771",
  /** What the kubeconfig read prints, when not the profile's own kubeconfig. */
  kubeconfig: undefined as string | undefined,
};

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
          read,
        });
      }
      cb(err, resp);
    });
  };
}

let installed = false;

/** Sets the mocks (once per process) and the stack config; import the program after this. */
export async function setMocks(stack: string, config: Record<string, string>): Promise<void> {
  if (!installed) {
    monitor.registerResource = record(monitor.registerResource, false);
    monitor.readResource = record(monitor.readResource, true);
    installed = true;
  }
  registrations.length = 0;
  invokes.length = 0;
  pulumi.runtime.setAllConfig(config);
  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs) {
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === "pulumi-nodejs:dynamic/flux-platform:SshKeyPair") {
          state.privateKeyOpenssh = FAKE_PRIVATE_KEY;
          state.publicKeyOpenssh = "ssh-ed25519 AAAAFAKEPUBLICKEY";
        }
        if (args.type === "pulumi-nodejs:dynamic/flux-platform:RandomToken") {
          state.value = "f".repeat(64);
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
          const profile = (args.inputs.environment as Record<string, string>).PROFILE;
          const stdout = world.kubeconfig ?? fakeKubeconfig(profile, world.server);
          return { ...args.inputs, stdout, stderr: "" };
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
    false,
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
