/**
 * The developer's pull request check: what the stack writes into the developer repo so that
 * a change to `<service>/<env>/` is built and judged before merge the way this environment's
 * cluster will build and judge it after (lib/developerRepo/check.mjs has the rules).
 *
 * Per environment, each file owned by this stack (mode `sync`, so `pulumi up` puts it back):
 * - `.flux-platform/checks/<env>/config-kustomization.yaml`: the `config-<service>`
 *   Kustomization as the stack applies it (path, post-build substitutions, decryption,
 *   Components), with `<service>` where each service's name goes; check.mjs fills it in for
 *   the folder it checks, the `--kustomization-file` of `flux build kustomization`. One
 *   template, not every service's copy: the file is in the state, which the file backend
 *   writes at each checkpoint of an up (at 300 services the copies were 218 KB of 5.3 MB);
 *   every config Kustomization differs only by the service's name (test/developerCheck.test.ts
 *   holds the template, filled in, to each one the stack applies);
 * - `.flux-platform/checks/<env>/facts.json`: what the rules need besides (each service's
 *   object names, the variables filled in, the age recipients the cluster holds keys for);
 * - `.flux-platform/checks/<env>/check.mjs`: the rules, this repo's `check.mjs` verbatim;
 * - `.github/workflows/config-check-<env>.yaml`: on a pull request, one job per changed
 *   folder, with the flux CLI of this environment's Flux version (Flux's own action, pinned).
 * Per environment and not shared, because two stacks may run different Flux versions or
 * flux-platform releases: a shared file would flip between them at each `pulumi up`.
 *
 * And `.github/CODEOWNERS`, shared by the stacks (mode `section`, one block per
 * environment), from `services.<name>.owners` and `platformOwners`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { configKustomization, configVariables } from "../cluster";
import type { PlatformConfig } from "../config";
import {
  configMapName,
  FLUX_NAMESPACE,
  secretsName,
  configKustomizationName,
  DEVELOPER_BASE,
} from "../names";
import { SECRETS_CHECK, SECRETS_GUIDE, SECRETS_TEMPLATE, SOPS_CONFIG } from "./secrets";
import { yamlFile, type RepoFile } from "../yaml";

/** Where one environment's check files live in the developer repo. */
export const checksDir = (environment: string): string => `.flux-platform/checks/${environment}`;
/** The workflow of one environment's check. */
export const checkWorkflowPath = (environment: string): string =>
  `.github/workflows/config-check-${environment}.yaml`;
export const CODEOWNERS = ".github/CODEOWNERS";

/**
 * Written into `facts.json` where the environment's age recipients go (newest last, comma
 * separated); the program fills it in from the stack's keys (index.ts), `render` leaves it.
 */
export const RECIPIENTS_PLACEHOLDER =
  "<age recipients of this environment, newest last: filled in by pulumi up>";

/** The `yaml` release the workflow installs for check.mjs: the one this program renders with. */
export const CHECK_YAML_VERSION = "2.9.1";

/** The rules, read once from the file shipped beside this one. */
const CHECK_SCRIPT = fs.readFileSync(path.join(__dirname, "check.mjs"), "utf8");

/** What check.mjs reads besides the Kustomizations (its `facts.json`). */
export interface CheckFacts {
  readonly environment: string;
  readonly fluxVersion: string;
  /** The Kustomizations' namespace (`flux build --namespace`). */
  readonly namespace: string;
  readonly variables: readonly string[];
  /** Comma-separated in the file as written; check.mjs splits it. */
  readonly recipients: string;
  readonly maxConfigMapBytes: number;
  readonly services: Readonly<
    Record<string, { kustomization: string; configMap: string; secret: string }>
  >;
}

export function checkFacts(cfg: PlatformConfig): CheckFacts {
  return {
    environment: cfg.environment,
    fluxVersion: cfg.fluxVersion,
    namespace: FLUX_NAMESPACE,
    variables: Object.keys(configVariables(cfg, { name: SERVICE_PLACEHOLDER })),
    recipients: RECIPIENTS_PLACEHOLDER,
    maxConfigMapBytes: 1024 * 1024,
    services: Object.fromEntries(
      cfg.services.map((s) => [
        s.name,
        {
          kustomization: configKustomizationName(s.name),
          configMap: configMapName(s.name),
          secret: secretsName(s.name),
        },
      ]),
    ),
  };
}

/** Where the template has a service's name (not a valid service name, so never one). */
export const SERVICE_PLACEHOLDER = "<service>";
/** The template of every config Kustomization, beside check.mjs. */
export const CONFIG_KUSTOMIZATION_FILE = "config-kustomization.yaml";

function configKustomizationTemplate(cfg: PlatformConfig): string {
  return yamlFile(
    [
      `${cfg.environment}'s config-<service> Kustomization, as flux-platform applies it to the`,
      "cluster for each service, its name in place of <service>: the pull request check fills it",
      "in and builds the folder with it (flux build kustomization --kustomization-file).",
      "Owned by the platform team: `pulumi up` puts this file back.",
    ],
    configKustomization(cfg, { name: SERVICE_PLACEHOLDER }),
  );
}

