/**
 * Verification of what the stacks commit and apply: render every stack file in the repo,
 * build each Flux Kustomization with real kustomize as kustomize-controller would, apply
 * Flux >= 2.9 post-build substitution, validate every object against its schema model and
 * check the references between them.
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  loadStackFile,
  renderStack,
  renderedTree,
  writeTree,
  type RenderedStack,
} from "../lib/render";
import { IN_MEMORY_BUILDS_PATCH, kustomizeControllerFlags, webhookUrl } from "../lib/cluster";
import { POLICIES } from "../lib/platformRepo/policies";
import { parseYamlDocs } from "../lib/yaml";
import { GITHUB_KNOWN_HOSTS, KEY_PLACEHOLDER, KNOWN_HOSTS_PLACEHOLDER } from "../lib/cluster";
import { SECRETS_FILE, SECRETS_TEMPLATE } from "../lib/developerRepo";
import { CONFIG_ACCOUNT, FLUX_NAMESPACE, configMapName, secretsName } from "../lib/names";
import { fluxBuild, kustomizeBuild, substitute, type FluxKustomization } from "./support/fluxBuild";
import { CLUSTER_SCOPED, loadModels, validateObject, type KubeObject } from "./support/models";

const ROOT = path.resolve(__dirname, "..");
const STACKS = fs
  .readdirSync(ROOT)
  .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined)
  .sort();

const tmp = (prefix: string): string =>
  fs.mkdtempSync(path.join(os.tmpdir(), `flux-platform-${prefix}-`));

function readTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return out;
}

const id = (o: KubeObject): string => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

interface Policy extends KubeObject {
  spec: {
    validationActions: string[];
    matchConstraints: { namespaceSelector: { matchLabels: Record<string, string> } };
    validations: { expression: string; message: string }[];
  };
}

interface PodSpec {
  containers: Record<string, unknown>[];
}

interface Built {
  ks: FluxKustomization;
  objects: KubeObject[];
}

before(async () => {
  await loadModels();
  const probe = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      "kubectl (with kustomize) is required for these tests: install kubectl >= 1.32",
    );
  }
});

describe("substitution (Flux >= 2.9 semantics)", () => {
  it("replaces defined variables, applies defaults and keeps escaped ones", () => {
    expect(substitute("a: ${A}\nb: ${B:=x}\nc: ${C:-y}\nd: $${D}", { A: "1" })).to.equal(
      "a: 1\nb: x\nc: y\nd: ${D}",
    );
  });
  it("fails on a variable that is neither defined nor defaulted", () => {
    expect(() => substitute("image: ${IMAGE}", {})).to.throw(
      "variable `IMAGE` is not defined and has no default",
    );
  });
});

describe("schema validation", () => {
  it("rejects what Flux's CRDs reject (a Kustomization without prune, a v1beta2 API)", () => {
    const ks = {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: "x", namespace: "flux-system" },
      spec: { interval: "1m", sourceRef: { kind: "GitRepository", name: "x" } },
    };
    expect(() => validateObject(ks)).to.throw(/prune/);
    // The beta API of the same kind, removed in Flux 2.8, has no model: refused, not passed.
    const removedBeta = { ...ks, apiVersion: ks.apiVersion.replace(/\/v1$/, "/v1beta2") };
    expect(() => validateObject(removedBeta)).to.throw(/no schema model/);
  });
});

describe("waitForReady", () => {
  it("makes Pulumi wait for the platform's own Kustomizations, never for a service's", () => {
    const on = loadStackFile(ROOT, "dev");
    const kustomizations = (r: RenderedStack) =>
      r.clusterObjects.filter((o) => o.kind === "Kustomization");
    const services = new Set(
      renderStack(on).cluster.services.flatMap((s) => [
        s.config.metadata.name,
        s.app.metadata.name,
      ]),
    );
    const all = kustomizations(renderStack(on));
    expect(all.filter((k) => !services.has(k.metadata.name))).to.not.have.length(0);
    for (const ks of all) {
      // A service's is read by the one wait after all of them (lib/cluster/rollout.ts), Ready or not.
      expect(ks.metadata.annotations, ks.metadata.name).to.deep.equal(
        services.has(ks.metadata.name)
          ? { "pulumi.com/skipAwait": "true" }
          : { "pulumi.com/waitFor": "condition=Ready" },
      );
    }
    for (const ks of kustomizations(renderStack({ ...on, waitForReady: false }))) {
      expect(ks.metadata.annotations, ks.metadata.name).to.deep.equal(
        services.has(ks.metadata.name) ? { "pulumi.com/skipAwait": "true" } : undefined,
      );
    }
  });
});

describe("Flux sized for the platform", () => {
  it("sizes the FluxInstance from the number of services, as the operator's profiles do", () => {
    const on = loadStackFile(ROOT, "dev");
    const size = (n: number) => {
      const services = Array.from({ length: n }, (_, i) => ({ ...on.services[0], name: `s${i}` }));
      return (renderStack({ ...on, services }).fluxInstance.spec as { cluster: { size: string } })
        .cluster.size;
    };
    expect([size(1), size(10), size(11), size(50), size(51), size(300)]).to.deep.equal([
      "small",
      "small",
      "medium",
      "medium",
      "large",
      "large",
    ]);
    expect(kustomizeControllerFlags("large")).to.deep.equal([
      "--concurrent=20",
      "--requeue-dependency=5s",
    ]);
  });

  it("puts kustomize-controller's /tmp in memory from medium up, and the patch does that under kustomize", () => {
    const on = loadStackFile(ROOT, "dev");
    const patches = (n: number) => {
      const services = Array.from({ length: n }, (_, i) => ({ ...on.services[0], name: `s${i}` }));
      const spec = renderStack({ ...on, services }).fluxInstance.spec as {
        kustomize?: { patches: unknown[] };
      };
      return spec.kustomize?.patches;
    };
    expect(patches(10)).to.equal(undefined);
    expect(patches(11)).to.deep.equal([IN_MEMORY_BUILDS_PATCH]);
    expect(patches(300)).to.deep.equal([IN_MEMORY_BUILDS_PATCH]);
    // The Flux Operator applies FluxInstance patches with kustomize: applied here by kubectl's
    // kustomize to the volume part of kustomize-controller v1.9.4's config/manager/deployment.yaml.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "in-memory-builds-"));
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "kustomize-controller", namespace: "flux-system" },
      spec: {
        selector: { matchLabels: { app: "kustomize-controller" } },
        template: {
          metadata: { labels: { app: "kustomize-controller" } },
          spec: {
            containers: [
              {
                name: "manager",
                image: "ghcr.io/fluxcd/kustomize-controller:v1.9.4",
                volumeMounts: [{ name: "temp", mountPath: "/tmp" }],
              },
            ],
            volumes: [{ name: "temp", emptyDir: {} }],
          },
        },
      },
    };
    fs.writeFileSync(path.join(dir, "deployment.yaml"), JSON.stringify(deployment));
    fs.writeFileSync(
      path.join(dir, "kustomization.yaml"),
      JSON.stringify({ resources: ["deployment.yaml"], patches: [IN_MEMORY_BUILDS_PATCH] }),
    );
    const [out] = kustomizeBuild(dir) as unknown as (typeof deployment)[];
    fs.rmSync(dir, { recursive: true, force: true });
    expect(out.spec.template.spec.volumes).to.deep.equal([
      { name: "temp", emptyDir: { medium: "Memory" } },
    ]);
    expect(out.spec.template.spec.containers[0].volumeMounts).to.deep.equal([
      { name: "temp", mountPath: "/tmp" },
    ]);
  });
});

describe("the age key Secret per secretsKeyGeneration", () => {
  const agekeys = (generation: number, environment = "dev") => {
    const cfg = { ...loadStackFile(ROOT, "dev"), environment, secretsKeyGeneration: generation };
    const secret = renderStack(cfg).clusterObjects.find(
      (o) => o.kind === "Secret" && o.metadata.name === "sops-age",
    )!;
    validateObject(secret as KubeObject);
    expect(secret.metadata.namespace).to.equal(FLUX_NAMESPACE);
    const data = secret.stringData as Record<string, string>;
    for (const v of Object.values(data)) expect(v).to.equal(KEY_PLACEHOLDER);
    return Object.keys(data);
  };

  it("holds the current generation's identity, and after a bump the one before too", () => {
    expect(agekeys(1)).to.deep.equal(["dev-g1.agekey"]);
    expect(agekeys(2)).to.deep.equal(["dev-g1.agekey", "dev-g2.agekey"]);
    expect(agekeys(3)).to.deep.equal(["dev-g2.agekey", "dev-g3.agekey"]);
    expect(agekeys(7, "prd")).to.deep.equal(["prd-g6.agekey", "prd-g7.agekey"]);
  });
});

describe("switchable infrastructure, an existing Flux, GitHub Enterprise Server", () => {
  const dev = loadStackFile(ROOT, "dev");
  const kustomizations = (r: RenderedStack) =>
    r.clusterObjects.filter((o) => o.kind === "Kustomization");

  it("writes and applies only the infrastructure that is switched on", () => {
    const none = renderStack({
      ...dev,
      infrastructure: { kyverno: false, reloader: false, gateway: false },
    });
    expect(none.platformFiles.filter((f) => f.path.includes("/infrastructure/"))).to.deep.equal([]);
    const names = kustomizations(none).map((k) => k.metadata.name);
    expect(names.filter((n) => n.startsWith("infrastructure"))).to.deep.equal([]);
    const config = kustomizations(none).find((k) => k.metadata.name === "config-beetle")!;
    expect((config.spec as { dependsOn?: unknown }).dependsOn).to.equal(undefined);

    const reloader = renderStack({
      ...dev,
      infrastructure: { kyverno: false, reloader: true, gateway: false },
    });
    expect(
      reloader.platformFiles.filter((f) => f.path.includes("/infrastructure/")).map((f) => f.path),
    ).to.deep.equal([
      "environments/dev/infrastructure/controllers/kustomization.yaml",
      "environments/dev/infrastructure/controllers/reloader.yaml",
    ]);
    const out = tmp("reloader-only");
    writeTree(out, renderedTree(reloader));
    const built = kustomizeBuild(
      path.join(out, "flux_platform/environments/dev/infrastructure/controllers"),
    );
    expect(built.map((o) => `${o.kind}/${o.metadata.name}`).sort()).to.deep.equal([
      "HelmRelease/reloader",
      "HelmRepository/reloader",
      "Namespace/reloader",
    ]);
    const cfg = kustomizations(reloader).find((k) => k.metadata.name === "config-beetle")!;
    expect((cfg.spec as { dependsOn: unknown }).dependsOn).to.deep.equal([
      { name: "infrastructure" },
    ]);
  });

  it("reads repositories over the configured SSH host and port, with host keys for that host and port", () => {
    const ghes = renderStack({
      ...dev,
      gitSsh: { host: "ghe.example.com", port: 2222, knownHosts: ["ssh-ed25519 AAAAC3Nza"] },
    });
    const repo = ghes.cluster.sources.platform.gitRepository.spec as { url: string };
    expect(repo.url).to.equal(`ssh://git@ghe.example.com:2222/${dev.owner}/flux_platform`);
    const secret = ghes.cluster.sources.platform.secret.stringData as Record<string, string>;
    expect(secret.known_hosts).to.equal("[ghe.example.com]:2222 ssh-ed25519 AAAAC3Nza");
    const fromMeta = renderStack({ ...dev, gitSsh: { host: "ghe.example.com", port: 22 } });
    const data = fromMeta.cluster.sources.developer.secret.stringData as Record<string, string>;
    expect(data.known_hosts).to.equal(KNOWN_HOSTS_PLACEHOLDER);
    expect((fromMeta.cluster.sources.developer.gitRepository.spec as { url: string }).url).to.equal(
      `ssh://git@ghe.example.com/${dev.owner}/flux_developer`,
    );
  });
});

describe("ingress through the Gateway API", () => {
  const dev = loadStackFile(ROOT, "dev");
  /** Built as kustomize-controller builds them: the Gateway's and each service's Kustomization. */
  const built = (cfg: typeof dev, dir: string) => {
    const r = renderStack(cfg);
    const out = tmp(dir);
    writeTree(out, renderedTree(r));
    const ks = (name: string) =>
      r.clusterObjects.find((o) => o.kind === "Kustomization" && o.metadata.name === name)!;
    const build = (name: string) =>
      fluxBuild(ks(name) as unknown as FluxKustomization, path.join(out, cfg.platformRepo));
    const gateway = build("infrastructure-gateway");
    const apps = Object.fromEntries(cfg.services.map((s) => [s.name, build(`app-${s.name}`)]));
    return { gateway, apps };
  };

  it("gives every service a route on the environment's Gateway, unique host names, valid models", () => {
    const { gateway, apps } = built(dev, "gateway");
    const gw = gateway.find((o) => o.kind === "Gateway")!;
    expect(gw.metadata).to.include({ name: "platform", namespace: "apps" });
    expect(gateway.find((o) => o.kind === "GatewayClass")!.metadata.name).to.equal(
      (gw.spec as { gatewayClassName: string }).gatewayClassName,
    );
    const listeners = (gw.spec as { listeners: { name: string; hostname: string }[] }).listeners;
    expect(listeners).to.deep.include({
      ...listeners[0],
      name: "http",
      hostname: "*.dev.localhost",
    });
    const hosts: string[] = [];
    for (const [name, objs] of Object.entries(apps)) {
      const route = objs.find((o) => o.kind === "HTTPRoute")!;
      validateObject(route);
      for (const o of gateway) validateObject(o);
      const spec = route.spec as {
        parentRefs: { name: string; sectionName: string }[];
        hostnames: string[];
        rules: { backendRefs: { name: string; port: number }[] }[];
      };
      expect(spec.parentRefs).to.deep.equal([
        { name: gw.metadata.name, sectionName: listeners[0].name },
      ]);
      const svc = objs.find((o) => o.kind === "Service")!;
      expect(spec.rules[0].backendRefs).to.deep.equal([{ name: svc.metadata.name, port: 80 }]);
      hosts.push(...spec.hostnames);
      expect(spec.hostnames).to.deep.equal([`${name}.dev.localhost`]);
    }
    expect(new Set(hosts).size).to.equal(hosts.length);
  });

  it("leaves out the route of a service that opts out, and every route when the Gateway is off", () => {
    const optOut = {
      ...dev,
      services: dev.services.map((s) => (s.name === "sonar" ? { ...s, ingress: false } : s)),
    };
    const { apps } = built(optOut, "opt-out");
    expect(apps.sonar.map((o) => o.kind)).to.not.include("HTTPRoute");
    expect(apps.beetle.map((o) => o.kind)).to.include("HTTPRoute");
    const off = renderStack({ ...dev, infrastructure: { ...dev.infrastructure, gateway: false } });
    expect(off.platformFiles.filter((f) => /gateway|components\/route/.test(f.path))).to.deep.equal(
      [],
    );
    expect(off.clusterObjects.map((o) => o.metadata.name)).to.not.include("infrastructure-gateway");
  });
});

