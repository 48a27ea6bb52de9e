/**
 * The Pulumi program (index.ts) under Pulumi's mocks, for every stack file: what it
 * registers, with which options, and that it is exactly what `npm run render` shows.
 */
import { RECIPIENT_PLACEHOLDER, SOPS_CONFIG } from "../lib/developerRepo";
import { RECIPIENTS_PLACEHOLDER, checksDir } from "../lib/developerRepo";
import { secretsKeyGenerations } from "../lib/cluster";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import { webhookUrl } from "../lib/cluster";
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startStandIn, type StandIn } from "./github-standin/server";
import type { MinikubeCluster } from "../lib/config";
import {
  writtenFiles,
  readStackFile,
  loadStackFile,
  renderStack,
  type RenderedStack,
} from "../lib/render";
import {
  CREATE_SCRIPT,
  DELETE_SCRIPT,
  KUBECONFIG_SCRIPT,
  UPDATE_SCRIPT,
  scriptEnvironment,
} from "../lib/cluster";
import { Cluster } from "../components";
import { oneLineError } from "../components/cluster";
import {
  FAKE_PRIVATE_KEY,
  doubleCalls,
  fakeAgeIdentity,
  fakeAgeRecipient,
  fakeKubeconfig,
  invokes,
  registrations,
  resolve,
  setMocks,
  settled,
  world,
  type Registration,
} from "./support/mocks";

