/**
 * The developer repo: plain YAML config per service and environment, owned by the service
 * teams. Pulumi scaffolds it once; later edits by developers are never overwritten.
 *
 * Layering (the seed's `files: [../../base/config.yaml, config.yaml]` pointed outside the
 * service and repeated the key `config.yaml`, which kustomize refuses): the ConfigMap
 * `<service>-config` carries two keys, `base.yaml` (from `<service>/base/config.yaml`) and
 * `override.yaml` (from `<service>/<env>/config.yaml`). Kustomize does not merge YAML, and
 * `behavior: merge` would replace the whole `config.yaml` key, so both files reach the
 * service side by side and the service reads base.yaml, then override.yaml: a top-level key
 * in override.yaml replaces the same key of base.yaml.
 */
import type { PlatformConfig, ServiceConfig } from "../config";
import { DEVELOPER_BASE, configMapName } from "../names";
import { developerSecretsFiles, SECRETS_GUIDE } from "./secrets";
import { yamlFile, type RepoFile } from "../yaml";
import { CHECK_YAML_VERSION, developerCheckFiles } from "./checks";

export * from "./checks";
export * from "./secrets";

/** The keys of the generated ConfigMap and the files they come from (relative to `<svc>/<env>`). */
export const CONFIG_KEYS = { base: "base.yaml", override: "override.yaml" } as const;

function baseConfig(s: ServiceConfig): string {
  return [
    `# ${s.name}: settings for every environment. Owned by the ${s.name} team.`,
    "#",
    "# Change a value here to change it in every environment; override it for one",
    "# environment in ../<env>/config.yaml. ${SERVICE_NAME} and ${ENV} are filled in when",
    "# Flux applies this file. Any other variable written that way stops the rollout:",
    "# double the dollar sign to keep one literally (see README.md).",
    "service: ${SERVICE_NAME}",
    "logLevel: info",
    "featureFlags:",
    "  newCheckout: false",
    "",
  ].join("\n");
}

function envConfig(s: ServiceConfig, env: string): string {
  return [
    `# ${s.name} in ${env}: overrides for this environment only. Owned by the ${s.name} team.`,
    "#",
    "# A top-level key here replaces the same key of ../base/config.yaml as a whole (no deep",
    "# merge): to change one feature flag, repeat the whole `featureFlags` map.",
    "environment: ${ENV}",
    "# logLevel: debug",
    "",
  ].join("\n");
}

function envKustomization(s: ServiceConfig, env: string): string {
  return yamlFile(
    [
      `Builds ${s.name}'s configuration for ${env}. Owned by the platform team: edit the`,
      "config.yaml files, not this one. The ConfigMap name is what the service's Deployment",
      "mounts; it carries no hash suffix, and Reloader rolls the pods when it changes.",
    ],
    {
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      generatorOptions: {
        disableNameSuffixHash: true,
        labels: { "app.kubernetes.io/name": s.name, "app.kubernetes.io/component": "config" },
      },
      configMapGenerator: [
        {
          name: configMapName(s.name),
          files: [
            `${CONFIG_KEYS.base}=../${DEVELOPER_BASE}/config.yaml`,
            `${CONFIG_KEYS.override}=config.yaml`,
          ],
        },
      ],
    },
  );
}