describe("per-service settings", () => {
  /** One service's objects as kustomize-controller applies them (build, then substitution). */
  const appObjects = (cfg: ReturnType<typeof loadStackFile>, service: string, dir: string) => {
    const r = renderStack(cfg);
    const out = tmp(dir);
    writeTree(out, renderedTree(r));
    const ks = r.clusterObjects.find(
      (o) => o.kind === "Kustomization" && o.metadata.name === `app-${service}`,
    )!;
    return {
      files: r.platformFiles
        .map((f) => f.path)
        .filter((p) => p.includes(`/apps/${service}/`))
        .map((p) => p.split("/").pop()),
      objects: fluxBuild(ks as unknown as FluxKustomization, path.join(out, cfg.platformRepo)),
    };
  };
  type Container = {
    command?: string[];
    args?: string[];
    env: { name: string; value: string }[];
    resources: object;
    readinessProbe: Record<string, unknown>;
    livenessProbe?: Record<string, unknown>;
  };
  const container = (objects: KubeObject[]) =>
    (
      objects.find((o) => o.kind === "Deployment")!.spec as {
        template: { spec: { containers: Container[] } };
      }
    ).template.spec.containers[0];

  it("reaches prd's beetle as a patch, an HPA and a PDB in its own folder, valid and within the policies", async () => {
    await loadModels();
    const { evaluate } = await import("@marcbachmann/cel-js");
    const prd = loadStackFile(ROOT, "prd");
    const { files, objects } = appObjects(prd, "beetle", "settings-prd");
    expect(files.sort()).to.deep.equal([
      "deployment-patch.yaml",
      "hpa.yaml",
      "kustomization.yaml",
      "pdb.yaml",
    ]);
    for (const o of objects) validateObject(o);
    const deploy = objects.find((o) => o.kind === "Deployment")!;
    expect((deploy.spec as { replicas?: number }).replicas).to.equal(undefined);
    const c = container(objects);
    expect(c.resources).to.deep.equal({
      requests: { cpu: "200m", memory: "128Mi" },
      limits: { cpu: "1", memory: "256Mi" },
    });
    expect(c.readinessProbe).to.deep.equal({
      httpGet: { path: "/readyz", port: "http" },
      periodSeconds: 10,
    });
    expect(c.livenessProbe).to.deep.equal({
      httpGet: { path: "/healthz", port: "http" },
      periodSeconds: 10,
    });
    expect(c.env.map((e) => e.name).sort()).to.deep.equal([
      "CONFIG_DIR",
      "ENV",
      "PODINFO_UI_MESSAGE",
      "SERVICE_NAME",
    ]);
    const hpa = objects.find((o) => o.kind === "HorizontalPodAutoscaler")!;
    expect(hpa.metadata.namespace).to.equal(prd.appNamespace);
    expect(hpa.spec).to.deep.include({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "beetle" },
      minReplicas: 3,
      maxReplicas: 6,
    });
    const pdb = objects.find((o) => o.kind === "PodDisruptionBudget")!;
    expect(pdb.spec).to.deep.equal({
      maxUnavailable: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": "beetle" } },
    });
    // The platform's Kyverno policies, as CEL, on the pod this Deployment makes.
    const pod = { spec: { containers: [c] } };
    for (const p of POLICIES)
      expect(evaluate(p.expression, { object: pod }), p.name).to.equal(true);
  });

  it("writes nothing for a service on the defaults, a PDB only from two pods, env where set", () => {
    const prd = loadStackFile(ROOT, "prd");
    const sonar = appObjects(prd, "sonar", "settings-sonar");
    expect(sonar.files.sort()).to.deep.equal(["kustomization.yaml", "pdb.yaml"]);
    const dev = loadStackFile(ROOT, "dev");
    expect(appObjects(dev, "tiger", "settings-tiger").files).to.deep.equal(["kustomization.yaml"]);
    const beetle = appObjects(dev, "beetle", "settings-dev");
    expect(beetle.files.sort()).to.deep.equal(["deployment-patch.yaml", "kustomization.yaml"]);
    expect(container(beetle.objects).args).to.equal(undefined);
    expect(container(beetle.objects).env).to.deep.include({
      name: "PODINFO_LEVEL",
      value: "debug",
    });
    expect(beetle.objects.map((o) => o.kind)).to.not.include("PodDisruptionBudget");
  });

  it("keeps a literal `${...}` in env, command and args through Flux's substitution", () => {
    const dev = loadStackFile(ROOT, "dev");
    const cfg = {
      ...dev,
      services: dev.services.map((s) =>
        s.name === "tiger"
          ? {
              ...s,
              env: { GREETING: "hello ${USER}" },
              command: ["./podinfo"],
              args: ["--path=${HOME}/x"],
            }
          : s,
      ),
    };
    const c = container(appObjects(cfg, "tiger", "settings-literal").objects);
    expect(c.env.find((e) => e.name === "GREETING")!.value).to.equal("hello ${USER}");
    expect(c.args).to.deep.equal(["--path=${HOME}/x"]);
    expect(c.command).to.deep.equal(["./podinfo"]);
  });
});