const ROOT = path.resolve(__dirname, "..");
const PROGRAM = path.join(ROOT, "index.ts");
const GITHUB_TOKEN = "ghp_mocked_token";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Stack config as the engine hands it to the program: strings, structured values as JSON. */
function engineConfig(stack: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`)))) {
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  // Secret config as the engine hands it over: decrypted.
  out["github:token"] = GITHUB_TOKEN;
  // The team's own owner: the program refuses the example files' placeholder.
  out["github:owner"] = OWNER;
  return out;
}

const OWNER = "acme";

/** A stack file's config as the program sees it once the team set its owner. */
const stackAsSet = (stack: string) => ({ ...loadStackFile(ROOT, stack), owner: OWNER });

/** Runs the program (index.ts) afresh under the current mocks; resolves to its outputs. */
async function runProgram(): Promise<Record<string, unknown>> {
  delete require.cache[require.resolve(PROGRAM)];
  const outputs = (await require(PROGRAM)) as Record<string, unknown>;
  await settle();
  return outputs;
}

async function settle(): Promise<void> {
  let last = -1;
  while (registrations.length !== last) {
    last = registrations.length;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const WRITER = "pulumi-nodejs:dynamic/flux-platform:RepositoryFiles";
const AGE_KEY = "pulumi-nodejs:dynamic/flux-platform:AgeKey";
/** The age key Secret's Pulumi name (`<component>-secret-sops-age`). */
const SOPS_AGE = "secrets-key-secret-sops-age";
/** The config account's Pulumi name (`<component>-serviceaccount-<name>`). */
const CONFIG_ACCOUNT_RESOURCE = "infrastructure-serviceaccount-flux-platform-developer-config";
const byType = (type: string): Registration[] => registrations.filter((r) => r.type === type);
const one = (type: string, name: string): Registration => {
  const found = registrations.filter((r) => r.type === type && r.name === name);
  expect(found, `${type} ${name}`).to.have.length(1);
  return found[0];
};
/**
 * Every URN `r` waits for: its dependencies and theirs (Pulumi orders creates by them and
 * deletes in reverse, so a dependency through another resource orders as well as a direct one).
 */
const waitsFor = (r: Registration): Set<string> => {
  const byUrn = new Map(registrations.map((x) => [x.urn, x]));
  const seen = new Set<string>();
  const todo = [...r.dependencies];
  while (todo.length > 0) {
    const urn = todo.pop()!;
    if (seen.has(urn)) continue;
    seen.add(urn);
    todo.push(...(byUrn.get(urn)?.dependencies ?? []));
  }
  return seen;
};
const isSecretValue = (v: unknown): boolean =>
  v !== null &&
  typeof v === "object" &&
  (v as Record<string, unknown>)[SECRET_SIG] === "1b47061264138c4ac30d75fd1eb44270";
/** JSON with keys sorted at every level, to compare objects whatever their key order. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
const unwrap = (v: unknown): unknown => (isSecretValue(v) ? (v as { value: unknown }).value : v);

const COUNTS: Record<string, Record<string, number>> = {
  dev: {
    "flux-platform:index:Cluster": 1,
    "command:local:Command": 1,
    "pulumi:providers:kubernetes": 1,
    "flux-platform:index:FluxInstall": 1,
    "kubernetes:core/v1:Namespace": 2,
    "kubernetes:helm.sh/v3:Release": 1,
    "kubernetes:fluxcd.controlplane.io/v1:FluxInstance": 1,
    "flux-platform:index:GitopsRepo": 2,
    "github:index/repository:Repository": 2,
    "github:index/branchDefault:BranchDefault": 2,
    "pulumi-nodejs:dynamic/flux-platform:SshKeyPair": 2,
    "pulumi-nodejs:dynamic/flux-platform:DeployKey": 2,
    // One writer per repository: every file in one commit, no resource per file.
    "pulumi-nodejs:dynamic/flux-platform:RepositoryFiles": 2,
    // One wait for every service's Kustomizations (lib/cluster/rollout.ts).
    "flux-platform:index:ServiceRollout": 1,
    "pulumi-nodejs:dynamic/flux-platform:RolloutWait": 1,
    "flux-platform:index:FluxSource": 2,
    // Two deploy-key Secrets and the age key Secret (sops-age).
    "kubernetes:core/v1:Secret": 3,
    // One age key per kept generation (secretsKeyGeneration 1: one).
    "flux-platform:index:SecretsKey": 1,
    "pulumi-nodejs:dynamic/flux-platform:AgeKey": 1,
    "kubernetes:source.toolkit.fluxcd.io/v1:GitRepository": 2,
    "flux-platform:index:PlatformInfrastructure": 1,
    // One config account for every service, and one policy that keeps each to its own.
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy": 1,
    "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding": 1,
    "kubernetes:core/v1:ServiceAccount": 1,
    // One role for the config account, bound once in the app namespace to its group.
    "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": 1,
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": 1,
    "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization": 9,
    "flux-platform:index:FluxService": 3,
  },
};
// prd adopts the repos dev created: it reads them and does not rename branches.
COUNTS.prd = {
  ...COUNTS.dev,
  "github:index/branchDefault:BranchDefault": 0,
};

for (const stack of ["dev", "prd"]) {
  describe(`program under mocks: stack ${stack}`, () => {
    let rendered: RenderedStack;
    let program: Record<string, unknown>;

    before(async () => {
      rendered = renderStack(stackAsSet(stack));
      await setMocks(stack, engineConfig(stack));
      program = await runProgram();
    });

    it("registers exactly the expected resources per type", () => {
      const counts: Record<string, number> = {};
      for (const r of registrations) counts[r.type] = (counts[r.type] ?? 0) + 1;
      const expected = Object.fromEntries(Object.entries(COUNTS[stack]).filter(([, n]) => n > 0));
      expect(counts).to.deep.equal(expected);
    });

    it("gives every resource a unique name within its type", () => {
      const keys = registrations.map((r) => `${r.type}::${r.name}`);
      expect(keys.filter((k, i) => keys.indexOf(k) !== i)).to.deep.equal([]);
    });

    it("parents every resource to a flux-platform component, components to the stack", () => {
      const components = new Set(
        registrations.filter((r) => r.type.startsWith("flux-platform:index:")).map((r) => r.urn),
      );
      for (const r of registrations) {
        if (r.type.startsWith("flux-platform:index:")) {
          // Under mocks there is no root Stack resource: top-level components have no parent.
          expect(r.parent, r.name).to.be.oneOf(["", undefined]);
        } else {
          expect(components.has(r.parent), `${r.type} ${r.name} parent ${r.parent}`).to.equal(true);
        }
      }
    });

    it("creates every Kubernetes resource with the cluster's provider, deleted with the minikube profile", () => {
      const provider = byType("pulumi:providers:kubernetes")[0];
      const minikube = byType("command:local:Command")[0];
      const kube = registrations.filter((r) => r.type.startsWith("kubernetes:"));
      expect(kube).to.have.length.greaterThan(10);
      for (const r of kube) {
        expect(r.provider.startsWith(`${provider.urn}::`), `${r.name}: ${r.provider}`).to.equal(
          true,
        );
        expect(r.deletedWith, r.name).to.equal(minikube.urn);
      }
    });

    it("applies exactly the rendered Flux objects and cluster objects", () => {
      // The one annotation the program adds to each (components/kube.ts, lib/names.ts).
      const withoutFieldManager = (obj: Record<string, unknown>): Record<string, unknown> => {
        const { annotations = {}, ...metadata } = obj.metadata as {
          annotations?: Record<string, string>;
        };
        const rest = Object.fromEntries(
          Object.entries(annotations).filter(([k]) => k !== "pulumi.com/patchFieldManager"),
        );
        return {
          ...obj,
          metadata: Object.keys(rest).length > 0 ? { ...metadata, annotations: rest } : metadata,
        };
      };
      // Key material differs by design (placeholder in render, secret key in the program).
      const masked = (obj: Record<string, unknown>): string => {
        const data = unwrap(obj.stringData) as Record<string, string> | undefined;
        const identities = (d: Record<string, string>) =>
          Object.keys(d).some((k) => k.endsWith(".agekey"))
            ? Object.fromEntries(Object.keys(d).map((k) => [k, "<key>"]))
            : { ...d, identity: "<key>", "identity.pub": "<key>" };
        const keys = data && identities(data);
        return canonical(data ? { ...obj, stringData: keys } : obj);
      };
      // Everything applied, less the operator's chart and namespace (not rendered objects).
      const applied = registrations
        .filter(
          (r) => r.type.startsWith("kubernetes:") && r.type !== "kubernetes:helm.sh/v3:Release",
        )
        .filter((r) => r.name !== "flux-namespace")
        .map((r) => masked(withoutFieldManager(r.inputs)));
      const expected = [...rendered.clusterObjects, rendered.fluxInstance].map((o) =>
        masked({ ...o }),
      );
      expect(applied.sort()).to.deep.equal(expected.sort());
    });

    it("writes exactly the rendered repo files through one writer per repository, no resource per file", () => {
      expect(byType("github:index/repositoryFile:RepositoryFile")).to.deep.equal([]);
      const writers = byType(WRITER);
      const adopt = rendered.config.adoptRepos;
      const expected = (files: RenderedStack["platformFiles"]) =>
        Object.fromEntries(
          files
            .filter((f) => !(adopt && f.mode === "sync" && f.shared))
            .map((f) => [f.path, { mode: f.mode, content: f.content }]),
        );
      expect(expected(rendered.platformFiles)).to.deep.equal(
        writtenFiles(rendered.platformFiles, adopt),
      );
      for (const [role, files] of [
        ["platform", rendered.platformFiles],
        ["developer", rendered.developerFiles],
      ] as const) {
        const w = one(WRITER, `${role}-repo-files`);
        expect(w.inputs).to.deep.include({
          owner: rendered.config.owner,
          repository:
            role === "platform" ? rendered.config.platformRepo : rendered.config.developerRepo,
          branch: "main",
          subject: `flux-platform: ${stack}`,
        });
        const want = expected(files);
        if (role === "developer") {
          // The recipient of the stack's newest age key, where the render left a placeholder.
          const written = w.inputs.files as Record<string, { content: string }>;
          const sops = written[SOPS_CONFIG].content;
          const recipient = /age: (age1\S+)/.exec(sops)?.[1];
          expect(recipient, sops).to.equal(
            fakeAgeRecipient(`secrets-key-g${rendered.config.secretsKeyGeneration}`),
          );
          want[SOPS_CONFIG] = {
            ...want[SOPS_CONFIG],
            content: want[SOPS_CONFIG].content.replace(RECIPIENT_PLACEHOLDER, recipient!),
          };
          // The pull request check's facts: every kept recipient, oldest first.
          const facts = `${checksDir(stack)}/facts.json`;
          const kept = secretsKeyGenerations(rendered.config).map((g) =>
            fakeAgeRecipient(`secrets-key-g${g}`),
          );
          expect(JSON.parse(written[facts].content)).to.deep.include({
            recipients: kept.join(","),
          });
          want[facts] = {
            ...want[facts],
            content: want[facts].content.replace(RECIPIENTS_PLACEHOLDER, kept.join(",")),
          };
        }
        expect(w.inputs.files).to.deep.equal(want);
        // Written after the repository (and its renamed main) exist; never deleted by destroy.
        const repo = registrations.find(
          (r) => r.type === "github:index/repository:Repository" && r.name === `${role}-repo-repo`,
        )!;
        expect(w.dependencies).to.include(repo.urn);
      }
      expect(writers).to.have.length(2);
    });

    it("writes only its own environment's platform folder, which its Kustomizations read", () => {
      const platform = one(WRITER, "platform-repo-files").inputs.files as Record<string, unknown>;
      const outside = Object.keys(platform).filter(
        (p) => !p.startsWith(`environments/${stack}/`) && p !== "README.md",
      );
      expect(outside).to.deep.equal([]);
      for (const k of byType("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization")) {
        const spec = k.inputs.spec as { path: string; sourceRef: { name: string } };
        if (spec.sourceRef.name === "flux-platform") {
          expect(spec.path, k.name).to.match(new RegExp(`^\\./environments/${stack}/`));
        }
      }
    });

    it("protects the repositories: created with retainOnDelete by dev, only read by prd", () => {
      const repos = byType("github:index/repository:Repository");
      expect(repos).to.have.length(2);
      for (const r of repos) {
        if (rendered.config.adoptRepos) {
          expect(r.read, r.name).to.equal(true);
        } else {
          expect(r.retainOnDelete, r.name).to.equal(true);
          expect(r.inputs).to.include({
            autoInit: true,
            visibility: rendered.config.repoVisibility,
          });
        }
      }
    });

    it("registers one read-only ED25519 deploy key per repo, titled for the environment", () => {
      for (const k of byType("pulumi-nodejs:dynamic/flux-platform:SshKeyPair")) {
        // Bumping deployKeyGeneration replaces the key pair (rotation in one pulumi up).
        expect(k.replacementTrigger).to.equal(`g${rendered.config.deployKeyGeneration}`);
      }
      const keys = byType("pulumi-nodejs:dynamic/flux-platform:DeployKey");
      // A resource per generation: rotation creates the new key before deleting the old one.
      expect(keys.map((k) => k.name).sort()).to.deep.equal(
        ["developer", "platform"].map(
          (r) => `${r}-repo-deploy-key-g${rendered.config.deployKeyGeneration}`,
        ),
      );
      expect(keys.map((k) => k.inputs.repository).sort()).to.deep.equal(
        [rendered.config.developerRepo, rendered.config.platformRepo].sort(),
      );
      for (const k of keys) {
        expect(k.inputs).to.include({
          readOnly: true,
          title: `flux-${rendered.config.environment}`,
          key: "ssh-ed25519 AAAAFAKEPUBLICKEY",
        });
      }
    });

    it("waits once for every service's Kustomizations, after all of them, through the stack's cluster", () => {
      const wait = one("pulumi-nodejs:dynamic/flux-platform:RolloutWait", "services-rollout-wait");
      const names = rendered.cluster.services.flatMap((s) => [`config-${s.name}`, `app-${s.name}`]);
      expect(wait.inputs.kustomizations).to.deep.equal(names);
      expect(wait.inputs.namespace).to.equal("flux-system");
      expect(wait.inputs.timeoutSeconds).to.equal(480);
      // After each service's objects: it names each app Kustomization, the last of them.
      const after = waitsFor(wait);
      for (const s of rendered.cluster.services) {
        const app = one(
          "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization",
          `service-${s.name}-kustomization-app-${s.name}`,
        );
        expect(wait.dependencies, s.name).to.include(app.urn);
        for (const r of registrations.filter((x) => x.name.startsWith(`service-${s.name}-`)))
          expect(after.has(r.urn), r.name).to.equal(true);
      }
    });

    it("keeps private keys, the kubeconfig and the GitHub token secret: only in secret inputs where they are used", () => {
      for (const r of registrations) {
        for (const [field, value] of Object.entries(r.inputs)) {
          const text = JSON.stringify(value) ?? "";
          const secrets = [
            "FAKE-PRIVATE-KEY",
            "FAKE-KUBECONFIG",
            "FAKE-AGE-IDENTITY",
            GITHUB_TOKEN,
          ];
          if (!secrets.some((x) => text.includes(x))) continue;
          const allowed =
            (r.type === "kubernetes:core/v1:Secret" && field === "stringData") ||
            (r.type === "pulumi:providers:kubernetes" && field === "kubeconfig") ||
            ([WRITER, "pulumi-nodejs:dynamic/flux-platform:DeployKey"].includes(r.type) &&
              field === "token") ||
            (r.type === "pulumi-nodejs:dynamic/flux-platform:RolloutWait" &&
              field === "kubeconfig");
          expect(allowed, `${r.type} ${r.name}.${field}`).to.equal(true);
          expect(isSecretValue(value), `${r.type} ${r.name}.${field} is secret`).to.equal(true);
        }
      }
      for (const s of byType("kubernetes:core/v1:Secret").filter((x) => x.name !== SOPS_AGE)) {
        expect((unwrap(s.inputs.stringData) as Record<string, string>).identity).to.equal(
          FAKE_PRIVATE_KEY,
        );
      }
      expect(JSON.stringify(program)).to.not.contain("FAKE");
      for (const w of byType(WRITER)) {
        expect(unwrap(w.inputs.token)).to.equal(GITHUB_TOKEN);
      }
    });

    it("drives minikube with the tested scripts, replacing only for settings that need a new cluster", () => {
      const c = rendered.config.cluster;
      if (c.provider !== "minikube") throw new Error("stack files use minikube");
      const cmd = byType("command:local:Command")[0];
      expect(cmd.deleteBeforeReplace).to.equal(true);
      expect(cmd.inputs).to.deep.include({
        create: CREATE_SCRIPT,
        update: UPDATE_SCRIPT,
        delete: DELETE_SCRIPT,
        interpreter: ["/bin/bash", "-c"],
        triggers: [c.profile, c.driver, String(c.cpus), String(c.memory)],
      });
      expect(cmd.inputs.environment).to.deep.include({
        PROFILE: c.profile,
        KUBERNETES_VERSION: c.kubernetesVersion,
      });
      const run = invokes.find((i) => i.token === "command:local:run")!;
      expect(run.inputs.command).to.equal(KUBECONFIG_SCRIPT);
      // The read runs once the profile's create ran and printed its mark.
      expect(run.inputs.environment).to.deep.equal({
        ...scriptEnvironment(c),
        STACK: stack,
        CREATED: "created",
      });
      // The kubeconfig is stdout: the 1.x invoke would log it unless told not to.
      expect(run.inputs.logging).to.equal("none");
      const provider = byType("pulumi:providers:kubernetes")[0];
      expect(provider.inputs.context).to.equal(c.profile);
      expect(unwrap(provider.inputs.kubeconfig)).to.equal(fakeKubeconfig(c.profile));
    });

    it("keeps the cluster's objects when the profile restarts or stops: a new cluster is only a new profile", () => {
      const c = rendered.config.cluster as MinikubeCluster;
      const provider = byType("pulumi:providers:kubernetes")[0];
      const minikube = byType("command:local:Command")[0];
      // The mocks give the profile the id `<name>-1a2b3c4d`; a replaced profile gets a new id.
      expect(provider.inputs.clusterIdentifier).to.equal(
        `minikube/${c.profile}/${minikube.name}-1a2b3c4d`,
      );
      // An unreachable (stopped) cluster must not empty the state.
      expect(provider.inputs).to.not.have.property("deleteUnreachable");
    });

    it("waits for Flux to report Ready longer than Flux's own timeouts", () => {
      const flux = registrations.filter((r) => /fluxcd\.io|controlplane\.io/.test(r.type));
      expect(flux).to.have.length(1 + 2 + 9);
      const skipped = (r: Registration) =>
        (r.inputs.metadata as { annotations?: Record<string, string> }).annotations?.[
          "pulumi.com/skipAwait"
        ] === "true";
      // The services' Kustomizations (the rollout wait reads them): no wait, so no timeout.
      expect(flux.filter(skipped)).to.have.length(2 * rendered.config.services.length);
      for (const r of flux) {
        if (skipped(r))
          expect(r.customTimeouts, r.name).to.deep.equal({ create: "", update: "", delete: "" });
        else expect(r.customTimeouts, r.name).to.deep.include({ create: "15m", update: "15m" });
      }
    });

    it("applies every object as one field manager, so an object a killed up made is taken back whole", () => {
      const objects = registrations.filter(
        (r) =>
          r.type.startsWith("kubernetes:") &&
          !r.type.startsWith("kubernetes:helm.sh/") &&
          !r.type.startsWith("pulumi:providers:"),
      );
      expect(objects.length).to.be.greaterThan(20);
      for (const r of objects) {
        const annotations = (r.inputs.metadata as { annotations?: Record<string, string> })
          .annotations;
        expect(annotations?.["pulumi.com/patchFieldManager"], r.name).to.equal("flux-platform");
      }
    });

    it("updates Flux in place: the FluxInstance keeps its name and nothing forces a replace", () => {
      const instance = byType("kubernetes:fluxcd.controlplane.io/v1:FluxInstance")[0];
      expect(instance.replaceOnChanges).to.deep.equal([]);
      expect((instance.inputs.metadata as { name: string }).name).to.equal("flux");
      const spec = instance.inputs.spec as {
        distribution: { version: string };
        components: string[];
      };
      expect(spec.distribution.version).to.equal(rendered.config.fluxVersion);
      expect(spec.components).to.deep.equal(rendered.config.fluxComponents);
      const operator = byType("kubernetes:helm.sh/v3:Release")[0];
      expect(operator.inputs).to.include({
        chart: "oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator",
        namespace: "flux-system",
      });
      expect(instance.dependencies).to.include(operator.urn);
    });

    it("orders the Flux objects: CRDs and keys first, then infrastructure, then services", () => {
      const urn = (type: string, name: string) => one(type, name).urn;
      const instance = byType("kubernetes:fluxcd.controlplane.io/v1:FluxInstance")[0].urn;
      for (const repo of byType("kubernetes:source.toolkit.fluxcd.io/v1:GitRepository")) {
        const role = repo.name.startsWith("platform") ? "platform" : "developer";
        expect(repo.dependencies, repo.name).to.include.members([
          instance,
          urn(
            "pulumi-nodejs:dynamic/flux-platform:DeployKey",
            `${role}-repo-deploy-key-g${rendered.config.deployKeyGeneration}`,
          ),
        ]);
      }
      const ks = (name: string) =>
        one("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization", name);
      const infra = ks("infrastructure-kustomization-infrastructure");
      expect(infra.dependencies).to.include.members(
        byType("kubernetes:source.toolkit.fluxcd.io/v1:GitRepository").map((r) => r.urn),
      );
      // Pulumi applies the infrastructure Kustomizations one after the other, each Ready first.
      const gateway = ks("infrastructure-kustomization-infrastructure-gateway");
      expect(gateway.dependencies).to.include(infra.urn);
      expect(ks("infrastructure-kustomization-infrastructure-policies").dependencies).to.include(
        gateway.urn,
      );
      // Each service object after every infrastructure object, and so deleted before them.
      const infrastructure = registrations.filter((r) => r.name.startsWith("infrastructure-"));
      for (const s of rendered.config.services) {
        const config = ks(`service-${s.name}-kustomization-config-${s.name}`);
        for (const r of registrations.filter((x) => x.name.startsWith(`service-${s.name}-`))) {
          if (r.type.startsWith("flux-platform:")) continue;
          const after = waitsFor(r);
          for (const i of infrastructure)
            expect(after.has(i.urn), `${r.name} ${i.name}`).to.equal(true);
        }
        expect(ks(`service-${s.name}-kustomization-app-${s.name}`).dependencies).to.include(
          config.urn,
        );
        // The config Kustomization names one anchor, after the age key's Secret and the
        // config account too (no component expanded into every child of its); the component none.
        expect(config.dependencies, config.name).to.have.length(1);
        for (const before of [
          one("kubernetes:core/v1:Secret", SOPS_AGE),
          one("kubernetes:core/v1:ServiceAccount", CONFIG_ACCOUNT_RESOURCE),
        ]) {
          expect(waitsFor(config).has(before.urn), before.name).to.equal(true);
        }
        expect(
          one("flux-platform:index:FluxService", `service-${s.name}`).dependencies,
        ).to.deep.equal([]);
      }
    });

    it("exports what a user needs after pulumi up", async () => {
      expect(program.environment).to.equal(stack);
      expect((await resolve(program.kubeContext as never)).value).to.equal(`minikube-${stack}`);
      expect((await resolve(program.watch as never)).value).to.equal(
        `flux get kustomizations --context minikube-${stack}`,
      );
      expect((await resolve(program.platformRepoUrl as never)).value).to.equal(
        `https://github.com/acme/${rendered.config.platformRepo}`,
      );
      expect(program.fluxObjects).to.include("Kustomization/flux-system/app-beetle");
      // The current age recipient, public: what `sops --age` encrypts the env's files to.
      expect(await resolve(program.secretsRecipient as never)).to.deep.equal({
        value: fakeAgeRecipient("secrets-key-g1"),
        secret: false,
      });
      expect(program.serviceUrls).to.deep.equal({
        beetle: `http://beetle.${stack}.localhost`,
        sonar: `http://sonar.${stack}.localhost`,
        tiger: `http://tiger.${stack}.localhost`,
      });
    });
  });
}

