/**
 * The developer repo's secrets wiring: what lets a team keep `NAME: value` pairs for one
 * environment in `<service>/<env>/secrets/secrets.yaml`, encrypted with SOPS to that
 * environment's age key, and get them as the Secret `<service>-secrets`.
 *
 * Why this shape (docs/secrets.md has what kustomize-controller does, read in its source):
 * - The file is a Secret manifest with its values under `stringData`, not a bare map and not a
 *   `secretGenerator` source: kustomize-controller decrypts a generator's YAML source YAML to
 *   YAML, which gives no key per name, while a manifest with `sops` metadata is decrypted after
 *   the build, one Secret key per name.
 * - It sits in a folder (`secrets/`, a kustomize Component), because the only optional source
 *   Flux has is `spec.components` with `ignoreMissingComponents`, which tests for a path: a
 *   service without the folder builds as before, and the Component is added by the
 *   platform-owned Flux Kustomization, so developer repos scaffolded before secrets existed get
 *   it without touching their files.
 * - Flux applies an unencrypted manifest in clear without a word. The shared Component
 *   (`.flux-platform/secrets/`) makes the build fail instead: a replacement whose source is the
 *   Secret's `sops.mac` stops the build when that field is missing, so nothing is applied and
 *   the commit status carries kustomize's reason (`fieldPath \`sops.mac\` is missing`).
 * - `.sops.yaml` is shared by every environment's stack: each keeps only its own block (the
 *   writer's `section` mode), one creation rule per environment folder, so `sops --encrypt
 *   --in-place` needs no flags and a file can be encrypted to its own environment only.
 *   `mac_only_encrypted`: kustomize adds the namespace and annotations to the manifest before
 *   kustomize-controller decrypts it, which would break a MAC over every value.
 */
import type { PlatformConfig } from "../config";
import { SECRETS_COMPONENT, secretsName } from "../names";
import { yamlFile, type RepoFile } from "../yaml";

/** SOPS's configuration, at the repository root (sops looks for it from the working directory up). */
export const SOPS_CONFIG = ".sops.yaml";
/** The file a team keeps its secrets in, inside `<service>/<env>/secrets/`. */
export const SECRETS_FILE = "secrets.yaml";
/** The platform's part of every team's secrets Component: the clear-text refusal. */
export const SECRETS_CHECK = ".flux-platform/secrets";
/** What a team copies to `<service>/<env>/secrets/` to start. */
export const SECRETS_TEMPLATE = ".flux-platform/secrets-template";
/** The developer's guide to secrets. */
export const SECRETS_GUIDE = "SECRETS.md";
/**
 * Written in the rendered `.sops.yaml` where the environment's age recipient goes; the
 * program fills it in from the stack's key (index.ts), `render` leaves it.
 */
export const RECIPIENT_PLACEHOLDER = "<age recipient of this environment: filled in by pulumi up>";

/** Only the values are encrypted: the kind and name stay readable for review and the RBAC. */
const ENCRYPTED_REGEX = "^(data|stringData)$";

/** The path, relative to the repository root, of one environment's secrets file. */
export const secretsPath = (service: string, environment: string): string =>
  `${service}/${environment}/${SECRETS_COMPONENT}/${SECRETS_FILE}`;

/** The `path_regex` of one environment's creation rule: any service's secrets file there. */
export function secretsPathRegex(environment: string): string {
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return `^[^/]+/${esc(environment)}/${esc(SECRETS_COMPONENT)}/${esc(SECRETS_FILE)}$`;
}

/** The marker lines around this environment's block in `.sops.yaml`. */
export const sopsBlockId = (environment: string): string =>
  `flux-platform environment ${environment}`;

/**
 * `.sops.yaml` as this stack writes it when the file is missing; once it exists, only the
 * block between this environment's markers is this stack's (mode `section`).
 */
export function sopsConfig(cfg: PlatformConfig, recipient = RECIPIENT_PLACEHOLDER): string {
  const env = cfg.environment;
  const id = sopsBlockId(env);
  return [
    "# Which key each secrets file is encrypted to. sops reads this file when you run it from",
    "# the repository root or below: `sops --encrypt --in-place <service>/<env>/secrets/secrets.yaml`.",
    "# Written by flux-platform: each environment's stack keeps its own block, between its",
    "# markers, and leaves the rest of the file as it is. Do not edit the blocks.",
    "creation_rules:",
    `  # >>> ${id}`,
    `  # ${env}: <service>/${env}/secrets/secrets.yaml, readable by ${env}'s cluster only.`,
    `  - path_regex: ${secretsPathRegex(env)}`,
    `    encrypted_regex: ${ENCRYPTED_REGEX}`,
    "    mac_only_encrypted: true",
    `    age: ${recipient}`,
    `  # <<< ${id}`,
    "",
  ].join("\n");
}

/** The shared Component every team's `secrets/` includes: refuses a Secret in clear text. */
function secretsCheck(): string {
  return yamlFile(
    [
      "Included by every <service>/<env>/secrets/ folder. Owned by the platform team: `pulumi up`",
      "puts it back. It stops the build of a secrets file that is not encrypted (the error names",
      "`sops.mac`), so nothing of it is applied, and it keeps Flux's ${...} substitution away",
      "from the values.",
    ],
    {
      apiVersion: "kustomize.config.k8s.io/v1alpha1",
      kind: "Component",
      replacements: [
        {
          // Replaces the field with itself: a no-op when it exists, an error when it does not.
          source: { kind: "Secret", fieldPath: "sops.mac" },
          targets: [{ select: { kind: "Secret" }, fieldPaths: ["sops.mac"] }],
        },
      ],
      patches: [
        {
          target: { kind: "Secret" },
          patch: [
            "apiVersion: v1",
            "kind: Secret",
            "metadata:",
            "  name: any",
            "  annotations:",
            "    kustomize.toolkit.fluxcd.io/substitute: disabled",
          ].join("\n"),
        },
      ],
    },
  );
}