describe("commit statuses", () => {
  it("posts a status per Kustomization of each service to its repository, through valid Flux objects", async () => {
    await loadModels();
    const dev = loadStackFile(ROOT, "dev");
    const r = renderStack({ ...dev, commitStatus: true, githubUrl: "https://ghe.example.com" });
    const n = r.cluster.notifications;
    for (const o of n.filter((x) => x.kind !== "Secret")) validateObject(o as KubeObject);
    const providers = n.filter((o) => o.kind === "Provider");
    expect(providers.map((p) => (p.spec as { address: string }).address).sort()).to.deep.equal([
      `https://ghe.example.com/${dev.owner}/flux_developer`,
      `https://ghe.example.com/${dev.owner}/flux_platform`,
    ]);
    const ks = new Set(
      r.clusterObjects.filter((o) => o.kind === "Kustomization").map((o) => o.metadata.name),
    );
    // One Alert per repository, whatever the number of services, selecting by label.
    const alerts = n.filter((o) => o.kind === "Alert");
    expect(alerts.map((a) => a.metadata.name)).to.deep.equal([
      "status-platform",
      "status-developer",
    ]);
    for (const a of alerts) {
      const spec = a.spec as {
        providerRef: { name: string };
        eventSources: { kind: string; name: string; matchLabels: Record<string, string> }[];
      };
      const role = a.metadata.name.replace("status-", "");
      expect(spec.providerRef.name).to.equal(`flux-${role}-status`);
      expect(spec.eventSources).to.deep.equal([
        { kind: "Kustomization", name: "*", matchLabels: { "flux-platform/repo": role } },
      ]);
      // The label is on exactly its services' Kustomizations: config-* for developer, app-*.
      const selected = r.clusterObjects
        .filter(
          (o) => o.kind === "Kustomization" && o.metadata.labels?.["flux-platform/repo"] === role,
        )
        .map((o) => o.metadata.name);
      const prefix = role === "developer" ? "config-" : "app-";
      expect(selected).to.have.length(dev.services.length);
      for (const name of selected) {
        expect(name.startsWith(prefix), name).to.equal(true);
        expect(ks.has(name)).to.equal(true);
      }
    }
    const secret = n.find((o) => o.kind === "Secret")!;
    expect((secret.stringData as Record<string, string>).token).to.equal(KEY_PLACEHOLDER);
    expect(renderStack(dev).cluster.notifications).to.deep.equal([]);
  });
});

