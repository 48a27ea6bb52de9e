/**
 * What kustomize-controller does with a Kustomization, as far as it can be done offline:
 * add `spec.components` to the folder's kustomization.yaml (dropping missing ones with
 * `spec.ignoreMissingComponents`), build `<repo>/<spec.path>` with real kustomize (load
 * restrictions off, as Flux builds), set `spec.targetNamespace`, then run post-build
 * substitution with Flux >= 2.9 semantics. SOPS decryption is not done here.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseYamlDocs, toYaml } from "../../lib/yaml";
import { CLUSTER_SCOPED, type KubeObject } from "./models";

const VAR = /^([_a-zA-Z][_a-zA-Z0-9]*)(?::?([=-])(.*))?$/s;

/**
 * Flux post-build substitution of `${VAR}`, `${VAR:=default}` and `${VAR:-default}`; `$${`
 * keeps a literal `${`. Since Flux 2.9 a variable that is neither defined nor defaulted
 * fails the reconciliation, and so does it here.
 */
export function substitute(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$\{|\$\{([^}]*)\}/g, (match, body: string | undefined) => {
    if (match === "$${") return "${";
    const m = VAR.exec(body ?? "");
    if (!m) throw new Error(`bad substitution \`${match}\``);
    const [, name, op, fallback] = m;
    if (name in vars) return vars[name];
    if (op !== undefined) return fallback;
    throw new Error(`variable \`${name}\` is not defined and has no default`);
  });
}

export function kustomizeBuild(dir: string): KubeObject[] {
  const out = execFileSync(
    "kubectl",
    ["kustomize", "--load-restrictor", "LoadRestrictionsNone", dir],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return parseYamlDocs(out) as KubeObject[];
}

export interface FluxKustomization extends KubeObject {
  spec: {
    path: string;
    sourceRef: { kind: string; name: string };
    targetNamespace?: string;
    postBuild?: { substitute?: Record<string, string> };
    components?: string[];
    ignoreMissingComponents?: boolean;
  };
}

/**
 * Builds `dir` with `components` appended to its kustomization.yaml, as kustomize-controller
 * does in its own checkout (`generator.go`); the file is put back afterwards.
 */
function buildWithComponents(dir: string, components: string[], ignoreMissing: boolean) {
  const file = path.join(dir, "kustomization.yaml");
  const original = fs.readFileSync(file, "utf8");
  const present = ignoreMissing
    ? components.filter((c) => fs.existsSync(path.join(dir, c)))
    : components;
  if (present.length === 0) return kustomizeBuild(dir);
  const k = parse(original) as { components?: string[] };
  fs.writeFileSync(
    file,
    JSON.stringify({ ...k, components: [...(k.components ?? []), ...present] }),
  );
  try {
    return kustomizeBuild(dir);
  } finally {
    fs.writeFileSync(file, original);
  }
}

/** Builds one Flux Kustomization; `repoDir` is the checkout its GitRepository points at. */
export function fluxBuild(ks: FluxKustomization, repoDir: string): KubeObject[] {
  const dir = path.join(repoDir, ks.spec.path);
  const built = ks.spec.components
    ? buildWithComponents(dir, ks.spec.components, ks.spec.ignoreMissingComponents === true)
    : kustomizeBuild(dir);
  const vars = ks.spec.postBuild?.substitute;
  return built.map((obj) => {
    let result = obj;
    if (ks.spec.targetNamespace && !CLUSTER_SCOPED.has(obj.kind)) {
      result = { ...result, metadata: { ...result.metadata, namespace: ks.spec.targetNamespace } };
    }
    const optOut =
      result.metadata.annotations?.["kustomize.toolkit.fluxcd.io/substitute"] === "disabled";
    if (vars && !optOut) {
      try {
        result = parseYamlDocs(substitute(toYaml(result), vars))[0] as KubeObject;
      } catch (err) {
        throw new Error(
          `${ks.metadata.name}: ${obj.kind} ${obj.metadata.name}: ${(err as Error).message}`,
        );
      }
    }
    return result;
  });
}