describe("program under mocks: the environment's age key for SOPS", () => {
  const run = async (generation?: number) => {
    const config = engineConfig("dev");
    if (generation !== undefined) config["flux-platform:secretsKeyGeneration"] = String(generation);
    await setMocks("dev", config);
    return runProgram();
  };
  const sopsAge = () => one("kubernetes:core/v1:Secret", SOPS_AGE);

  it("makes one age key, its identity a secret output, its recipient the public stack output", async () => {
    const program = await run();
    const keys = byType(AGE_KEY);
    expect(keys.map((k) => k.name)).to.deep.equal(["secrets-key-g1"]);
    const component = one("flux-platform:index:SecretsKey", "secrets-key");
    for (const k of keys) {
      expect(k.additionalSecretOutputs, k.name).to.deep.equal(["identity"]);
      expect(k.parent, k.name).to.equal(component.urn);
      // Nothing that would make a new key on its own: no inputs, no replacement trigger.
      expect(k.replacementTrigger, k.name).to.equal(undefined);
    }
    expect(isSecretValue(sopsAge().inputs.stringData)).to.equal(true);
    expect(unwrap(sopsAge().inputs.stringData)).to.deep.equal({
      "dev-g1.agekey": fakeAgeIdentity("secrets-key-g1"),
    });
    expect(sopsAge().inputs.metadata).to.deep.include({
      name: "sops-age",
      namespace: "flux-system",
    });
    expect(await resolve(program.secretsRecipient as never)).to.deep.equal({
      value: fakeAgeRecipient("secrets-key-g1"),
      secret: false,
    });
  });

  it("applies the Secret after Flux is installed and before every config Kustomization", async () => {
    await run();
    const secret = sopsAge();
    expect(secret.dependencies).to.include(
      one("kubernetes:core/v1:Namespace", "flux-namespace").urn,
    );
    const configs = byType("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization").filter((k) =>
      /-kustomization-config-/.test(k.name),
    );
    expect(configs).to.have.length(3);
    for (const k of configs) expect(waitsFor(k).has(secret.urn), k.name).to.equal(true);
  });

  it("after a bump keeps the previous generation beside the new one, and drops the one before", async () => {
    for (const [generation, kept] of [
      [2, [1, 2]],
      [3, [2, 3]],
    ] as const) {
      const program = await run(generation);
      expect(byType(AGE_KEY).map((k) => k.name)).to.deep.equal(
        kept.map((g) => `secrets-key-g${g}`),
      );
      expect(unwrap(sopsAge().inputs.stringData)).to.deep.equal(
        Object.fromEntries(
          kept.map((g) => [`dev-g${g}.agekey`, fakeAgeIdentity(`secrets-key-g${g}`)]),
        ),
      );
      // New files are encrypted to the current generation only.
      expect((await resolve(program.secretsRecipient as never)).value).to.equal(
        fakeAgeRecipient(`secrets-key-g${generation}`),
      );
    }
  });
});