describe("GitHub App mode", () => {
  it("reads both repos over HTTPS with provider github, and posts statuses with the same App Secret", async () => {
    await loadModels();
    const dev = loadStackFile(ROOT, "dev");
    const r = renderStack({
      ...dev,
      gitAuth: "githubApp",
      githubApp: { appId: 123, installationId: 456 },
      githubUrl: "https://ghe.example.com",
      githubApiUrl: "https://ghe.example.com/api/v3",
      commitStatus: true,
    });
    for (const role of ["platform", "developer"] as const) {
      const { secret, gitRepository } = r.cluster.sources[role];
      validateObject(gitRepository as KubeObject);
      validateObject(secret as KubeObject);
      expect(gitRepository.spec).to.deep.include({
        url: `https://ghe.example.com/${dev.owner}/flux_${role}`,
        provider: "github",
        secretRef: { name: `flux-${role}-github-app` },
      });
      expect(secret.stringData).to.deep.equal({
        githubAppID: "123",
        githubAppInstallationID: "456",
        githubAppPrivateKey: KEY_PLACEHOLDER,
        githubAppBaseURL: "https://ghe.example.com/api/v3",
      });
    }
    const n = r.cluster.notifications;
    expect(n.map((o) => o.kind)).to.not.include("Secret");
    for (const p of n.filter((o) => o.kind === "Provider")) {
      validateObject(p as KubeObject);
      expect((p.spec as { secretRef: { name: string } }).secretRef.name).to.match(
        /^flux-(platform|developer)-github-app$/,
      );
    }
  });
});

describe("push to apply", () => {
  it("renders a github Receiver per repository, valid for Flux, and the URL notification-controller serves it at", async () => {
    await loadModels();
    const dev = loadStackFile(ROOT, "dev");
    const r = renderStack({ ...dev, webhookReceiverUrl: "https://flux.example.com" });
    const objs = r.cluster.receivers;
    for (const o of objs.filter((x) => x.kind !== "Secret")) validateObject(o as KubeObject);
    const receivers = objs.filter((o) => o.kind === "Receiver");
    expect(
      receivers.map((o) => [
        o.metadata.name,
        (o.spec as { resources: { name: string }[] }).resources[0].name,
      ]),
    ).to.deep.equal([
      ["flux-platform-push", "flux-platform"],
      ["flux-developer-push", "flux-developer"],
    ]);
    expect((objs[0].stringData as Record<string, string>).token).to.equal(KEY_PLACEHOLDER);
    // Receiver.GetWebhookPath in notification-controller's api/v1: sha256(token+name+namespace).
    expect(webhookUrl("https://flux.example.com", "tok", "developer")).to.equal(
      `https://flux.example.com/hook/${createHash("sha256").update("tokflux-developer-pushflux-system").digest("hex")}`,
    );
    expect(renderStack(dev).cluster.receivers).to.deep.equal([]);
  });

  it("exposes the receiver on the Gateway when its host is under ingressDomain, through a ReferenceGrant", async () => {
    await loadModels();
    const dev = loadStackFile(ROOT, "dev");
    const at = (url: string, gateway = true) =>
      renderStack({
        ...dev,
        webhookReceiverUrl: url,
        infrastructure: { ...dev.infrastructure, gateway },
      }).cluster.receivers.filter((o) => o.apiVersion.startsWith("gateway.networking.k8s.io/"));
    const objs = at(`https://flux-webhook.${dev.ingressDomain}`);
    for (const o of objs) validateObject(o as KubeObject);
    const route = objs.find((o) => o.kind === "HTTPRoute")!;
    expect(route.metadata.namespace).to.equal(dev.appNamespace);
    expect(route.spec).to.deep.include({
      hostnames: [`flux-webhook.${dev.ingressDomain}`],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/hook/" } }],
          backendRefs: [{ name: "webhook-receiver", namespace: "flux-system", port: 80 }],
        },
      ],
    });
    const grant = objs.find((o) => o.kind === "ReferenceGrant")!;
    expect(grant.metadata.namespace).to.equal("flux-system");
    expect(grant.spec).to.deep.equal({
      from: [
        { group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: dev.appNamespace },
      ],
      to: [{ group: "", kind: "Service", name: "webhook-receiver" }],
    });
    // Elsewhere, or with a path, or without the Gateway: the team exposes it.
    expect(at("https://hooks.example.com")).to.deep.equal([]);
    expect(at(`https://flux-webhook.${dev.ingressDomain}/flux`)).to.deep.equal([]);
    expect(at(`https://flux-webhook.${dev.ingressDomain}`, false)).to.deep.equal([]);
  });
});

describe("environment names", () => {
  it("give no behaviour to the name `prd`: only policyMode decides, the scaffold is the same", () => {
    const dev = loadStackFile(ROOT, "dev");
    const named = (environment: string, policyMode: "audit" | "enforce") =>
      renderStack({ ...dev, environment, policyMode });
    const action = (r: RenderedStack) =>
      JSON.stringify(r.clusterObjects).match(/"POLICY_ACTION":"(\w+)"/)?.[1];
    expect(action(named("prd", "audit"))).to.equal("Audit");
    expect(action(named("live", "enforce"))).to.equal("Deny");
    const scaffold = (r: RenderedStack, env: string) =>
      r.developerFiles
        .filter((f) => f.path.startsWith(`beetle/${env}/`))
        .map((f) => ({
          ...f,
          path: f.path.replace(env, "<env>"),
          content: f.content.replaceAll(env, "<env>"),
        }));
    expect(scaffold(named("prd", "enforce"), "prd")).to.deep.equal(
      scaffold(named("staging", "audit"), "staging"),
    );
  });
});

describe("the seed's developer kustomization (regression)", () => {
  it("is refused by kustomize once its path is fixed: two files named config.yaml", () => {
    const dir = tmp("seed");
    fs.mkdirSync(path.join(dir, "beetle/base"), { recursive: true });
    fs.mkdirSync(path.join(dir, "beetle/dev"), { recursive: true });
    fs.writeFileSync(path.join(dir, "beetle/base/config.yaml"), "a: 1\n");
    fs.writeFileSync(path.join(dir, "beetle/dev/config.yaml"), "a: 2\n");
    fs.writeFileSync(
      path.join(dir, "beetle/dev/kustomization.yaml"),
      "configMapGenerator:\n  - name: beetle-config\n    files: [../base/config.yaml, config.yaml]\n",
    );
    expect(() => kustomizeBuild(path.join(dir, "beetle/dev"))).to.throw(
      /illegally repeats the key `config.yaml`/,
    );
  });
});