function developerReadme(cfg: PlatformConfig): string {
  const example = cfg.services[0]?.name ?? "beetle";
  return `# Service configuration

This repository holds the configuration of each service, per environment, as plain YAML.
You do not need to know Kubernetes or Flux to change it.

\`\`\`
<service>/
  base/config.yaml        settings for every environment
  <env>/config.yaml       overrides for one environment (dev, prd, ...)
  <env>/kustomization.yaml  owned by the platform team: leave it as it is
  <env>/secrets/          optional: encrypted secrets for one environment (${SECRETS_GUIDE})
\`\`\`

## Change a value for one environment

1. Open \`${example}/dev/config.yaml\` (replace \`${example}\` and \`dev\` with yours).
2. Add or change the top-level key, e.g. \`logLevel: debug\`. A top-level key here replaces
   the same key of \`base/config.yaml\` **as a whole**: to change one entry of a map such as
   \`featureFlags\`, copy the whole map and change the entry.
3. Commit to \`main\` (directly or through a pull request).

To change a value everywhere, edit \`base/config.yaml\` instead.

## What is not set here

The image and its tag, the number of replicas and autoscaling, CPU and memory, environment
variables, the container's command and arguments, and the health-check paths are the
platform team's: they live in the platform's stack config (\`flux-platform:services\` in
\`Pulumi.<env>.yaml\`, key \`${example}\` for ${example}) and reach the cluster through
the platform repo, [${cfg.owner}/${cfg.platformRepo}](${cfg.githubUrl}/${cfg.owner}/${cfg.platformRepo}).
To change one, ask the platform team (open an issue or a pull request there).

No secrets in \`config.yaml\`: everything in this repository is readable by everyone who
can read it, and its history keeps every version. Passwords and API keys go in
\`<service>/<env>/secrets/secrets.yaml\`, encrypted with sops to that environment's key:
see [${SECRETS_GUIDE}](${SECRETS_GUIDE}).

Each team's folder changes only its own service. Whatever is committed under
\`${example}/\` can change the configuration of ${example} and nothing else: not another
team's service, and nothing but configuration. Anything else is refused and shows up as a
failed rollout of your commit; the other services are not touched.

\`\${SERVICE_NAME}\` and \`\${ENV}\` are replaced with the service and environment name.
Any other \`\${...}\` stops the rollout with an error; write \`$\${X}\` to keep a literal \`\${X}\`.

## Check before you merge

Open a pull request: for each \`<service>/<env>\` folder it changes (a change to
\`<service>/base/\` counts for every environment), the check \`config check <env>\` builds the
folder exactly as that environment's cluster will, and fails with what to fix when the cluster
would refuse it: a file that is not valid YAML, a \`\${...}\` the platform does not fill in,
anything but your service's ConfigMap and Secret, a ConfigMap over 1 MiB, a secrets file in
clear text or encrypted to another environment's key. Your folder needs your team's review,
and the files the platform owns (each folder's \`kustomization.yaml\`, \`.flux-platform/\`,
\`.sops.yaml\`) the platform team's, where CODEOWNERS names them.

The same check on your machine, with the [flux CLI](https://fluxcd.io/flux/installation/#install-the-flux-cli)
of the environment's Flux version (in \`.flux-platform/checks/<env>/facts.json\`), Node.js 22
and git, from the repository root:

\`\`\`
npm install --no-save --no-package-lock yaml@${CHECK_YAML_VERSION}   # into node_modules/, git-ignored
node .flux-platform/checks/${cfg.environment}/check.mjs folder ${example}/${cfg.environment}
\`\`\`

## What happens next

${
  cfg.webhookReceiverUrl
    ? "Within seconds of your push"
    : "Within the sync interval (a minute by default)"
} Flux picks up the commit, rebuilds the service's configuration and
the service's pods restart with it.

Your service reads the configuration itself: it gets two files in \`/etc/config\` (the
folder is also in \`$CONFIG_DIR\`), \`base.yaml\` from \`base/config.yaml\` and
\`override.yaml\` from \`<env>/config.yaml\`. Nothing merges them for you: read
\`base.yaml\`, then let each top-level key of \`override.yaml\` replace the same key.

## Did it roll out?

${
  cfg.commitStatus
    ? `Look at the mark next to your commit on GitHub. Each environment adds one check per
service, \`kustomization/config-<service>/...\`: a green tick when your change is applied, a
red cross when it is refused (open it for the reason). No mark yet: Flux has not picked the
commit up; wait a minute.

If you have cluster access you can also ask Flux directly:`
    : "Ask the platform team, or if you have cluster access:"
}

\`\`\`
flux get kustomizations config-${example}      # Ready=True and the new commit in the message
kubectl -n ${cfg.appNamespace} rollout status deployment/${example}
\`\`\`

A failed rollout (bad YAML, an unknown \`\${...}\`) shows as Ready=False with the reason;
the service keeps running with the last good configuration.
`;
}

/** Every file of the developer repo this environment needs, sorted by path. */
export function renderDeveloperRepo(cfg: PlatformConfig): RepoFile[] {
  const env = cfg.environment;
  const files: RepoFile[] = [
    { path: "README.md", content: developerReadme(cfg), mode: "scaffold", shared: true },
    // What the local check installs (README.md, "Check before you merge") stays out of Git.
    { path: ".gitignore", content: "node_modules/\n", mode: "scaffold", shared: true },
    ...developerSecretsFiles(cfg),
    ...developerCheckFiles(cfg),
  ];
  for (const s of cfg.services) {
    files.push(
      {
        path: `${s.name}/${DEVELOPER_BASE}/config.yaml`,
        content: baseConfig(s),
        mode: "scaffold",
        shared: true,
      },
      {
        path: `${s.name}/${env}/config.yaml`,
        content: envConfig(s, env),
        mode: "scaffold",
        shared: false,
      },
      {
        path: `${s.name}/${env}/kustomization.yaml`,
        content: envKustomization(s, env),
        mode: "scaffold",
        shared: false,
      },
    );
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