describe("program under mocks: an existing cluster (provider: kubeconfig)", () => {
  before(async () => {
    await setMocks("prd", {
      ...engineConfig("prd"),
      "flux-platform:cluster": JSON.stringify({ provider: "kubeconfig", context: "eks-prd" }),
    });
    await runProgram();
  });

  it("creates no cluster and reads no kubeconfig into Pulumi", () => {
    expect(byType("command:local:Command")).to.deep.equal([]);
    expect(invokes.filter((i) => i.token === "command:local:run")).to.deep.equal([]);
  });

  it("points the provider at the context, and deletes Kubernetes objects one by one", () => {
    const provider = byType("pulumi:providers:kubernetes");
    expect(provider).to.have.length(1);
    expect(provider[0].inputs).to.deep.equal({
      context: "eks-prd",
      clusterIdentifier: "kubeconfig/eks-prd",
    });
    const kube = registrations.filter((r) => r.type.startsWith("kubernetes:"));
    const expected = Object.entries(COUNTS.prd).filter(([t]) => t.startsWith("kubernetes:"));
    expect(kube).to.have.length(expected.reduce((n, [, c]) => n + c, 0));
    for (const r of kube) {
      expect(r.provider.startsWith(`${provider[0].urn}::`), r.name).to.equal(true);
      expect(r.deletedWith, r.name).to.equal("");
    }
  });

  it("adopts namespaces that may already exist instead of failing with AlreadyExists", () => {
    expect(byType("kubernetes:core/v1:Namespace")).to.deep.equal([]);
    const patches = byType("kubernetes:core/v1:NamespacePatch");
    expect(patches.map((p) => (p.inputs.metadata as { name: string }).name).sort()).to.deep.equal([
      "apps",
      "flux-system",
    ]);
    for (const p of patches) {
      const metadata = p.inputs.metadata as { annotations: Record<string, string> };
      expect(metadata.annotations["pulumi.com/patchForce"], p.name).to.equal("true");
    }
  });
});