describe("npm run render", () => {
  const tsx = path.join(ROOT, "node_modules/.bin/tsx");
  const cli = path.join(ROOT, "scripts/render.ts");

  it("writes byte-identical trees on every run", () => {
    const a = tmp("render-a");
    const b = tmp("render-b");
    execFileSync(tsx, [cli, "--stack", "dev", "--out", a], { stdio: "pipe" });
    execFileSync(tsx, [cli, "--stack", "dev", "--out", b], { stdio: "pipe" });
    const treeA = readTree(a);
    expect(treeA.size).to.be.greaterThan(30);
    expect(treeA).to.deep.equal(readTree(b));
    expect(
      [...treeA.keys()].filter((f) => f.startsWith("cluster/")).every((f) => f.endsWith(".yaml")),
    ).to.equal(true);
  });

  it("exits non-zero with every problem on bad config and writes nothing", () => {
    const project = tmp("bad");
    const out = path.join(project, "out");
    fs.writeFileSync(
      path.join(project, "Pulumi.bad.yaml"),
      "config:\n  flux-platform:environment: dev\n  flux-platform:fluxVersion: latest\n  flux-platform:services: {}\n",
    );
    const r = spawnSync(tsx, [cli, "--stack", "bad", "--project-dir", project, "--out", out], {
      encoding: "utf8",
    });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain("github:owner: is required");
    expect(r.stderr).to.contain("fluxVersion: `latest` is not an exact Flux 2.x version");
    expect(r.stderr).to.contain("services: is empty");
    expect(fs.existsSync(out)).to.equal(false);
  });
});

