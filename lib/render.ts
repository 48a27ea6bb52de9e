/**
 * Everything the stack commits and applies, as data: the one place both `index.ts` and
 * `npm run render` get it from, so the program and the review output cannot drift.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { loadConfig, type PlatformConfig, type RawConfig } from "./config";
import {
  allClusterObjects,
  renderClusterObjects,
  type ClusterObjects,
  type K8sObject,
} from "./clusterObjects";
import { renderDeveloperRepo } from "./developerRepo";
import { fluxInstance } from "./fluxInstall";
import { renderPlatformRepo, type RepoFile } from "./platformRepo";
import { yamlFile } from "./yaml";
import type { DesiredFile } from "./github/plan";

export interface RenderedStack {
  readonly config: PlatformConfig;
  readonly platformFiles: readonly RepoFile[];
  readonly developerFiles: readonly RepoFile[];
  readonly cluster: ClusterObjects;
  /** `cluster`, flattened in apply order. */
  readonly clusterObjects: readonly K8sObject[];
  readonly fluxInstance: K8sObject;
}

export function renderStack(config: PlatformConfig): RenderedStack {
  const cluster = renderClusterObjects(config);
  return {
    config,
    platformFiles: renderPlatformRepo(config),
    developerFiles: renderDeveloperRepo(config),
    cluster,
    clusterObjects: allClusterObjects(cluster),
    fluxInstance: fluxInstance(config),
  };
}

/** File name of a cluster object under `cluster/`: `<kind>-<name>.yaml`, lowercase. */
export function clusterObjectFile(obj: K8sObject): string {
  return `${obj.kind.toLowerCase()}-${obj.metadata.name}.yaml`;
}

/**
 * The rendered tree as relative path -> content: `<platformRepo>/...`,
 * `<developerRepo>/...`, `cluster/*.yaml` and `flux/fluxinstance.yaml`.
 */
export function renderedTree(r: RenderedStack): Map<string, string> {
  const tree = new Map<string, string>();
  for (const f of r.platformFiles) tree.set(`${r.config.platformRepo}/${f.path}`, f.content);
  for (const f of r.developerFiles) tree.set(`${r.config.developerRepo}/${f.path}`, f.content);
  const header = [`Applied by Pulumi (stack environment: ${r.config.environment}).`];
  for (const obj of r.clusterObjects) {
    const file = `cluster/${clusterObjectFile(obj)}`;
    if (tree.has(file)) throw new Error(`two cluster objects render to ${file}`);
    tree.set(file, yamlFile(header, obj));
  }
  tree.set("flux/fluxinstance.yaml", yamlFile(header, r.fluxInstance));
  return tree;
}

/** Replaces `out` with the rendered tree. */
export function writeTree(out: string, tree: Map<string, string>): void {
  fs.rmSync(out, { recursive: true, force: true });
  for (const [rel, content] of [...tree].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const file = path.join(out, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

/** Raw config of `Pulumi.<stack>.yaml`, as `pulumi.runtime.allConfig()` would hold it. */
export function readStackFile(file: string): RawConfig {
  const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
  const config = doc?.config ?? {};
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    // Secrets (`secure:`) are never needed to render and cannot be decrypted here.
    const secure = value !== null && typeof value === "object" && "secure" in value;
    if (!secure) raw[key] = value;
  }
  return raw;
}

/** Loads and validates `Pulumi.<stack>.yaml` in `dir`. @throws ConfigError */
export function loadStackFile(dir: string, stack: string): PlatformConfig {
  return loadConfig(readStackFile(path.join(dir, `Pulumi.${stack}.yaml`)), stack);
}

/**
 * The files a stack writes into one repository, by path: all rendered files, except that
 * an adopting stack leaves a shared sync file (the platform README) to the stack that
 * created the repository. Shared scaffold files are declared by every stack: they are
 * written only where missing, so whichever stack comes first writes them once.
 */
export function writtenFiles(
  files: readonly RepoFile[],
  adopt: boolean,
): Record<string, DesiredFile> {
  const out: Record<string, DesiredFile> = {};
  for (const f of files) {
    if (!(adopt && f.mode === "sync" && f.shared))
      out[f.path] = { mode: f.mode, content: f.content };
  }
  return out;
}
