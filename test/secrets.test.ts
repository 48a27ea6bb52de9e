/**
 * Secrets for service teams, as far as rendering and validation go: the developer repo's
 * `.sops.yaml` (one rule per environment, a block per stack), the shared Component and the
 * template, the team guide, and the Deployment's side. What kustomize-controller does with
 * the files (decrypting, refusing) is proven in `npm run e2e` (e2e/steps/secrets.ts).
 */
import { expect } from "chai";
import * as path from "node:path";
import { parse } from "yaml";
import type { RawConfig } from "../lib/config";
import {
  RECIPIENT_PLACEHOLDER,
  SECRETS_CHECK,
  SECRETS_GUIDE,
  SECRETS_TEMPLATE,
  SOPS_CONFIG,
  secretsPath,
  sopsConfig,
} from "../lib/developerRepo";
import { spliceSection } from "../lib/github/plan";
import { loadStackFile, renderStack, writtenFiles } from "../lib/render";
import { configProblems } from "./support/problems";

const ROOT = path.resolve(__dirname, "..");
const dev = loadStackFile(ROOT, "dev");
const prd = loadStackFile(ROOT, "prd");

interface Rule {
  path_regex: string;
  encrypted_regex: string;
  mac_only_encrypted: boolean;
  age: string;
}

/** The creation rule sops would pick for `file`: the first whose path_regex matches. */
function ruleFor(sops: string, file: string): Rule | undefined {
  const rules = (parse(sops) as { creation_rules: Rule[] }).creation_rules;
  return rules.find((r) => new RegExp(r.path_regex).test(file));
}

describe("secrets: the developer repo's .sops.yaml", () => {
  const devFile = sopsConfig(dev, "age1devrecipient");
  const prdFile = sopsConfig(prd, "age1prdrecipient");
  // What the repository holds after dev's stack wrote it, then prd's.
  const both = spliceSection(spliceSection(undefined, devFile), prdFile);

  it("encrypts each environment's secrets files to that environment's recipient only", () => {
    for (const svc of ["beetle", "a-b-c"]) {
      expect(ruleFor(both, secretsPath(svc, "dev"))?.age).to.equal("age1devrecipient");
      expect(ruleFor(both, secretsPath(svc, "prd"))?.age).to.equal("age1prdrecipient");
    }
    // Anything else matches no rule, so sops refuses to encrypt it instead of guessing.
    for (const other of [
      "beetle/dev/config.yaml",
      "beetle/dev/secrets.yaml",
      "beetle/dev/secrets/other.yaml",
      "x/beetle/dev/secrets/secrets.yaml",
      "beetle/dev/secrets/secrets.yaml.bak",
      "beetle/devx/secrets/secrets.yaml",
    ]) {
      expect(ruleFor(both, other), other).to.equal(undefined);
    }
  });

  it("encrypts only the values, with a MAC that survives kustomize's namespace and annotations", () => {
    const rule = ruleFor(both, secretsPath("beetle", "dev"))!;
    expect(rule.encrypted_regex).to.equal("^(data|stringData)$");
    expect(rule.mac_only_encrypted).to.equal(true);
  });

  it("keeps the other stack's block when a stack writes its own again", () => {
    const rotated = spliceSection(both, sopsConfig(dev, "age1devrecipient2"));
    expect(ruleFor(rotated, secretsPath("beetle", "dev"))?.age).to.equal("age1devrecipient2");
    expect(ruleFor(rotated, secretsPath("beetle", "prd"))?.age).to.equal("age1prdrecipient");
    expect(rotated.replace("age1devrecipient2", "age1devrecipient")).to.equal(both);
  });

  it("is written by every stack as a section, with the placeholder the program fills in", () => {
    for (const adopt of [false, true]) {
      const files = writtenFiles(renderStack(prd).developerFiles, adopt);
      expect(files[SOPS_CONFIG].mode).to.equal("section");
      expect(files[SOPS_CONFIG].content).to.contain(`age: ${RECIPIENT_PLACEHOLDER}`);
    }
  });
});