for (const stack of STACKS) {
  describe(`stack ${stack}: rendered GitOps content`, () => {
    let rendered: RenderedStack;
    let out: string;
    let cluster: KubeObject[];
    const builds = new Map<string, Built>();
    const all = (): KubeObject[] => [...cluster, ...[...builds.values()].flatMap((b) => b.objects)];

    before(() => {
      rendered = renderStack(loadStackFile(ROOT, stack));
      out = tmp(stack);
      writeTree(out, renderedTree(rendered));
      cluster = fs
        .readdirSync(path.join(out, "cluster"))
        .sort()
        .flatMap(
          (f) =>
            parseYamlDocs(fs.readFileSync(path.join(out, "cluster", f), "utf8")) as KubeObject[],
        );
      const repos = cluster.filter((o) => o.kind === "GitRepository");
      for (const ks of cluster.filter((o): o is FluxKustomization => o.kind === "Kustomization")) {
        const repo = repos.find((r) => r.metadata.name === ks.spec.sourceRef.name);
        expect(repo, `${ks.metadata.name}: sourceRef ${ks.spec.sourceRef.name}`).to.not.equal(
          undefined,
        );
        const url = (repo!.spec as { url: string }).url;
        builds.set(ks.metadata.name, {
          ks,
          objects: fluxBuild(ks, path.join(out, url.split("/").pop()!)),
        });
      }
    });

    it("builds every Flux Kustomization, and each one yields objects", () => {
      expect(builds.size).to.equal(3 + 2 * rendered.config.services.length);
      for (const [name, b] of builds) expect(b.objects, name).to.have.length.greaterThan(0);
    });

    it("validates every object against its schema model", () => {
      for (const obj of all()) validateObject(obj);
    });

    it("leaves no unresolved ${VAR} in anything applied", () => {
      for (const b of builds.values()) {
        const text = JSON.stringify(b.objects);
        if (b.ks.spec.postBuild) expect(text, b.ks.metadata.name).to.not.match(/\$\{/);
      }
    });

    it("gives every object a unique kind/namespace/name", () => {
      const ids = all().map(id);
      expect(ids.filter((x, i) => ids.indexOf(x) !== i)).to.deep.equal([]);
    });

    it("puts every namespaced object in a namespace that exists", () => {
      const namespaces = new Set([
        FLUX_NAMESPACE,
        ...all()
          .filter((o) => o.kind === "Namespace")
          .map((o) => o.metadata.name),
      ]);
      expect(rendered.fluxInstance.metadata.namespace).to.equal(FLUX_NAMESPACE);
      for (const obj of all()) {
        if (CLUSTER_SCOPED.has(obj.kind)) continue;
        expect(obj.metadata.namespace, id(obj)).to.be.a("string");
        expect(namespaces.has(obj.metadata.namespace!), id(obj)).to.equal(true);
      }
    });

    it("uses only current Flux APIs (v1, helm v2)", () => {
      for (const obj of all().filter((o) => o.apiVersion.includes("toolkit.fluxcd.io"))) {
        expect(obj.apiVersion, id(obj)).to.be.oneOf([
          "source.toolkit.fluxcd.io/v1",
          "kustomize.toolkit.fluxcd.io/v1",
          "helm.toolkit.fluxcd.io/v2",
        ]);
      }
    });

    it("points each GitRepository at ssh://git@github.com/<owner>/<repo>, branch main, with a deploy-key Secret", () => {
      const repos = cluster.filter((o) => o.kind === "GitRepository");
      expect(repos.map((r) => (r.spec as { url: string }).url).sort()).to.deep.equal(
        [rendered.config.platformRepo, rendered.config.developerRepo]
          .map((repo) => `ssh://git@github.com/${rendered.config.owner}/${repo}`)
          .sort(),
      );
      for (const repo of repos) {
        const spec = repo.spec as { ref: { branch: string }; secretRef: { name: string } };
        expect(spec.ref).to.deep.equal({ branch: "main" });
        const secret = cluster.find(
          (o) => o.kind === "Secret" && o.metadata.name === spec.secretRef.name,
        );
        expect(secret?.metadata.namespace, repo.metadata.name).to.equal(repo.metadata.namespace);
        const data = secret!.stringData as Record<string, string>;
        expect(data.known_hosts).to.equal(GITHUB_KNOWN_HOSTS);
        expect(data.identity).to.equal(KEY_PLACEHOLDER);
        expect(data["identity.pub"]).to.equal(KEY_PLACEHOLDER);
      }
    });

    it("orders infrastructure -> policies -> config -> service through dependsOn to existing Kustomizations", () => {
      const deps = (name: string): string[] =>
        ((builds.get(name)!.ks.spec as { dependsOn?: { name: string }[] }).dependsOn ?? []).map(
          (d) => d.name,
        );
      for (const b of builds.values()) {
        for (const dep of deps(b.ks.metadata.name))
          expect(builds.has(dep), `${b.ks.metadata.name} -> ${dep}`).to.equal(true);
      }
      expect(deps("infrastructure")).to.deep.equal([]);
      expect(deps("infrastructure-policies")).to.deep.equal(["infrastructure"]);
      expect(deps("infrastructure-gateway")).to.deep.equal(["infrastructure"]);
      for (const s of rendered.config.services) {
        // The policies are enforced and the Gateway is ready before any service is applied.
        expect(deps(`config-${s.name}`)).to.deep.equal([
          "infrastructure-gateway",
          "infrastructure-policies",
        ]);
        expect(deps(`app-${s.name}`)).to.deep.equal([`config-${s.name}`]);
      }
      for (const b of builds.values()) {
        expect((b.ks.spec as { prune?: boolean }).prune, b.ks.metadata.name).to.equal(true);
        expect((b.ks.spec as { wait?: boolean }).wait, b.ks.metadata.name).to.equal(true);
      }
    });

    it("wires each Deployment to the ConfigMap its developer Kustomization builds, watched by Reloader", () => {
      const ns = rendered.config.appNamespace;
      const reloader = builds
        .get("infrastructure")!
        .objects.find((o) => o.kind === "HelmRelease" && o.metadata.name === "reloader");
      expect(reloader, "Reloader HelmRelease").to.not.equal(undefined);
      for (const s of rendered.config.services) {
        const configMaps = builds.get(`config-${s.name}`)!.objects;
        expect(configMaps.map(id)).to.deep.equal([`ConfigMap/${ns}/${configMapName(s.name)}`]);
        const data = configMaps[0].data as Record<string, string>;
        expect(Object.keys(data).sort()).to.deep.equal(["base.yaml", "override.yaml"]);
        expect(data["override.yaml"]).to.contain(`environment: ${rendered.config.environment}`);

        const app = builds.get(`app-${s.name}`)!.objects;
        const deploy = app.find((o) => o.kind === "Deployment")!;
        expect(id(deploy)).to.equal(`Deployment/${ns}/${s.name}`);
        const spec = deploy.spec as {
          replicas: number;
          template: {
            spec: {
              containers: { image: string; ports: { containerPort: number }[] }[];
              volumes: { configMap?: { name: string } }[];
            };
          };
        };
        // Autoscaled: the HorizontalPodAutoscaler owns the count, the Deployment has none.
        expect(spec.replicas).to.equal(s.autoscaling ? undefined : s.replicas);
        expect(spec.template.spec.containers[0].image).to.equal(`${s.image}:${s.tag}`);
        expect(spec.template.spec.containers[0].ports[0].containerPort).to.equal(s.port);
        expect(spec.template.spec.volumes.map((v) => v.configMap?.name)).to.deep.equal([
          configMapName(s.name),
        ]);
        expect(deploy.metadata.annotations?.["configmap.reloader.stakater.com/reload"]).to.equal(
          configMapName(s.name),
        );
        const svc = app.find((o) => o.kind === "Service")!;
        expect((svc.spec as { selector: object }).selector).to.deep.equal({
          "app.kubernetes.io/name": s.name,
        });
      }
    });

    it("changes the ConfigMap, under the same name, when a developer changes a value", () => {
      const s = rendered.config.services[0];
      const ks = builds.get(`config-${s.name}`)!.ks;
      const repo = path.join(out, rendered.config.developerRepo);
      const file = path.join(repo, s.name, rendered.config.environment, "config.yaml");
      const before = fluxBuild(ks, repo)[0];
      fs.appendFileSync(file, "maxConnections: 42\n");
      const after = fluxBuild(ks, repo)[0];
      expect(after.metadata.name).to.equal(before.metadata.name);
      expect((after.data as Record<string, string>)["override.yaml"]).to.contain(
        "maxConnections: 42",
      );
      expect(after.data).to.not.deep.equal(before.data);
    });

    it("decrypts each service's config with the sops-age Secret and adds its secrets/ Component only when the folder exists", () => {
      const ns = rendered.config.appNamespace;
      const secret = cluster.find((o) => o.kind === "Secret" && o.metadata.name === "sops-age")!;
      expect(secret.metadata.namespace).to.equal(FLUX_NAMESPACE);
      const data = secret.stringData as Record<string, string>;
      // kustomize-controller reads every data key ending in .agekey; the key is filled by Pulumi.
      expect(Object.keys(data)).to.deep.equal([`${rendered.config.environment}-g1.agekey`]);
      expect(Object.values(data)).to.deep.equal([KEY_PLACEHOLDER]);
      for (const s of rendered.config.services) {
        const spec = builds.get(`config-${s.name}`)!.ks.spec as Record<string, unknown>;
        expect(spec).to.deep.include({
          components: ["secrets"],
          ignoreMissingComponents: true,
          decryption: { provider: "sops", secretRef: { name: "sops-age" } },
        });
      }
      // The platform's own Kustomizations decrypt nothing and add no Component.
      for (const b of builds.values()) {
        if (b.ks.metadata.name.startsWith("config-")) continue;
        expect(b.ks.spec, b.ks.metadata.name).to.not.have.any.keys("decryption", "components");
      }
      // A team that copies the template to <svc>/<env>/secrets/ gets its Secret beside its
      // ConfigMap, once the file is encrypted; in clear the build stops (SECRETS.md).
      const s = rendered.config.services[0];
      const ks = builds.get(`config-${s.name}`)!.ks;
      const repo = path.join(out, rendered.config.developerRepo);
      const dir = path.join(repo, s.name, rendered.config.environment, "secrets");
      fs.cpSync(path.join(repo, SECRETS_TEMPLATE), dir, { recursive: true });
      try {
        const file = path.join(dir, SECRETS_FILE);
        const text = fs.readFileSync(file, "utf8").replace("SERVICE-secrets", secretsName(s.name));
        fs.writeFileSync(file, text);
        expect(() => fluxBuild(ks, repo)).to.throw(
          /fieldPath `sops\.mac` is missing for replacement source Secret/,
        );
        // The shape sops leaves (values ENC[...], a sops block with its mac); decryption
        // itself is kustomize-controller's, proven in `npm run e2e`.
        fs.writeFileSync(
          file,
          text.replace("change-me", "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]") +
            "sops:\n  mac: ENC[AES256_GCM,data:m,iv:i,tag:t,type:str]\n  version: 3.13.3\n",
        );
        const objects = fluxBuild(ks, repo);
        for (const o of objects) validateObject(o);
        expect(objects.map(id).sort()).to.deep.equal([
          `ConfigMap/${ns}/${configMapName(s.name)}`,
          `Secret/${ns}/${secretsName(s.name)}`,
        ]);
        const secret = objects.find((o) => o.kind === "Secret")!;
        // Post-build substitution runs after decryption: it must not touch the values.
        expect(secret.metadata.annotations).to.deep.equal({
          "kustomize.toolkit.fluxcd.io/substitute": "disabled",
        });
        expect(secret.stringData).to.deep.equal({
          EXAMPLE_API_KEY: "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]",
        });
      } finally {
        fs.rmSync(dir, { recursive: true });
      }
      expect(fluxBuild(ks, repo).map(id)).to.deep.equal([
        `ConfigMap/${ns}/${configMapName(s.name)}`,
      ]);
    });

    it("applies every service's config as the one config account, whose group is bound in the app namespace only to the one ConfigMap-and-Secret ClusterRole", () => {
      const ns = rendered.config.appNamespace;
      // Every binding of the shared role: one RoleBinding in the app namespace, to the group
      // the API server gives every flux-system account, impersonated by name or not.
      const bindings = all().filter(
        (o) =>
          (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") &&
          (o.roleRef as { name: string }).name === "flux-platform-developer-config",
      );
      expect(bindings.map(id)).to.deep.equal([`RoleBinding/${ns}/flux-platform-developer-config`]);
      expect(bindings[0].roleRef).to.deep.equal({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "flux-platform-developer-config",
      });
      expect(bindings[0].subjects).to.deep.equal([
        {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "Group",
          name: `system:serviceaccounts:${FLUX_NAMESPACE}`,
        },
      ]);
      // No other binding names a config account or its namespace's group.
      const grants = all().filter(
        (o) =>
          (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") &&
          ((o.subjects ?? []) as { kind: string; name: string }[]).some(
            (x) =>
              x.name.startsWith("config-") ||
              x.name === CONFIG_ACCOUNT ||
              x.name === `system:serviceaccounts:${FLUX_NAMESPACE}` ||
              x.name === "system:serviceaccounts",
          ),
      );
      expect(grants.map(id)).to.deep.equal(bindings.map(id));
      // One account, in flux-system: so in the group the one binding above names; none per service.
      expect(
        all()
          .filter((o) => o.kind === "ServiceAccount")
          .map(id),
      ).to.deep.equal([`ServiceAccount/${FLUX_NAMESPACE}/${CONFIG_ACCOUNT}`]);
      for (const s of rendered.config.services) {
        const spec = builds.get(`config-${s.name}`)!.ks.spec as {
          serviceAccountName?: string;
          sourceRef: { name: string };
        };
        expect(spec.serviceAccountName).to.equal(CONFIG_ACCOUNT);
        expect(spec.sourceRef.name).to.equal("flux-developer");
        // Everything the service's config Kustomization applies is its own ConfigMap.
        for (const obj of builds.get(`config-${s.name}`)!.objects) {
          expect(`${obj.kind}/${obj.metadata.namespace}/${obj.metadata.name}`).to.equal(
            `ConfigMap/${ns}/${configMapName(s.name)}`,
          );
        }
      }
      // One ClusterRole for every account, granted in the app namespace only (a RoleBinding):
      // ConfigMaps and Secrets; the policy below limits its writes to the account's own names.
      const role = all().filter((o) => o.kind === "ClusterRole");
      expect(role.map(id)).to.deep.equal(["ClusterRole//flux-platform-developer-config"]);
      expect(role[0].rules).to.deep.equal([
        {
          apiGroups: [""],
          resources: ["configmaps", "secrets"],
          verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
      ]);
      expect(all().filter((o) => o.kind === "Role")).to.deep.equal([]);
      const policy = all().filter((o) => o.kind.startsWith("ValidatingAdmissionPolicy"));
      for (const o of policy) validateObject(o);
      expect(policy.map(id)).to.deep.equal([
        "ValidatingAdmissionPolicy//flux-platform-developer-config",
        "ValidatingAdmissionPolicyBinding//flux-platform-developer-config",
      ]);
    });

    it("refuses, as CEL, every write as the config account but to the applying service's own ConfigMap and Secret", async () => {
      const { evaluate } = await import("@marcbachmann/cel-js");
      const ns = rendered.config.appNamespace;
      const vap = all().find((o) => o.kind === "ValidatingAdmissionPolicy")! as KubeObject & {
        spec: {
          matchConditions: { expression: string }[];
          variables: { name: string; expression: string }[];
          validations: { expression: string; messageExpression: string }[];
        };
      };
      /**
       * Evaluates the policy as the API server does: match, variables, then validations.
       * `owner` is the Kustomization kustomize-controller labels the object with (none: unset).
       */
      const admit = (
        owner: string | undefined,
        kind: { group: string; resource: string; kind: string },
        namespace: string,
        name: string,
        operation = "CREATE",
        { account = CONFIG_ACCOUNT, ownerNamespace = FLUX_NAMESPACE } = {},
      ): string => {
        const labels: Record<string, string> =
          owner === undefined
            ? {}
            : {
                "kustomize.toolkit.fluxcd.io/name": owner,
                "kustomize.toolkit.fluxcd.io/namespace": ownerNamespace,
              };
        const object = {
          metadata: { name, namespace, ...(owner === undefined ? {} : { labels }) },
        };
        const request = {
          operation,
          name,
          namespace,
          kind: { group: kind.group, version: "v1", kind: kind.kind },
          resource: { group: kind.group, version: "v1", resource: kind.resource },
          userInfo: { username: `system:serviceaccount:flux-system:${account}` },
        };
        const ctx: Record<string, unknown> = {
          request,
          object: operation === "DELETE" ? null : object,
          oldObject: operation === "CREATE" ? null : object,
        };
        if (!vap.spec.matchConditions.every((c) => evaluate(c.expression, ctx) === true)) {
          return "not matched";
        }
        const variables: Record<string, unknown> = {};
        for (const v of vap.spec.variables)
          variables[v.name] = evaluate(v.expression, { ...ctx, variables });
        const failed = vap.spec.validations.find(
          (v) => evaluate(v.expression, { ...ctx, variables }) !== true,
        );
        return failed
          ? String(evaluate(failed.messageExpression, { ...ctx, variables }))
          : "allowed";
      };
      const configMaps = { group: "", resource: "configmaps", kind: "ConfigMap" };
      const secrets = { group: "", resource: "secrets", kind: "Secret" };
      const only = (svc: string) =>
        `service ${svc} may write only its own ConfigMap ${ns}/${svc}-config and Secret ${ns}/${svc}-secrets`;
      const beetle = "config-beetle";
      expect(admit(beetle, configMaps, ns, "beetle-config")).to.equal("allowed");
      expect(admit(beetle, configMaps, ns, "beetle-config", "UPDATE")).to.equal("allowed");
      // A prune: the object is gone from the request, its labels are read from the old one.
      expect(admit(beetle, configMaps, ns, "beetle-config", "DELETE")).to.equal("allowed");
      expect(admit(beetle, configMaps, ns, "sonar-config")).to.equal(
        `${only("beetle")}; refused: ConfigMap ${ns}/sonar-config`,
      );
      expect(admit(beetle, configMaps, ns, "sonar-config", "DELETE")).to.match(
        /refused: ConfigMap .*\/sonar-config$/,
      );
      expect(admit(beetle, configMaps, "default", "beetle-config")).to.equal(
        `${only("beetle")}; refused: ConfigMap default/beetle-config`,
      );
      // Its own Secret, built from its secrets/ Component: created, updated, pruned.
      for (const op of ["CREATE", "UPDATE", "DELETE"]) {
        expect(admit(beetle, secrets, ns, "beetle-secrets", op), op).to.equal("allowed");
      }
      // Another service's Secret, a Secret of another name, its own Secret elsewhere.
      expect(admit(beetle, secrets, ns, "sonar-secrets")).to.equal(
        `${only("beetle")}; refused: Secret ${ns}/sonar-secrets`,
      );
      expect(admit(beetle, secrets, ns, "sonar-secrets", "DELETE")).to.match(
        /refused: Secret .*\/sonar-secrets$/,
      );
      expect(admit(beetle, secrets, ns, "beetle-config")).to.equal(
        `${only("beetle")}; refused: Secret ${ns}/beetle-config`,
      );
      expect(admit(beetle, secrets, ns, "flux-platform-deploy-key")).to.equal(
        `${only("beetle")}; refused: Secret ${ns}/flux-platform-deploy-key`,
      );
      expect(admit(beetle, secrets, FLUX_NAMESPACE, "beetle-secrets")).to.equal(
        `${only("beetle")}; refused: Secret ${FLUX_NAMESPACE}/beetle-secrets`,
      );
      // The ConfigMap's name on a Secret and the Secret's name on a ConfigMap are refused.
      expect(admit(beetle, configMaps, ns, "beetle-secrets")).to.equal(
        `${only("beetle")}; refused: ConfigMap ${ns}/beetle-secrets`,
      );
      expect(
        admit(
          "config-sonar",
          { group: "apps", resource: "deployments", kind: "Deployment" },
          ns,
          "sonar",
        ),
      ).to.equal(`${only("sonar")}; refused: Deployment ${ns}/sonar`);
      // Not applied by a service's config Kustomization in flux-system: refused, whatever its name.
      const unowned = `only a service's config-<service> Kustomization may write as ${CONFIG_ACCOUNT} (label kustomize.toolkit.fluxcd.io/name)`;
      expect(admit(undefined, configMaps, ns, "beetle-config")).to.equal(
        `${unowned}; refused: ConfigMap ${ns}/beetle-config`,
      );
      expect(admit(undefined, configMaps, ns, "beetle-config", "DELETE")).to.equal(
        `${unowned}; refused: ConfigMap ${ns}/beetle-config`,
      );
      expect(admit("app-beetle", configMaps, ns, "beetle-config")).to.equal(
        `${unowned}; refused: ConfigMap ${ns}/beetle-config`,
      );
      expect(
        admit(beetle, configMaps, ns, "beetle-config", "CREATE", { ownerNamespace: ns }),
      ).to.equal(`${unowned}; refused: ConfigMap ${ns}/beetle-config`);
      // A per-service account of a stack made before the one account: held to the same rule.
      const legacy = { account: "config-beetle" };
      expect(admit(beetle, configMaps, ns, "beetle-config", "UPDATE", legacy)).to.equal("allowed");
      expect(admit("config-sonar", configMaps, ns, "beetle-config", "UPDATE", legacy)).to.equal(
        `${only("sonar")}; refused: ConfigMap ${ns}/beetle-config`,
      );
      // Anyone else (kustomize-controller itself, the platform's app Kustomizations) is not matched.
      const controller = { account: "kustomize-controller" };
      expect(admit(undefined, configMaps, ns, "sonar-config", "CREATE", controller)).to.equal(
        "not matched",
      );
    });

    it("installs Kyverno and Reloader the Flux way, pinned, and denies violations where policyMode is enforce", () => {
      const infra = builds.get("infrastructure")!.objects;
      for (const name of ["kyverno", "reloader"]) {
        const release = infra.find((o) => o.kind === "HelmRelease" && o.metadata.name === name)!;
        const chart = (
          release.spec as {
            chart: { spec: { version: string; sourceRef: { kind: string; name: string } } };
          }
        ).chart.spec;
        expect(chart.version, name).to.match(/^\d+\.\d+\.\d+$/);
        expect(
          infra.some(
            (o) =>
              o.kind === chart.sourceRef.kind &&
              o.metadata.name === chart.sourceRef.name &&
              o.metadata.namespace === release.metadata.namespace,
          ),
        ).to.equal(true);
      }
      const policies = builds.get("infrastructure-policies")!.objects as Policy[];
      expect(policies.map((p) => p.kind)).to.deep.equal(Array(3).fill("ValidatingPolicy"));
      const action = rendered.config.policyMode === "enforce" ? "Deny" : "Audit";
      for (const p of policies) {
        expect(p.spec.validationActions, p.metadata.name).to.deep.equal([action]);
        expect(p.spec.matchConstraints.namespaceSelector.matchLabels).to.deep.equal({
          "kubernetes.io/metadata.name": rendered.config.appNamespace,
        });
      }
    });

    it("deploys pods that pass the platform's own policies, evaluated as CEL", async () => {
      const { evaluate } = await import("@marcbachmann/cel-js");
      const policies = builds.get("infrastructure-policies")!.objects as Policy[];
      const verdicts = (pod: object): Record<string, boolean> =>
        Object.fromEntries(
          policies.map((p) => [
            p.metadata.name,
            p.spec.validations.every((v) => evaluate(v.expression, { object: pod }) === true),
          ]),
        );
      for (const s of rendered.config.services) {
        const deploy = builds.get(`app-${s.name}`)!.objects.find((o) => o.kind === "Deployment")!;
        const template = (deploy.spec as { template: { metadata: object; spec: PodSpec } })
          .template;
        const pod = { metadata: template.metadata, spec: template.spec };
        expect(verdicts(pod), s.name).to.deep.equal({
          "disallow-latest-tag": true,
          "require-requests-limits": true,
          "disallow-privilege-escalation": true,
        });
        // And the policies do refuse what they are about.
        const container = template.spec.containers[0];
        const bare = { name: "app", image: "ghcr.io/stefanprodan/podinfo:6.15.0" };
        expect(verdicts({ spec: { containers: [bare] } })).to.deep.equal({
          "disallow-latest-tag": true,
          "require-requests-limits": false,
          "disallow-privilege-escalation": false,
        });
        const bad = (c: Record<string, unknown>) => ({
          spec: { containers: [{ ...container, ...c }] },
        });
        expect(
          verdicts(bad({ image: "ghcr.io/stefanprodan/podinfo:latest" }))["disallow-latest-tag"],
        ).to.equal(false);
        expect(
          verdicts(bad({ image: "registry.local:5000/podinfo" }))["disallow-latest-tag"],
        ).to.equal(false);
        expect(
          verdicts(bad({ resources: { requests: { cpu: "1" } } }))["require-requests-limits"],
        ).to.equal(false);
        expect(
          verdicts(bad({ securityContext: { allowPrivilegeEscalation: true } }))[
            "disallow-privilege-escalation"
          ],
        ).to.equal(false);
      }
    });

    it("commits no key material", () => {
      const tree = readTree(out);
      for (const [file, content] of tree) expect(content, file).to.not.match(/PRIVATE KEY/);
    });
  });
}

describe("the developer repo's README answers a service team's first questions", () => {
  const dev = loadStackFile(ROOT, "dev");
  const readme = renderStack(dev).developerFiles.find((f) => f.path === "README.md")!.content;

  it("says where the image tag, replicas, resources and env are set, and who to ask", () => {
    for (const what of ["tag", "replicas", "CPU and memory", "environment\nvariables"]) {
      expect(readme).to.contain(what);
    }
    expect(readme).to.contain("`flux-platform:services` in\n`Pulumi.<env>.yaml`");
    expect(readme).to.contain(
      `[${dev.owner}/${dev.platformRepo}](https://github.com/${dev.owner}/${dev.platformRepo})`,
    );
    expect(readme).to.contain("ask the platform team");
  });

  it("says the service reads base and override itself, and where the files are", () => {
    expect(readme).to.contain("Your service reads the configuration itself");
    expect(readme).to.contain("`/etc/config`");
    expect(readme).to.contain("Nothing merges them for you");
  });

  it("says where to see the result of a commit, and that secrets do not go here", () => {
    expect(readme).to.contain("## Did it roll out?");
    expect(readme).to.contain("flux get kustomizations config-beetle");
    expect(readme).to.contain("No secrets in `config.yaml`");
    expect(readme).to.contain("[SECRETS.md](SECRETS.md)");
  });
});
