/**
 * Everything the stack commits and applies, as data: the one place both `index.ts` and
 * `npm run render` get it from, so the program and the review output cannot drift.
 * The stack file's loader is in stackFile.ts, the `--out` folder's writer in outDir.ts.
 */
import type { PlatformConfig } from "../config";
import {
  allClusterObjects,
  fluxInstance,
  renderClusterObjects,
  type ClusterObjects,
} from "../cluster";
import { renderDeveloperRepo } from "../developerRepo";
import type { DesiredFile } from "../github";
import type { K8sObject } from "../objects";
import { renderPlatformRepo } from "../platformRepo";
import { yamlFile, type RepoFile } from "../yaml";

export { OutDirError, RENDER_MARKER, writeTree } from "./outDir";
export { loadStackFile, readStackFile, StackFileError } from "./stackFile";

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

/**
 * The files a stack writes into one repository, by path: all rendered files, except that
 * an adopting stack leaves a shared sync file (the platform README) to the stack that
 * created the repository. Shared scaffold files are declared by every stack: they are
 * written only where missing, so whichever stack comes first writes them once. Section
 * files are declared by every stack too, adopting or not: each writes its own block of one
 * shared file.
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

/** The files with each placeholder text replaced by its value (see GitopsRepoArgs.placeholders). */
export function fillPlaceholders(
  files: Record<string, DesiredFile>,
  values: Readonly<Record<string, string>>,
): Record<string, DesiredFile> {
  const fill = (text: string) =>
    Object.entries(values).reduce((t, [from, to]) => t.replaceAll(from, () => to), text);
  return Object.fromEntries(
    Object.entries(files).map(([p, f]) => [p, { ...f, content: fill(f.content) }]),
  );
}
