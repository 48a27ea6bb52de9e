import * as crypto from "node:crypto";
import { expect } from "chai";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import {
  DEFAULT_FLUX_COMPONENTS,
  MAX_SERVICE_NAME,
  configDefaults,
  loadConfig,
  placeholderProblem,
  type RawConfig,
} from "../lib/config";
import { readStackFile, renderStack } from "../lib/render";
import { configProblems } from "./support/problems";

const ROOT = path.resolve(__dirname, "..");

const VALID: RawConfig = {
  "github:owner": "acme",
  "flux-platform:services": {
    beetle: { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0", port: 9898, replicas: 1 },
  },
};

function problems(raw: RawConfig, stack = "dev"): string[] {
  const found = configProblems(raw, stack);
  if (found.length === 0) throw new Error("expected a ConfigError");
  return found;
}

function withService(fields: Record<string, unknown>, name = "beetle"): RawConfig {
  return { ...VALID, "flux-platform:services": { [name]: fields } };
}

/** A GitHub App's private key as GitHub hands it out: PEM, RSA. */
const APP_KEY = crypto
  .generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs1", format: "pem" })
  .toString();
const APP = { appId: 123, installationId: 456 };

const svc = { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0" };

describe("config loader", () => {
  it("applies the documented defaults", () => {
    const cfg = loadConfig(VALID, "dev");
    expect(cfg).to.deep.include({
      owner: "acme",
      environment: "dev",
      platformRepo: "flux_platform",
      developerRepo: "flux_developer",
      repoVisibility: "private",
      adoptRepos: false,
      fluxVersion: "2.9.5",
      syncInterval: "1m",
      appNamespace: "apps",
      waitForReady: true,
      ingressDomain: "dev.localhost",
      secretsKeyGeneration: 1,
    });
    expect(cfg.infrastructure).to.deep.equal({ kyverno: true, reloader: true, gateway: true });
    expect(cfg.fluxComponents).to.deep.equal(DEFAULT_FLUX_COMPONENTS);
    expect(cfg.cluster).to.deep.equal({
      provider: "minikube",
      profile: "minikube-dev",
      driver: "docker",
      cpus: 2,
      memory: 4096,
      kubernetesVersion: "v1.34.0",
    });
    expect(cfg.services).to.deep.equal([
      {
        name: "beetle",
        image: "ghcr.io/stefanprodan/podinfo",
        tag: "6.15.0",
        port: 9898,
        replicas: 1,
        ingress: true,
        // Today's fixed values; no env, args, HTTP probes or autoscaling.
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
        env: {},
      },
    ]);
  });

  it("takes every per-service setting, numbers as YAML gives them", () => {
    const [s] = loadConfig(
      withService({
        ...svc,
        replicas: 2,
        resources: {
          requests: { cpu: 1, memory: "256Mi" },
          limits: { cpu: "1500m", memory: "1Gi" },
        },
        env: { LOG_LEVEL: "debug", WORKERS: 4, TRACING: false },
        command: ["./podinfo"],
        args: ["--level=debug"],
        readinessPath: "/readyz",
        livenessPath: "/healthz",
        autoscaling: { maxReplicas: 6 },
      }),
      "dev",
    ).services;
    expect(s).to.deep.include({
      resources: {
        requests: { cpu: "1", memory: "256Mi" },
        limits: { cpu: "1500m", memory: "1Gi" },
      },
      env: { LOG_LEVEL: "debug", WORKERS: "4", TRACING: "false" },
      command: ["./podinfo"],
      args: ["--level=debug"],
      readinessPath: "/readyz",
      livenessPath: "/healthz",
      autoscaling: { maxReplicas: 6, cpuUtilization: 80 },
    });
  });

  it("reads Pulumi's string form (allConfig) the same as the stack file's YAML", () => {
    const asPulumi: RawConfig = {
      "github:owner": "acme",
      "flux-platform:services": JSON.stringify(VALID["flux-platform:services"]),
      "flux-platform:adoptRepos": "true",
      "flux-platform:fluxComponents": JSON.stringify([
        "source-controller",
        "kustomize-controller",
        "helm-controller",
      ]),
      "flux-platform:cluster": JSON.stringify({ provider: "kubeconfig", context: "eks-prd" }),
    };
    const cfg = loadConfig(asPulumi, "prd");
    expect(cfg.adoptRepos).to.equal(true);
    expect(cfg.fluxComponents).to.deep.equal([
      "source-controller",
      "kustomize-controller",
      "helm-controller",
    ]);
    expect(cfg.cluster).to.deep.equal({ provider: "kubeconfig", context: "eks-prd" });
    expect(cfg.services[0].name).to.equal("beetle");
  });

  it("accepts any environment name the team chooses, and defaults policyMode to audit", () => {
    for (const env of ["staging", "qa", "live", "eu-prd", "e".repeat(54)]) {
      const cfg = loadConfig({ ...VALID, "flux-platform:environment": env }, "dev");
      expect(cfg.environment).to.equal(env);
      expect(cfg.policyMode).to.equal("audit");
      expect(cfg.cluster).to.include({ profile: `minikube-${env}` });
    }
    expect(loadConfig(VALID, "eu-prd").environment).to.equal("eu-prd");
    const enforced = loadConfig({ ...VALID, "flux-platform:policyMode": "enforce" }, "live");
    expect(enforced.policyMode).to.equal("enforce");
  });

  it("needs no helm-controller when no infrastructure is installed, or Flux is not ours", () => {
    const components = ["source-controller", "kustomize-controller"];
    const off = loadConfig(
      {
        ...VALID,
        "flux-platform:fluxComponents": components,
        "flux-platform:infrastructure": { kyverno: false, reloader: false, gateway: false },
      },
      "dev",
    );
    expect(off.infrastructure).to.deep.equal({ kyverno: false, reloader: false, gateway: false });
    const existing = loadConfig(
      {
        ...VALID,
        "flux-platform:fluxComponents": components,
        "flux-platform:fluxInstall": "existing",
      },
      "dev",
    );
    expect(existing.fluxInstall).to.equal("existing");
    expect(existing.gitSsh).to.deep.equal({ host: "github.com", port: 22 });
  });

  it("derives GitHub's web address from github:baseUrl, and accepts the secret status token", () => {
    expect(loadConfig(VALID, "dev").githubUrl).to.equal("https://github.com");
    const ghes = loadConfig(
      {
        ...VALID,
        "github:baseUrl": "https://ghe.example.com/api/v3/",
        "flux-platform:commitStatus": true,
        "flux-platform:commitStatusToken": "t",
      },
      "dev",
    );
    expect(ghes.githubUrl).to.equal("https://ghe.example.com");
    expect(ghes.commitStatus).to.equal(true);
    expect(JSON.stringify(ghes)).to.not.contain('"t"');
  });

  it("takes a GitHub App: its id and installation, the key only as a presence-checked secret", () => {
    const app = loadConfig(
      {
        ...VALID,
        "github:baseUrl": "https://ghe.example.com/",
        "flux-platform:gitAuth": "githubApp",
        "flux-platform:githubApp": { appId: 123, installationId: 456 },
        "flux-platform:githubAppPrivateKey": APP_KEY,
        "flux-platform:commitStatus": true,
      },
      "dev",
    );
    expect(app).to.deep.include({
      gitAuth: "githubApp",
      githubApp: { appId: 123, installationId: 456 },
      githubApiUrl: "https://ghe.example.com/api/v3",
      commitStatus: true,
    });
    expect(JSON.stringify(app)).to.not.contain("PRIVATE KEY");
    expect(loadConfig(VALID, "dev").gitAuth).to.equal("deployKey");
  });

  it("sorts services by name", () => {
    const cfg = loadConfig(
      { ...VALID, "flux-platform:services": { tiger: svc, beetle: svc, sonar: svc } },
      "dev",
    );
    expect(cfg.services.map((s) => s.name)).to.deep.equal(["beetle", "sonar", "tiger"]);
  });

  it("reports every problem at once", () => {
    const found = problems({
      "flux-platform:services": { Beetle: { tag: "6.15.0", port: 0 } },
      "flux-platform:fluxVersion": "latest",
      "flux-platform:repoVisibility": "secret",
    });
    expect(found).to.have.length(6);
  });

  it("reads secretsKeyGeneration as JSON, as the engine hands it over", () => {
    expect(loadConfig({ ...VALID, "flux-platform:secretsKeyGeneration": "3" }, "dev"))
      .to.have.property("secretsKeyGeneration")
      .that.equals(3);
  });

  it("matches Pulumi.yaml's declared defaults", () => {
    const project = parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { default?: unknown }>;
    };
    const declared: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(project.config)) {
      if (spec.default !== undefined) declared[key.replace(/^flux-platform:/, "")] = spec.default;
    }
    const {
      cluster: _cluster,
      infrastructure: _infrastructure,
      gitSsh: _gitSsh,
      ...scalars
    } = configDefaults();
    expect(declared).to.deep.equal({ ...scalars, fluxVersion: String(scalars.fluxVersion) });
  });

  describe("refuses, naming key, value and what is allowed:", () => {
    const cases: Array<[string, RawConfig, RegExp, string?]> = [
      [
        "missing owner",
        { "flux-platform:services": VALID["flux-platform:services"] },
        /^github:owner: is required/,
      ],
      [
        "invalid owner",
        { ...VALID, "github:owner": "-acme" },
        /^github:owner: `-acme` is not a GitHub user or organisation name/,
      ],
      [
        "unknown key",
        { ...VALID, "flux-platform:replicas": 3 },
        /^replicas: unknown key \(allowed: environment, /,
      ],
      [
        "environment that is not a DNS label",
        { ...VALID, "flux-platform:environment": "EU_prd" },
        /^environment: `EU_prd` is not an environment name \(DNS-1123 label: lowercase a-z, 0-9 and '-', at most 54 characters so that `minikube-<environment>` stays a label\)$/,
      ],
      [
        "environment too long for the derived profile name",
        { ...VALID, "flux-platform:environment": "e".repeat(55) },
        /^environment: `e{55}` is not an environment name .* at most 54 characters/,
      ],
      [
        "environment from a stack name that is not a label",
        VALID,
        /^environment: `Team\.Prod` is not an environment name .*; it defaults to the stack name, so set it explicitly$/,
        "Team.Prod",
      ],
      [
        "unknown policy mode",
        { ...VALID, "flux-platform:policyMode": "deny" },
        /^policyMode: `deny` is not allowed \(allowed: enforce, audit\)$/,
      ],
      [
        "service name with upper case",
        withService(svc, "Beetle"),
        /^services\.Beetle: `Beetle` is not a valid service name \(lowercase a-z/,
      ],
      [
        "service name with underscore",
        withService(svc, "bee_tle"),
        /^services\.bee_tle: `bee_tle` is not a valid service name/,
      ],
      [
        "service name with a leading digit",
        withService(svc, "9beetle"),
        /^services\.9beetle: `9beetle` is not a valid service name .*starting with a letter/,
      ],
      [
        "service name too long once suffixed",
        withService(svc, "b".repeat(MAX_SERVICE_NAME + 1)),
        new RegExp(
          `^services\\.b{${MAX_SERVICE_NAME + 1}}: .* at most ${MAX_SERVICE_NAME} characters so that \`config-b+\` stays a valid label value`,
        ),
      ],
      [
        "empty services",
        { ...VALID, "flux-platform:services": {} },
        /^services: is empty: define at least one service/,
      ],
      ["missing services", { "github:owner": "acme" }, /^services: is required$/],
      [
        "missing image",
        withService({ tag: "6.15.0" }),
        /^services\.beetle\.image: is required \(an image repository/,
      ],
      [
        "image with a tag",
        withService({ image: "nginx:1.27", tag: "1.27" }),
        /^services\.beetle\.image: `nginx:1\.27` is not an image repository without tag/,
      ],
      [
        "latest tag",
        withService({ ...svc, tag: "latest" }),
        /^services\.beetle\.tag: `latest` is not a pinned image tag .*`latest` is refused/,
      ],
      [
        "negative replicas",
        withService({ ...svc, replicas: -1 }),
        /^services\.beetle\.replicas: `-1` is out of range \(allowed: whole numbers 0-100\)$/,
      ],
      [
        "port 0",
        withService({ ...svc, port: 0 }),
        /^services\.beetle\.port: `0` is out of range \(allowed: whole numbers 1-65535\)$/,
      ],
      [
        "port 65536",
        withService({ ...svc, port: 65536 }),
        /^services\.beetle\.port: `65536` is out of range \(allowed: whole numbers 1-65535\)$/,
      ],
      [
        "port as a string",
        withService({ ...svc, port: "80" }),
        /^services\.beetle\.port: `80` is not a number \(write it without quotes\)$/,
      ],
      [
        "fractional replicas",
        withService({ ...svc, replicas: 1.5 }),
        /^services\.beetle\.replicas: `1\.5` is out of range \(allowed: whole numbers 0-100\)$/,
      ],
      [
        "bad deployKeyGeneration",
        { ...VALID, "flux-platform:deployKeyGeneration": 0 },
        /^deployKeyGeneration: `0` is out of range \(allowed: whole numbers 1-1000000\)$/,
      ],
      [
        "secretsKeyGeneration 0",
        { ...VALID, "flux-platform:secretsKeyGeneration": 0 },
        /^secretsKeyGeneration: `0` is out of range \(allowed: whole numbers 1-1000000\)$/,
      ],
      [
        "secretsKeyGeneration above the range",
        { ...VALID, "flux-platform:secretsKeyGeneration": 1_000_001 },
        /^secretsKeyGeneration: `1000001` is out of range \(allowed: whole numbers 1-1000000\)$/,
      ],
      [
        "fractional secretsKeyGeneration",
        { ...VALID, "flux-platform:secretsKeyGeneration": 2.5 },
        /^secretsKeyGeneration: `2\.5` is out of range \(allowed: whole numbers 1-1000000\)$/,
      ],
      [
        "unknown cluster field",
        { ...VALID, "flux-platform:cluster": { provider: "minikube", nodes: 3 } },
        /^cluster\.nodes: unknown key `nodes` \(allowed: provider, profile, driver, cpus, memory, kubernetesVersion \(minikube\); provider, context \(kubeconfig\)\)$/,
      ],
      [
        "unknown service field",
        withService({ ...svc, replica: 2 }),
        /^services\.beetle\.replica: unknown key `replica` \(allowed: image, tag, port, replicas, ingress, resources, env, command, args, readinessPath, livenessPath, secretsPath, autoscaling, owners\)$/,
      ],
      [
        "fluxVersion range",
        { ...VALID, "flux-platform:fluxVersion": "2.9.x" },
        /^fluxVersion: `2\.9\.x` is not an exact Flux 2\.x version/,
      ],
      [
        "fluxVersion with v",
        { ...VALID, "flux-platform:fluxVersion": "v2.9.4" },
        /^fluxVersion: `v2\.9\.4` is not an exact Flux 2\.x version/,
      ],
      [
        "fluxVersion not 2.x",
        { ...VALID, "flux-platform:fluxVersion": "3.0.0" },
        /^fluxVersion: `3\.0\.0` is not an exact Flux 2\.x version/,
      ],
      [
        "unknown component",
        {
          ...VALID,
          "flux-platform:fluxComponents": [
            "source-controller",
            "kustomize-controller",
            "tf-controller",
            "helm-controller",
          ],
        },
        /^fluxComponents\.2: `tf-controller` is not a Flux component \(allowed: source-controller, /,
      ],
      [
        "missing required component",
        { ...VALID, "flux-platform:fluxComponents": ["source-controller", "helm-controller"] },
        /^fluxComponents: `\["source-controller","helm-controller"\]` lacks `kustomize-controller`, which applies the Kustomizations$/,
      ],
      [
        "missing helm-controller (the infrastructure is HelmReleases)",
        { ...VALID, "flux-platform:fluxComponents": ["source-controller", "kustomize-controller"] },
        /^fluxComponents: .* lacks `helm-controller`, which installs the infrastructure's HelmReleases \(kyverno, reloader, gateway\); add it, or switch them off under `infrastructure`$/,
      ],
      [
        "unknown infrastructure component",
        { ...VALID, "flux-platform:infrastructure": { kyverno: false, istio: true } },
        /^infrastructure\.istio: unknown key `istio` \(allowed: kyverno, reloader, gateway\)$/,
      ],
      [
        "infrastructure switch that is not a boolean",
        { ...VALID, "flux-platform:infrastructure": { reloader: "no" } },
        /^infrastructure\.reloader: `no` is not a boolean$/,
      ],
      [
        "ingress domain that is not a DNS domain",
        { ...VALID, "flux-platform:ingressDomain": "Apps_Example.com" },
        /^ingressDomain: `Apps_Example\.com` is not a DNS domain \(lowercase labels/,
      ],
      [
        "ingress domain with an empty label",
        { ...VALID, "flux-platform:ingressDomain": "apps..example.com" },
        /^ingressDomain: `apps\.\.example\.com` is not a DNS domain/,
      ],
      [
        "host name longer than DNS allows",
        {
          ...VALID,
          "flux-platform:ingressDomain": Array.from({ length: 4 }, () => "a".repeat(61)).join("."),
        },
        /^services\.beetle: its host name `beetle\.a{61}\..*` has 254 characters, more than DNS allows \(253\); shorten `ingressDomain` or set `ingress: false`$/,
      ],
      [
        "CPU request that is not a quantity",
        withService({ ...svc, resources: { requests: { cpu: "half" } } }),
        /^services\.beetle\.resources\.requests\.cpu: `half` is not a CPU quantity \(e\.g\. `250m` or `1`\)$/,
      ],
      [
        "memory limit that is not a quantity",
        withService({ ...svc, resources: { limits: { memory: "128MB" } } }),
        /^services\.beetle\.resources\.limits\.memory: `128MB` is not a memory quantity \(e\.g\. `128Mi` or `1Gi`\)$/,
      ],
      [
        "memory limit below its request",
        withService({ ...svc, resources: { requests: { memory: "256Mi" } } }),
        /^services\.beetle\.resources\.limits\.memory: `128Mi` is below its request `256Mi` \(a limit must be at least the request\)$/,
      ],
      [
        "CPU limit below its request",
        withService({ ...svc, resources: { requests: { cpu: "1" }, limits: { cpu: "500m" } } }),
        /^services\.beetle\.resources\.limits\.cpu: `500m` is below its request `1`/,
      ],
      [
        "unknown resource",
        withService({ ...svc, resources: { requests: { gpu: 1 } } }),
        /^services\.beetle\.resources\.requests\.gpu: unknown key `gpu` \(allowed: cpu, memory\)$/,
      ],
      [
        "environment variable name that is not one",
        withService({ ...svc, env: { "log-level": "debug" } }),
        /^services\.beetle\.env\.log-level: `log-level` is not an environment variable name/,
      ],
      [
        "environment variable the platform sets",
        withService({ ...svc, env: { ENV: "prod" } }),
        /^services\.beetle\.env\.ENV: `ENV` is set by the platform \(SERVICE_NAME, ENV, CONFIG_DIR\); choose another name$/,
      ],
      [
        "environment variable from a secret",
        withService({ ...svc, env: { DB_PASSWORD: { secretKeyRef: { name: "db", key: "pw" } } } }),
        /^services\.beetle\.env\.DB_PASSWORD: `\{"secretKeyRef":\{"name":"db","key":"pw"\}\}` is not a plain value \(a string, number or boolean\); a secret goes, encrypted, in the developer repo's <service>\/<env>\/secrets\/secrets\.yaml/,
      ],
      [
        "readiness path that is not a path",
        withService({ ...svc, readinessPath: "readyz" }),
        /^services\.beetle\.readinessPath: `readyz` is not an HTTP path \(starts with `\/`, no spaces\)$/,
      ],
      [
        "args that are not strings",
        withService({ ...svc, args: ["--port", 9898] }),
        /^services\.beetle\.args\.1: `9898` is not a string/,
      ],
      [
        "autoscaling maximum below its minimum",
        withService({ ...svc, replicas: 3, autoscaling: { maxReplicas: 2 } }),
        /^services\.beetle\.autoscaling\.maxReplicas: `2` is below minReplicas `3` \(from replicas\)$/,
      ],
      [
        "autoscaling a service scaled to zero",
        withService({ ...svc, replicas: 0, autoscaling: { maxReplicas: 2 } }),
        /^services\.beetle\.replicas: `0` cannot start an autoscaled service/,
      ],
      [
        "autoscaling CPU target out of range",
        withService({ ...svc, autoscaling: { maxReplicas: 2, cpuUtilization: 150 } }),
        /^services\.beetle\.autoscaling\.cpuUtilization: `150` is out of range \(allowed: whole numbers 1-100\)$/,
      ],
      [
        "unknown autoscaling setting",
        withService({ ...svc, autoscaling: { maxReplicas: 2, memoryUtilization: 80 } }),
        /^services\.beetle\.autoscaling\.memoryUtilization: unknown key `memoryUtilization` \(allowed: minReplicas, maxReplicas, cpuUtilization\)$/,
      ],
      [
        "ingress that is not a boolean",
        withService({ ...svc, ingress: "yes" }),
        /^services\.beetle\.ingress: `yes` is not a boolean$/,
      ],
      [
        "commit statuses without their token",
        { ...VALID, "flux-platform:commitStatus": true },
        /^commitStatusToken: is required when `commitStatus` is true/,
      ],
      [
        "webhook receiver URL that is not an http(s) URL",
        { ...VALID, "flux-platform:webhookReceiverUrl": "flux.example.com" },
        /^webhookReceiverUrl: `flux\.example\.com` is not a public base URL for Flux's webhook receiver/,
      ],
      [
        "webhook receiver URL with a query",
        { ...VALID, "flux-platform:webhookReceiverUrl": "https://flux.example.com/?x=1" },
        /^webhookReceiverUrl: `https:\/\/flux\.example\.com\/\?x=1` is not a public base URL/,
      ],
      [
        "webhook receiver without notification-controller",
        {
          ...VALID,
          "flux-platform:webhookReceiverUrl": "https://flux.example.com",
          "flux-platform:fluxComponents": [
            "source-controller",
            "kustomize-controller",
            "helm-controller",
          ],
        },
        /^fluxComponents: `\["source-controller","kustomize-controller","helm-controller"\]` lacks `notification-controller`, which `webhookReceiverUrl` needs; add it, or turn it off$/,
      ],
      [
        "minikube Kubernetes older than 1.30",
        {
          ...VALID,
          "flux-platform:cluster": { provider: "minikube", kubernetesVersion: "v1.29.4" },
        },
        /^cluster\.kubernetesVersion: `v1\.29\.4` is older than Kubernetes v1\.30\.0, the first with ValidatingAdmissionPolicy v1/,
      ],
      [
        "unknown git auth mode",
        { ...VALID, "flux-platform:gitAuth": "token" },
        /^gitAuth: `token` is not allowed \(allowed: deployKey, githubApp\)$/,
      ],
      [
        "GitHub App mode without the App",
        {
          ...VALID,
          "flux-platform:gitAuth": "githubApp",
          "flux-platform:githubAppPrivateKey": APP_KEY,
        },
        /^githubApp: is required when `gitAuth` is githubApp \(\{appId: <App ID>, installationId: /,
      ],
      [
        "GitHub App mode without its private key",
        { ...VALID, "flux-platform:gitAuth": "githubApp", "flux-platform:githubApp": APP },
        /^githubAppPrivateKey: is required when `gitAuth` is githubApp \(secret: /,
      ],
      [
        "GitHub App private key that is not a PEM RSA key (never quoted)",
        {
          ...VALID,
          "flux-platform:gitAuth": "githubApp",
          "flux-platform:githubApp": APP,
          "flux-platform:githubAppPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n",
        },
        /^githubAppPrivateKey: is not a PEM RSA private key \(the \.pem file GitHub gives under the App's settings > Private keys: `pulumi config set --secret flux-platform:githubAppPrivateKey < app\.pem`\)$/,
      ],
      [
        "GitHub App id that is not a whole number",
        {
          ...VALID,
          "flux-platform:gitAuth": "githubApp",
          "flux-platform:githubApp": { appId: "my-app", installationId: 456 },
          "flux-platform:githubAppPrivateKey": APP_KEY,
        },
        /^githubApp\.appId: `my-app` is not a number/,
      ],
      [
        "GitHub App with an unknown setting",
        {
          ...VALID,
          "flux-platform:gitAuth": "githubApp",
          "flux-platform:githubApp": { ...APP, slug: "flux" },
          "flux-platform:githubAppPrivateKey": APP_KEY,
        },
        /^githubApp\.slug: unknown key `slug` \(allowed: appId, installationId\)$/,
      ],
      [
        "GitHub App settings while reading with deploy keys",
        { ...VALID, "flux-platform:githubApp": APP },
        /^githubApp: is set but `gitAuth` is `deployKey`; set `gitAuth: githubApp` to read the repos with the App, or remove it$/,
      ],
      [
        "unknown flux install mode",
        { ...VALID, "flux-platform:fluxInstall": "helm" },
        /^fluxInstall: `helm` is not allowed \(allowed: operator, existing\)$/,
      ],
      [
        "git SSH host that is not a host name",
        { ...VALID, "flux-platform:gitSsh": { host: "git@ghe.example.com" } },
        /^gitSsh\.host: `git@ghe\.example\.com` is not a host name or IPv4 address$/,
      ],
      [
        "git SSH port out of range",
        { ...VALID, "flux-platform:gitSsh": { host: "ghe.example.com", port: 0 } },
        /^gitSsh\.port: `0` is out of range \(allowed: whole numbers 1-65535\)$/,
      ],
      [
        "host key with a host name in front",
        { ...VALID, "flux-platform:gitSsh": { knownHosts: ["github.com ssh-ed25519 AAAA"] } },
        /^gitSsh\.knownHosts\.0: `github\.com ssh-ed25519 AAAA` is not a host key/,
      ],
      [
        "unknown gitSsh key",
        { ...VALID, "flux-platform:gitSsh": { hostname: "x" } },
        /^gitSsh\.hostname: unknown key `hostname` \(allowed: host, port, knownHosts\)$/,
      ],
      [
        "duplicate component",
        {
          ...VALID,
          "flux-platform:fluxComponents": [
            "source-controller",
            "kustomize-controller",
            "helm-controller",
            "source-controller",
          ],
        },
        /^fluxComponents: .* names `source-controller` twice$/,
      ],
      [
        "bad interval",
        { ...VALID, "flux-platform:syncInterval": "1 minute" },
        /^syncInterval: `1 minute` is not a Flux duration \(e\.g\. `30s`, `1m`, `1h30m`\)$/,
      ],
      [
        "invalid repo name",
        { ...VALID, "flux-platform:platformRepo": "flux platform" },
        /^platformRepo: `flux platform` is not a GitHub repository name/,
      ],
      [
        "repo name ending in .git",
        { ...VALID, "flux-platform:developerRepo": "dev.git" },
        /^developerRepo: `dev\.git` is not a GitHub repository name/,
      ],
      [
        "same repos",
        { ...VALID, "flux-platform:developerRepo": "Flux_Platform" },
        /^developerRepo: `Flux_Platform` is the same repository as platformRepo; the platform and developer repos must differ$/,
      ],
      [
        "unknown visibility",
        { ...VALID, "flux-platform:repoVisibility": "secret" },
        /^repoVisibility: `secret` is not allowed \(allowed: private, public, internal\)$/,
      ],
      [
        "unknown cluster provider",
        { ...VALID, "flux-platform:cluster": { provider: "kind" } },
        /^cluster\.provider: provider `kind` is unknown \(allowed: minikube, kubeconfig\)$/,
      ],
      [
        "kubeconfig without context",
        { ...VALID, "flux-platform:cluster": { provider: "kubeconfig" } },
        /^cluster\.context: is required$/,
      ],
      [
        "unknown minikube driver",
        { ...VALID, "flux-platform:cluster": { provider: "minikube", driver: "kind" } },
        /^cluster\.driver: `kind` is not allowed \(allowed: docker, /,
      ],
      [
        "too little memory",
        { ...VALID, "flux-platform:cluster": { provider: "minikube", memory: 512 } },
        /^cluster\.memory: `512` is out of range \(allowed: whole numbers 2048-262144 MiB\)$/,
      ],
      [
        "reserved app namespace",
        { ...VALID, "flux-platform:appNamespace": "flux-system" },
        /^appNamespace: `flux-system` is reserved/,
      ],
      [
        "structured value that is not JSON",
        { ...VALID, "flux-platform:services": "{beetle" },
        /^services: `\{beetle` is not valid JSON/,
      ],
    ];
    for (const [what, raw, expected, stack] of cases) {
      it(what, () => {
        const found = problems(raw, stack);
        expect(found, found.join("\n")).to.have.length(1);
        expect(found[0]).to.match(expected);
      });
    }
  });
});

describe("config: credentials in a service's env are refused (they would reach Git in clear)", () => {
  const refused = (env: Record<string, unknown>): string[] =>
    problems(withService({ ...svc, env })).filter((p) => p.startsWith("services.beetle.env."));
  const HINT = "<service>/<env>/secrets/secrets.yaml (its SECRETS.md)";

  for (const [name, value, says] of [
    ["DB_PASSWORD", "hunter2", "`DB_PASSWORD` names a credential"],
    ["AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "names a credential"],
    ["STRIPE_API_KEY", "abc", "names a credential"],
    ["SOME_VALUE", `ghp_${"a1B2".repeat(9)}`, "looks like a GitHub token"],
    ["UPSTREAM", `github_pat_${"x".repeat(30)}`, "looks like a GitHub fine-grained token"],
    ["KEY_ID", "AKIAIOSFODNN7EXAMPLE", "looks like an AWS access key id"],
    ["TLS", "-----BEGIN RSA PRIVATE KEY-----\nMIIB", "looks like a private key"],
    ["DATABASE_URL", "postgres://app:s3cret@db:5432/app", "looks like a URL with a password"],
  ]) {
    it(`${name}: ${says}, and says where secrets go`, () => {
      const p = refused({ [name]: value });
      expect(p).to.have.length(1);
      expect(p[0]).to.contain(says);
      expect(p[0]).to.contain(HINT);
      // The value itself is never repeated in the message.
      if (value.length > 8) expect(p[0]).to.not.contain(value);
    });
  }

  it("keeps plain settings, numbers under credential-like names, and URLs without a password", () => {
    expect(() =>
      loadConfig(
        withService({
          ...svc,
          env: {
            PODINFO_UI_MESSAGE: "hello",
            TOKEN_TTL: 3600,
            LOG_LEVEL: "debug",
            DATABASE_URL: "postgres://db:5432/app",
            KEYBOARD: "qwerty",
          },
        }),
        "dev",
      ),
    ).to.not.throw();
  });
});

describe("config: container command and args", () => {
  it("refuses args alone on an image without ENTRYPOINT (podinfo), saying what would run", () => {
    const p = problems(withService({ ...svc, args: ["--level=debug"] }));
    expect(p).to.deep.equal([
      'services.beetle.args: `["--level=debug"]` would replace the program: ghcr.io/stefanprodan/podinfo has no ENTRYPOINT (its CMD is `["./podinfo"]`), so the container would run `--level=debug`; set `command: ["./podinfo"]` as well, or use podinfo\'s PODINFO_* env (e.g. PODINFO_LEVEL: debug)',
    ]);
  });

  it("takes args with a command, and args alone on other images", () => {
    expect(() =>
      loadConfig(withService({ ...svc, command: ["./podinfo"], args: ["--level=debug"] }), "dev"),
    ).to.not.throw();
    expect(() =>
      loadConfig(withService({ image: "ghcr.io/acme/api", tag: "1.0.0", args: ["--x"] }), "dev"),
    ).to.not.throw();
  });

  it("the example stacks only use settings their image runs with", () => {
    for (const stack of ["dev", "prd"]) {
      const doc = parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as {
        config: Record<string, Record<string, { args?: string[]; command?: string[] }>>;
      };
      for (const [name, s] of Object.entries(doc.config["flux-platform:services"])) {
        expect(s.args === undefined || s.command !== undefined, `${stack} ${name}`).to.equal(true);
      }
    }
  });
});

describe("config: smaller refusals and acceptances", () => {
  it("refuses a zero or sub-10s sync interval, naming it", () => {
    expect(problems({ ...VALID, "flux-platform:syncInterval": "0s" })).to.deep.equal([
      "syncInterval: `0s` is zero; the interval must be at least `10s` (e.g. `1m`)",
    ]);
    expect(problems({ ...VALID, "flux-platform:syncInterval": "500ms" })[0]).to.match(
      /^syncInterval: `500ms` is shorter than `10s`/,
    );
    expect(
      loadConfig({ ...VALID, "flux-platform:syncInterval": "1m30s" }, "dev").syncInterval,
    ).to.equal("1m30s");
  });

  const digest = `sha256:${"ab12".repeat(16)}`;
  for (const [tag, image] of [
    [`6.15.0@${digest}`, `ghcr.io/stefanprodan/podinfo:6.15.0@${digest}`],
    [digest, `ghcr.io/stefanprodan/podinfo@${digest}`],
  ]) {
    it(`takes an image pinned by digest (${tag.slice(0, 14)}...) and runs it as ${image.slice(29, 44)}...`, () => {
      const cfg = loadConfig(withService({ ...svc, tag }), "dev");
      const ks = renderStack(cfg).clusterObjects.find(
        (o) => o.metadata.name === "app-beetle",
      ) as unknown as {
        spec: { postBuild: { substitute: Record<string, string> } };
      };
      expect(ks.spec.postBuild.substitute.IMAGE).to.equal(image);
    });
  }

  it("still refuses latest, before a digest too, and a malformed digest", () => {
    for (const tag of ["latest", `latest@${digest}`, "sha256:abc", `6.15.0@${digest}@x`]) {
      expect(problems(withService({ ...svc, tag }))[0], tag).to.match(
        /^services\.beetle\.tag: .* is not a pinned image tag/,
      );
    }
  });

  it("the example stacks carry the placeholder owner the program refuses", () => {
    for (const stack of ["dev", "prd"]) {
      const cfg = loadConfig(readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`)), stack);
      expect(placeholderProblem(cfg), stack).to.match(/is the example stack's placeholder/);
    }
    expect(placeholderProblem(loadConfig(VALID, "dev"))).to.equal(undefined);
  });
});