function workflow(cfg: PlatformConfig): string {
  const env = cfg.environment;
  const dir = checksDir(env);
  const v = cfg.fluxVersion;
  return [
    `# ${env}: checks each changed <service>/${env} folder of a pull request the way ${env}'s`,
    "# cluster will build it (flux build kustomization, the same Kustomization, the same rules),",
    `# one check per folder. Written by flux-platform for ${env} (Flux ${v}); \`pulumi up\` puts`,
    '# it back. Run one check on your machine: see README.md, "Check before you merge".',
    `name: config check ${env}`,
    "",
    "on:",
    "  pull_request:",
    "    paths:",
    `      - "*/${env}/**"`,
    `      - "*/${DEVELOPER_BASE}/**"`,
    `      - "${dir}/**"`,
    "",
    "permissions:",
    "  contents: read",
    "",
    "jobs:",
    "  folders:",
    "    runs-on: ubuntu-latest",
    "    outputs:",
    "      folders: ${{ steps.changed.outputs.folders }}",
    "    steps:",
    "      - uses: actions/checkout@v4",
    "        with:",
    "          fetch-depth: 0",
    "      - uses: actions/setup-node@v4",
    "        with:",
    "          node-version: 22",
    `      - run: npm install --no-save --no-package-lock --no-audit --no-fund yaml@${CHECK_YAML_VERSION}`,
    "      - id: changed",
    `        run: node ${dir}/check.mjs folders "$BASE" >> "$GITHUB_OUTPUT"`,
    "        env:",
    "          BASE: ${{ github.event.pull_request.base.sha }}",
    "",
    "  check:",
    "    needs: folders",
    "    if: needs.folders.outputs.folders != '[]'",
    "    name: ${{ matrix.folder }}",
    "    runs-on: ubuntu-latest",
    "    strategy:",
    "      fail-fast: false",
    "      matrix:",
    "        folder: ${{ fromJSON(needs.folders.outputs.folders) }}",
    "    steps:",
    "      - uses: actions/checkout@v4",
    "      - uses: actions/setup-node@v4",
    "        with:",
    "          node-version: 22",
    `      - run: npm install --no-save --no-package-lock --no-audit --no-fund yaml@${CHECK_YAML_VERSION}`,
    `      # The flux CLI of ${env}'s Flux, from Flux's own action at the same release.`,
    `      - uses: fluxcd/flux2/action@v${v}`,
    "        with:",
    `          version: ${v}`,
    `      - run: node ${dir}/check.mjs folder "$FOLDER"`,
    "        env:",
    "          FOLDER: ${{ matrix.folder }}",
    "",
  ].join("\n");
}

/** This environment's block of `.github/CODEOWNERS`; undefined when nobody is named. */
export function codeownersSection(cfg: PlatformConfig): string | undefined {
  const env = cfg.environment;
  const platform = cfg.platformOwners ?? [];
  const owned = cfg.services.filter((s) => s.owners && s.owners.length > 0);
  if (platform.length === 0 && owned.length === 0) return undefined;
  const id = `flux-platform environment ${env}`;
  const line = (pattern: string, owners: readonly string[]) => `${pattern} ${owners.join(" ")}`;
  // The last matching line wins: each team's folders first, then the files inside them that
  // are the platform's, so those need the platform team's review even in a team's folder.
  const lines = [
    ...owned.flatMap((s) => [
      line(`/${s.name}/${DEVELOPER_BASE}/`, s.owners!),
      line(`/${s.name}/${env}/`, s.owners!),
    ]),
    ...(platform.length > 0
      ? [
          ...cfg.services.map((s) => line(`/${s.name}/${env}/kustomization.yaml`, platform)),
          line(`/${checksDir(env)}/`, platform),
          line(`/${checkWorkflowPath(env)}`, platform),
          line(`/${SOPS_CONFIG}`, platform),
          line(`/${SECRETS_CHECK}/`, platform),
          line(`/${SECRETS_TEMPLATE}/`, platform),
          line(`/${SECRETS_GUIDE}`, platform),
          line(`/${CODEOWNERS}`, platform),
        ]
      : []),
  ];
  return [
    "# Who reviews what in this repository. Written by flux-platform: each environment's stack",
    "# keeps its own block, between its markers, and leaves the rest as it is.",
    `# >>> ${id}`,
    ...lines,
    `# <<< ${id}`,
    "",
  ].join("\n");
}

/** The check's files for this environment, and its CODEOWNERS block. */
export function developerCheckFiles(cfg: PlatformConfig): RepoFile[] {
  const dir = checksDir(cfg.environment);
  const own = (p: string, content: string): RepoFile => ({
    path: p,
    content,
    mode: "sync",
    shared: false,
  });
  const owners = codeownersSection(cfg);
  return [
    own(`${dir}/${CONFIG_KUSTOMIZATION_FILE}`, configKustomizationTemplate(cfg)),
    own(`${dir}/facts.json`, `${JSON.stringify(checkFacts(cfg), null, 2)}\n`),
    own(`${dir}/check.mjs`, CHECK_SCRIPT),
    own(checkWorkflowPath(cfg.environment), workflow(cfg)),
    ...(owners
      ? [{ path: CODEOWNERS, content: owners, mode: "section" as const, shared: true }]
      : []),
  ];
}
