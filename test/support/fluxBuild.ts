/**
 * What kustomize-controller does with a Kustomization, as far as it can be done offline:
 * build `<repo>/<spec.path>` with real kustomize (load restrictions off, as Flux builds),
 * set `spec.targetNamespace`, then run post-build substitution with Flux >= 2.9 semantics.
 */
import { execFileSync } from "node:child_process";
import * as path from "node:path";
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
  };
}

/** Builds one Flux Kustomization; `repoDir` is the checkout its GitRepository points at. */
export function fluxBuild(ks: FluxKustomization, repoDir: string): KubeObject[] {
  const built = kustomizeBuild(path.join(repoDir, ks.spec.path));
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