describe("program under mocks: GitHub Enterprise Server, Flux already installed, no infrastructure", () => {
  let standin: StandIn;
  const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeHostKeyOfTheGitServerForTheTests0";
  before(async () => {
    standin = await startStandIn({
      root: fs.mkdtempSync(path.join(os.tmpdir(), "standin-")),
      sshHostKeys: [HOST_KEY],
    });
    await setMocks("prd", {
      ...engineConfig("prd"),
      "github:baseUrl": `${standin.url}/`,
      "flux-platform:cluster": JSON.stringify({ provider: "kubeconfig", context: "kind-e2e" }),
      "flux-platform:fluxInstall": "existing",
      "flux-platform:fluxComponents": JSON.stringify(["source-controller", "kustomize-controller"]),
      "flux-platform:infrastructure": JSON.stringify({
        kyverno: false,
        reloader: false,
        gateway: false,
      }),
      "flux-platform:gitSsh": JSON.stringify({ host: "127.0.0.1", port: 2222 }),
    });
    await runProgram();
  });
  after(() => standin.close());

  it("installs no Flux Operator, FluxInstance or infrastructure Kustomization", () => {
    expect(byType("kubernetes:helm.sh/v3:Release")).to.deep.equal([]);
    expect(byType("kubernetes:fluxcd.controlplane.io/v1:FluxInstance")).to.deep.equal([]);
    expect(byType("flux-platform:index:FluxInstall")).to.deep.equal([]);
    const ks = byType("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization").map((k) => k.name);
    expect(ks.filter((n) => n.includes("infrastructure-kustomization"))).to.deep.equal([]);
    expect(ks).to.have.length(6);
  });

  it("anchors each service on the last base object, not on every one of them", () => {
    // With no infrastructure Kustomization the base objects are one chain, after the age
    // key's Secret too, so a service's config Kustomization names one anchor (that chain's
    // end), whatever is on, and its component none.
    const base = registrations.filter(
      (r) => r.name.startsWith("infrastructure-") && r.type.startsWith("kubernetes:"),
    );
    expect(base.length).to.be.greaterThan(2);
    const last = base[base.length - 1];
    for (const r of registrations.filter((x) => /^service-[^-]+$/.test(x.name))) {
      expect(r.dependencies, r.name).to.deep.equal([]);
    }
    const configs = byType("kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization").filter((r) =>
      /^service-.*-kustomization-config-/.test(r.name),
    );
    expect(configs).to.have.length(3);
    for (const r of configs) expect(r.dependencies, r.name).to.deep.equal([last.urn]);
  });

  it("reads the repositories over the server's SSH port, trusting the host keys its /meta publishes", () => {
    expect(standin.requests.filter((q) => q.path === "/meta")).to.have.length(1);
    const repo = byType("kubernetes:source.toolkit.fluxcd.io/v1:GitRepository").find(
      (r) => r.name === "platform-source-gitrepository-flux-platform",
    )!;
    expect((repo.inputs.spec as { url: string }).url).to.equal(
      "ssh://git@127.0.0.1:2222/acme/flux_platform",
    );
    for (const s of byType("kubernetes:core/v1:Secret").filter((x) => x.name !== SOPS_AGE)) {
      const data = unwrap(s.inputs.stringData) as Record<string, string>;
      expect(data.known_hosts).to.equal(`[127.0.0.1]:2222 ${HOST_KEY}`);
    }
  });
});