describe("secrets: the files every team's folder builds on", () => {
  const files = (cfg: typeof dev) =>
    Object.fromEntries(renderStack(cfg).developerFiles.map((f) => [f.path, f]));

  it("are the same bytes for every stack, so the stacks never rewrite each other's", () => {
    const a = files(dev);
    const b = files({ ...prd, services: [prd.services[0]] });
    for (const p of [
      SECRETS_GUIDE,
      `${SECRETS_CHECK}/kustomization.yaml`,
      `${SECRETS_TEMPLATE}/kustomization.yaml`,
      `${SECRETS_TEMPLATE}/secrets.yaml`,
    ]) {
      expect(a[p], p).to.deep.include({ mode: "sync", shared: true });
      expect(a[p].content, p).to.equal(b[p].content);
    }
  });

  it("include a guide that says how to install sops, add, change and remove a secret, and who sees what", () => {
    const guide = files(dev)[SECRETS_GUIDE].content;
    for (const heading of [
      "## Install sops",
      "## Add your first secret",
      "## Change or remove a secret",
      "## What is refused",
      "## Who can see what",
    ]) {
      expect(guide).to.contain(heading);
    }
    expect(guide).to.contain(`cp -r ${SECRETS_TEMPLATE} <service>/<env>/secrets`);
    expect(guide).to.contain("sops --encrypt --in-place <service>/<env>/secrets/secrets.yaml");
    expect(guide).to.contain("fieldPath `sops.mac` is missing");
    expect(guide).to.contain("did not match any of the recipients");
  });

  it("make the template a Component that includes the shared check", () => {
    const k = parse(files(dev)[`${SECRETS_TEMPLATE}/kustomization.yaml`].content) as Record<
      string,
      unknown
    >;
    expect(k).to.deep.include({
      kind: "Component",
      resources: ["secrets.yaml"],
      // From <service>/<env>/secrets/ to the repository root.
      components: [`../../../${SECRETS_CHECK}`],
    });
  });
});

describe("secrets: what the Deployment reads", () => {
  const file = (cfg: typeof dev, p: string) =>
    parse(renderStack(cfg).platformFiles.find((f) => f.path === p)!.content) as {
      metadata: { annotations?: Record<string, string> };
      spec: { template: { spec: { containers: Record<string, unknown>[]; volumes?: unknown[] } } };
    };

  it("every pair as an env variable, optional, and the pods rolled when the Secret changes", () => {
    const d = file(dev, "environments/dev/apps/base/deployment.yaml");
    expect(d.metadata.annotations).to.include({
      "secret.reloader.stakater.com/reload": "${SERVICE_NAME}-secrets",
    });
    expect(d.spec.template.spec.containers[0].envFrom).to.deep.equal([
      { secretRef: { name: "${SERVICE_NAME}-secrets", optional: true } },
    ]);
  });

  it("as files too in `secretsPath`, when the platform team sets it", () => {
    const cfg = {
      ...dev,
      services: dev.services.map((s, i) => (i === 0 ? { ...s, secretsPath: "/etc/secrets" } : s)),
    };
    const name = cfg.services[0].name;
    const patch = file(cfg, `environments/dev/apps/${name}/deployment-patch.yaml`);
    expect(patch.spec.template.spec.containers[0].volumeMounts).to.deep.equal([
      { name: "secrets", mountPath: "/etc/secrets", readOnly: true },
    ]);
    expect(patch.spec.template.spec.volumes).to.deep.equal([
      { name: "secrets", secret: { secretName: `${name}-secrets`, optional: true } },
    ]);
  });

  it("refuses a secretsPath that is not an absolute folder, or is the config folder", () => {
    const raw = (secretsPath: string): RawConfig => ({
      "github:owner": "acme",
      "flux-platform:services": {
        beetle: { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0", secretsPath },
      },
    });
    expect(configProblems(raw("/etc/secrets"))).to.deep.equal([]);
    for (const [value, says] of [
      ["etc/secrets", "is not an absolute folder path"],
      ["/etc/../root", "is not an absolute folder path"],
      ["/etc/my secrets", "is not an absolute folder path"],
      ["/etc/config", "is inside /etc/config"],
      ["/etc/config/s", "is inside /etc/config"],
    ]) {
      const found = configProblems(raw(value));
      expect(found, value).to.have.length(1);
      expect(found[0]).to.equal(
        `services.beetle.secretsPath: \`${value}\` ${says}${says.startsWith("is not") ? " (e.g. `/etc/secrets`; letters, digits, `.`, `_`, `-`)" : ", where the service's config is mounted"}`,
      );
    }
  });
});