function templateKustomization(): string {
  return yamlFile(
    [
      "A service's secrets for one environment. Copy this folder to <service>/<env>/secrets/",
      `and see ${SECRETS_GUIDE}. Leave this file as it is.`,
    ],
    {
      apiVersion: "kustomize.config.k8s.io/v1alpha1",
      kind: "Component",
      resources: [SECRETS_FILE],
      components: [`../../../${SECRETS_CHECK}`],
    },
  );
}

function templateSecrets(): string {
  return yamlFile(
    [
      "Replace SERVICE with your service's name and the example with your NAME: value pairs,",
      `then encrypt before you commit (${SECRETS_GUIDE}):`,
      "  sops --encrypt --in-place <service>/<env>/secrets/secrets.yaml",
      "A file that is not encrypted is refused and nothing of it is applied.",
    ],
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: secretsName("SERVICE") },
      stringData: { EXAMPLE_API_KEY: "change-me" },
    },
  );
}

/**
 * The developer's guide. Shared by every environment's stack, so it names none: each stack
 * writes the same bytes.
 */
function secretsGuide(): string {
  const file = `<service>/<env>/${SECRETS_COMPONENT}/${SECRETS_FILE}`;
  return `# Secrets

A service's passwords and API keys live next to its configuration, encrypted: each
environment has its own key, and only that environment's cluster can read what is encrypted
to it. Your service gets every \`NAME: value\` pair as an environment variable \`NAME\` (and,
if the platform team sets it up for your service, as files in a folder).

## Install sops

[sops](https://github.com/getsops/sops) 3.9 or later: \`brew install sops\`, a release binary
from its GitHub page, or \`go install github.com/getsops/sops/v3/cmd/sops@v3.13.3\`. You need
no key of your own: the environments' public keys are in \`${SOPS_CONFIG}\`.

## Add your first secret

Below, \`<service>\` is your service (e.g. \`beetle\`) and \`<env>\` the environment
(e.g. \`dev\`); run the commands from the repository root.

1. Copy the template folder: \`cp -r ${SECRETS_TEMPLATE} <service>/<env>/secrets\`
2. In \`${file}\`, replace \`SERVICE\` with your service's name and the example pair with
   yours:

   \`\`\`yaml
   apiVersion: v1
   kind: Secret
   metadata:
     name: beetle-secrets
   stringData:
     DATABASE_PASSWORD: the-password
     PAYMENTS_API_KEY: the-key
   \`\`\`

3. Encrypt it: \`sops --encrypt --in-place ${file}\`. The values become \`ENC[...]\`; the
   names and the rest stay readable. sops picks the environment's key from the path.
4. Commit the folder and push. Never commit the file before step 3: Git keeps every
   version, and a value once pushed in clear must be changed where it was issued.

Names are environment variable names (\`A-Z\`, \`0-9\`, \`_\`). A name the platform sets
itself (\`SERVICE_NAME\`, \`ENV\`, \`CONFIG_DIR\`, or one in the platform's stack config)
keeps the platform's value.

## Change or remove a secret

You cannot read the file back: only the environment's cluster holds the key that decrypts
it. To change a value, write the whole file again in clear (from where your team keeps the
values, e.g. a password manager) and encrypt it again as in step 3; leave a name out to
remove it. To remove them all, delete the \`secrets/\` folder. Your pods restart with the
new values soon after Flux applies the commit.

## What is refused

Nothing of a refused commit is applied: the service keeps its last good Secret. The commit
gets a red cross from the environment's \`kustomization/config-<service>\` check, with
Flux's reason (\`build failed\`, \`reconciliation failed\`); the whole message is on the
Kustomization (\`flux get kustomizations config-<service>\`, or ask the platform team).

| You committed | Status | The message contains |
|---|---|---|
| a file that is not encrypted | build failed | \`\`fieldPath \`sops.mac\` is missing for replacement source Secret\`\` |
| a file encrypted for another environment (e.g. copied from \`<service>/prd/\`) | build failed | \`did not match any of the recipients\` (or \`no identity matched\`) |
| a Secret named other than \`<service>-secrets\` | reconciliation failed | \`may write only its own ConfigMap ... and Secret ...\` |

## Who can see what

- **Git** (everyone who can read this repository, and its history forever): the names and
  the ciphertext, never a value.
- **The environment's cluster**: kustomize-controller decrypts with the environment's key
  (the Secret \`flux-system/sops-age\`) and writes the Secret \`<service>-secrets\` in your
  service's namespace. Whoever may read Secrets there (the platform team, your service's
  pods) can read the values.
- **The platform team** holds each environment's key in its Pulumi state, so it can decrypt
  the files. The values themselves never pass through Pulumi.
- **Another environment**: nothing. dev's cluster cannot decrypt prd's files, nor the other
  way round, and each environment reads only its own folders.
`;
}

/** The developer-repo files of the secrets wiring (see the module comment). */
export function developerSecretsFiles(cfg: PlatformConfig): RepoFile[] {
  const shared = (path: string, content: string): RepoFile => ({
    path,
    content,
    mode: "sync",
    shared: true,
  });
  return [
    { path: SOPS_CONFIG, content: sopsConfig(cfg), mode: "section", shared: true },
    shared(SECRETS_GUIDE, secretsGuide()),
    shared(`${SECRETS_CHECK}/kustomization.yaml`, secretsCheck()),
    shared(`${SECRETS_TEMPLATE}/kustomization.yaml`, templateKustomization()),
    shared(`${SECRETS_TEMPLATE}/${SECRETS_FILE}`, templateSecrets()),
  ];
}