describe("program under mocks: commit statuses", () => {
  before(async () => {
    await setMocks("dev", {
      ...engineConfig("dev"),
      "flux-platform:commitStatus": "true",
      "flux-platform:commitStatusToken": "ghp_status_token",
    });
    await runProgram();
  });

  it("stores the status token only as a secret, and applies the Providers and Alerts", () => {
    const secret = one("kubernetes:core/v1:Secret", "commit-status-secret-commit-status-token");
    expect(isSecretValue(secret.inputs.stringData)).to.equal(true);
    expect(unwrap(secret.inputs.stringData)).to.deep.equal({ token: "ghp_status_token" });
    for (const r of registrations) {
      if (r.name === secret.name) continue;
      expect(JSON.stringify(r.inputs), r.name).to.not.contain("ghp_status_token");
    }
    expect(byType("kubernetes:notification.toolkit.fluxcd.io/v1beta3:Provider")).to.have.length(2);
    expect(byType("kubernetes:notification.toolkit.fluxcd.io/v1beta3:Alert")).to.have.length(2);
  });
});

describe("program under mocks: GitHub App mode", () => {
  const key = crypto
    .generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ type: "pkcs1", format: "pem" })
    .toString();
  before(async () => {
    await setMocks("dev", {
      ...engineConfig("dev"),
      "flux-platform:gitAuth": "githubApp",
      "flux-platform:githubApp": JSON.stringify({ appId: 123, installationId: 456 }),
      "flux-platform:githubAppPrivateKey": key,
      "flux-platform:commitStatus": "true",
    });
    await runProgram();
  });

  it("never takes a grant away on destroy: every environment's Flux reads with the same one", () => {
    const grants = byType("github:index/appInstallationRepository:AppInstallationRepository");
    expect(grants).to.have.length(2);
    // The provider's delete is RemoveRepository with no check: prd's destroy (or prd going
    // back to deploy keys) would cut dev off.
    for (const g of grants) expect(g.retainOnDelete, g.name).to.equal(true);
  });

  it("grants the App's installation both repos, makes no deploy key, keeps the App's key secret", () => {
    const grants = byType("github:index/appInstallationRepository:AppInstallationRepository");
    expect(grants.map((g) => [g.inputs.installationId, g.inputs.repository]).sort()).to.deep.equal([
      ["456", "flux_developer"],
      ["456", "flux_platform"],
    ]);
    expect(byType("pulumi-nodejs:dynamic/flux-platform:DeployKey")).to.have.length(0);
    expect(byType("pulumi-nodejs:dynamic/flux-platform:SshKeyPair")).to.have.length(0);
    for (const role of ["platform", "developer"]) {
      const s = one("kubernetes:core/v1:Secret", `${role}-source-secret-flux-${role}-github-app`);
      expect(isSecretValue(s.inputs.stringData)).to.equal(true);
      expect((unwrap(s.inputs.stringData) as Record<string, string>).githubAppPrivateKey).to.equal(
        key,
      );
    }
    const body = key.split("\n")[1];
    for (const r of registrations) {
      if (r.type === "kubernetes:core/v1:Secret") continue;
      expect(JSON.stringify(r.inputs), r.name).to.not.contain(body);
    }
    // The App posts the statuses: no token Secret, the Providers use the sources' Secrets.
    expect(
      byType("kubernetes:core/v1:Secret")
        .map((s) => s.name)
        .filter((n) => n.includes("commit-status")),
    ).to.deep.equal([]);
    expect(byType("kubernetes:notification.toolkit.fluxcd.io/v1beta3:Provider")).to.have.length(2);
  });
});

describe("program under mocks: push to apply", () => {
  before(async () => {
    await setMocks("dev", {
      ...engineConfig("dev"),
      // Under dev's ingressDomain (dev.localhost): the receiver gets a route on the Gateway.
      "flux-platform:webhookReceiverUrl": "https://flux-webhook.dev.localhost/",
    });
    await runProgram();
  });

  it("puts a webhook on each repo that calls its Receiver's path, the token secret everywhere", () => {
    const token = "f".repeat(64);
    const hooks = byType("pulumi-nodejs:dynamic/flux-platform:RepositoryWebhook");
    expect(hooks.map((h) => h.inputs.repository).sort()).to.deep.equal([
      "flux_developer",
      "flux_platform",
    ]);
    for (const h of hooks) {
      const role = h.inputs.repository === "flux_platform" ? "platform" : "developer";
      const cfg = h.inputs;
      // Registered with the stack's GitHub access, the token kept secret.
      expect(h.inputs.owner).to.equal("acme");
      expect(isSecretValue(h.inputs.token)).to.equal(true);
      expect(isSecretValue(cfg.url)).to.equal(true);
      expect(isSecretValue(cfg.secret)).to.equal(true);
      expect(unwrap(cfg.url)).to.equal(
        webhookUrl("https://flux-webhook.dev.localhost", token, role),
      );
      expect(unwrap(cfg.secret)).to.equal(token);
      expect(h.inputs.events).to.deep.equal(["push"]);
    }
    const secret = one("kubernetes:core/v1:Secret", "push-receiver-secret-github-webhook-token");
    expect(isSecretValue(secret.inputs.stringData)).to.equal(true);
    expect(byType("kubernetes:notification.toolkit.fluxcd.io/v1:Receiver")).to.have.length(2);
    expect(byType("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")).to.have.length(1);
    expect(byType("kubernetes:gateway.networking.k8s.io/v1:ReferenceGrant")).to.have.length(1);
    // The route needs the Gateway API's CRDs: the whole component waits for the infrastructure.
    const component = one("flux-platform:index:PushReceiver", "push-receiver");
    const infraKs = registrations.filter(
      (r) =>
        r.type === "kubernetes:kustomize.toolkit.fluxcd.io/v1:Kustomization" &&
        r.name.startsWith("infrastructure-"),
    );
    expect(infraKs).to.not.have.length(0);
    for (const k of infraKs) expect(component.dependencies, k.name).to.include(k.urn);
    for (const r of registrations) {
      if (r.name === secret.name || r.type.includes("RepositoryWebhook")) continue;
      if (r.type.includes("RandomToken")) continue;
      expect(JSON.stringify(r.inputs), r.name).to.not.contain(token);
    }
  });
});

describe("program under mocks: the first preview of a new minikube stack", () => {
  // A new machine: no profile, nothing in the state. The plugin answers the profile's create
  // preview with an id and unknown outputs; the read must not run (the profile is not there).
  before(async () => {
    world.profile = "absent";
    await setMocks("dev", engineConfig("dev"), { preview: true });
    await runProgram();
  });

  it("shows the profile and everything under it as creates, reading no kubeconfig and starting nothing", async () => {
    const counts: Record<string, number> = {};
    for (const r of registrations) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).to.deep.equal(COUNTS.dev);
    expect(invokes.filter((i) => i.token === "command:local:run")).to.deep.equal([]);
    expect(doubleCalls()).to.deep.equal([]);
    const provider = byType("pulumi:providers:kubernetes")[0];
    // Unknown until the profile exists: the provider shows its objects as creates.
    expect(JSON.stringify(provider.inputs)).to.not.contain("apiVersion");
  });
});

describe("program under mocks: a profile in the state that is stopped or gone", () => {
  const c = loadStackFile(ROOT, "dev").cluster as MinikubeCluster;
  afterEach(() => {
    world.profile = "absent";
    world.profileInState = false;
  });
  const kubeconfigOf = async (profile: typeof world.profile, preview: boolean) => {
    world.profile = profile;
    world.profileInState = true;
    await setMocks("dev", engineConfig("dev"), { preview });
    const cluster = new Cluster("cluster", { cluster: c });
    return settled(cluster.kubeconfig!);
  };

  it("keeps the one line as it is when the SDK prefixes an error it serializes", () => {
    const err = oneLineError("flux-platform: minikube profile p is not running");
    // What the SDK's serializeProperty does to a rejection before rethrowing it.
    err.message = `error serializing property "kubeconfig": ${err.message}`;
    expect(err.message).to.equal("flux-platform: minikube profile p is not running");
    expect(pulumi.RunError.isInstance(err)).to.equal(true);
  });

  for (const preview of [true, false]) {
    const mode = preview ? "preview" : "up";
    it(`${mode}: a stopped profile stops the run with one line (a RunError) and starts nothing`, async () => {
      const r = await kubeconfigOf("stopped", preview);
      expect(pulumi.RunError.isInstance(r.error), String(r.error)).to.equal(true);
      expect(r.error!.message).to.equal(
        "flux-platform: minikube profile minikube-dev is not running; start it with: minikube start -p minikube-dev",
      );
      expect(doubleCalls().filter((x) => !x.startsWith("minikube status"))).to.deep.equal([]);
    });

    it(`${mode}: a profile deleted by hand stops the run, saying how to rebuild it`, async () => {
      const r = await kubeconfigOf("absent", preview);
      expect(pulumi.RunError.isInstance(r.error), String(r.error)).to.equal(true);
      expect(r.error!.message).to.match(
        /^flux-platform: minikube profile minikube-dev was deleted outside Pulumi, and stack dev still holds/,
      );
    });
  }

  it("a running profile in the state is read in a no-op preview, with its current API server", async () => {
    world.server = "https://127.0.0.1:40999";
    const r = await kubeconfigOf("running", true);
    world.server = "https://127.0.0.1:32771";
    expect(r.error).to.equal(undefined);
    expect(r.value).to.equal(fakeKubeconfig("minikube-dev", "https://127.0.0.1:40999"));
  });
});

describe("program under mocks: a minikube restart (new API server port)", () => {
  const identity = async (server: string) => {
    world.server = server;
    await setMocks("dev", engineConfig("dev"));
    await runProgram();
    const provider = byType("pulumi:providers:kubernetes")[0];
    return {
      id: provider.inputs.clusterIdentifier,
      kubeconfig: unwrap(provider.inputs.kubeconfig),
    };
  };
  after(() => {
    world.server = "https://127.0.0.1:32771";
  });

  it("changes the provider's kubeconfig but not its cluster identity: an update, not a replace", async () => {
    const before = await identity("https://127.0.0.1:32771");
    const after = await identity("https://127.0.0.1:40125");
    expect(after.kubeconfig).to.not.equal(before.kubeconfig);
    expect(after.kubeconfig).to.contain("https://127.0.0.1:40125");
    expect(after.id).to.equal(before.id);
  });
});

describe("program under mocks: pulumi up after pulumi destroy (repositories kept)", () => {
  before(async () => {
    world.existingRepos = new Set(["flux_platform", "flux_developer"]);
    await setMocks("dev", engineConfig("dev"));
    await runProgram();
  });
  after(() => {
    world.existingRepos = new Set();
  });

  it("asks GitHub whether each repository exists, then imports it instead of creating it", () => {
    const asked = invokes.filter((i) => i.token === "github:index/getRepository:getRepository");
    expect(asked.map((i) => i.inputs.name).sort()).to.deep.equal([
      "flux_developer",
      "flux_platform",
    ]);
    const repos = byType("github:index/repository:Repository");
    expect(repos.map((r) => r.importId).sort()).to.deep.equal(["flux_developer", "flux_platform"]);
    for (const r of repos) {
      expect(r.read).to.equal(false);
      expect(r.retainOnDelete).to.equal(true);
      expect(r.ignoreChanges).to.deep.equal(["autoInit"]);
    }
  });

  it("does not rename the default branch of a kept repository", () => {
    for (const b of byType("github:index/branchDefault:BranchDefault")) {
      expect(b.inputs).to.include({ branch: "main", rename: false });
    }
  });
});

describe("program under mocks: first pulumi up (no repositories yet)", () => {
  before(async () => {
    await setMocks("dev", engineConfig("dev"));
    await runProgram();
  });

  it("creates the repositories, renames autoInit's branch to main and waits for the rename", () => {
    expect(byType("github:index/repository:Repository").map((r) => r.importId)).to.deep.equal([
      "",
      "",
    ]);
    for (const b of byType("github:index/branchDefault:BranchDefault")) {
      expect(b.inputs).to.include({ branch: "main", rename: true, waitForRename: true });
    }
  });
});

/** Runs the program afresh, expecting it to stop; resolves to what it threw. */
async function programError(): Promise<Error | undefined> {
  delete require.cache[require.resolve(PROGRAM)];
  let error: Error | undefined;
  try {
    await require(PROGRAM);
  } catch (err) {
    error = err as Error;
  }
  await settle();
  return error;
}

describe("program under mocks: the example stack's placeholder owner", () => {
  it("stops before anything is declared, so your-github-org never reaches GitHub", async () => {
    await setMocks("dev", { ...engineConfig("dev"), "github:owner": "your-github-org" });
    const error = await programError();
    expect(pulumi.RunError.isInstance(error), String(error)).to.equal(true);
    expect(error?.message).to.equal(
      "github:owner: `your-github-org` is the example stack's placeholder; set the GitHub user or organisation that owns both repos: `pulumi config set github:owner <name>`",
    );
    expect(registrations).to.deep.equal([]);
    expect(invokes).to.deep.equal([]);
  });
});

describe("program under mocks: invalid config", () => {
  it("stops with every problem as a RunError and registers nothing", async () => {
    await setMocks("dev", {
      ...engineConfig("dev"),
      "flux-platform:fluxVersion": "latest",
      "flux-platform:services": JSON.stringify({ Beetle: { tag: "6.15.0" } }),
    });
    const error = await programError();
    expect(pulumi.RunError.isInstance(error), String(error)).to.equal(true);
    expect(error?.message).to.contain("fluxVersion: `latest` is not an exact Flux 2.x version");
    expect(error?.message).to.contain("services.Beetle.image: is required");
    expect(error?.message).to.contain("services.Beetle: `Beetle` is not a valid service name");
    expect(registrations).to.deep.equal([]);
  });
});
