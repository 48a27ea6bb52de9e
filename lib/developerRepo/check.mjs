// The developer repo's pull request check, shipped verbatim into each environment's
// `.flux-platform/checks/<env>/check.mjs` by flux-platform (lib/developerRepo/checks.ts) and
// run by `.github/workflows/config-check-<env>.yaml`. Owned by the platform team: `pulumi up`
// puts it back.
//
// For one `<service>/<env>` folder it builds what Flux's kustomize-controller would build
// (`flux build kustomization config-<service> --dry-run --strict-substitute`, with the
// environment's Kustomization from `config-kustomization.yaml` beside this file, the service's
// name filled in where it says `<service>`) and holds the
// result to the rules the cluster enforces:
//   - the build succeeds: YAML that parses, no `${VAR}` but the ones the platform fills in
//     (kustomize-controller 1.9 substitutes strictly), secrets files encrypted;
//   - it produces the service's own ConfigMap `<service>-config` and Secret `<service>-secrets`
//     and nothing else (the config account's RBAC and admission policy refuse the rest);
//   - the ConfigMap stays within Kubernetes' 1 MiB;
//   - `config.yaml` (the folder's and `<service>/base/`'s) is YAML: the cluster does not
//     refuse a file that is not (kustomize carries it as text into the ConfigMap), but the
//     service that reads it would fail, so the check is stricter here;
//   - `secrets/secrets.yaml` is a SOPS file encrypted to one of this environment's age keys
//     (kustomize-controller holds no other identity; `flux build` does not decrypt, so this is
//     read from the file's `sops` metadata).
//
//   node check.mjs folders <base-commit>   prints `folders=<JSON list>` for $GITHUB_OUTPUT
//   node check.mjs folder <service>/<env>  checks one folder; exit 1 with what to fix
//
// Needs Node 18+ and the `yaml` package (the workflow installs both), `git` and `flux`.
import { execFileSync, spawnSync } from "node:child_process";
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments, parseDocument, stringify } from "yaml";

/** Kubernetes' limit on a ConfigMap's data (the API server refuses more). */
export const MAX_CONFIGMAP_BYTES = 1024 * 1024;

/**
 * The `<service>/<env>` folders a change touches, for this environment's services: a file in
 * `<service>/<env>/` or `<service>/base/` (read by every environment's build). A folder of a
 * service this environment does not have is listed too: its check says so.
 */
export function changedFolders(files, facts) {
  const env = facts.environment;
  const out = new Set();
  for (const f of files) {
    const [service, folder, ...rest] = f.split("/");
    if (rest.length === 0 || service.startsWith(".")) continue;
    if (folder === env) out.add(`${service}/${env}`);
    else if (folder === "base" && facts.services[service]) out.add(`${service}/${env}`);
  }
  return [...out].sort();
}

/** What a build's error means for a developer, from flux's message. */
export function explainBuildError(stderr, facts) {
  const text = stderr.replace(/^\s*✗\s*/gm, "").trim();
  const unset = /variable not set \(strict mode\): "([^"]+)"/.exec(text);
  if (unset) {
    const known = facts.variables.map((v) => `\${${v}}`).join(" and ");
    return `\`\${${unset[1]}}\` is not filled in: the platform fills in only ${known}. Write \`$\${${unset[1]}}\` to keep the text \`\${${unset[1]}}\` as it is, or give the value itself.`;
  }
  if (/sops\.mac/.test(text)) {
    return "secrets/secrets.yaml is not encrypted: encrypt it with `sops --encrypt --in-place <service>/<env>/secrets/secrets.yaml` before you commit (SECRETS.md). If it was ever pushed in clear, change those secrets: the history keeps them.";
  }
  if (
    /MalformedYAMLError|yaml: |YAMLException|could not find expected|did not find expected/i.test(
      text,
    )
  ) {
    return `A file is not valid YAML: ${oneLine(text)}`;
  }
  return `Flux cannot build this folder: ${oneLine(text)}`;
}

const oneLine = (s) => s.replace(/\s+/g, " ").slice(0, 600);

/** The age recipients a SOPS file is encrypted to, or undefined when it is not a SOPS file. */
export function sopsRecipients(text) {
  let doc;
  try {
    doc = parseDocument(text).toJS();
  } catch {
    return undefined;
  }
  const sops = doc && typeof doc === "object" ? doc.sops : undefined;
  if (!sops || typeof sops !== "object" || typeof sops.mac !== "string" || sops.mac === "") {
    return undefined;
  }
  return (Array.isArray(sops.age) ? sops.age : []).map((a) => a && a.recipient).filter(Boolean);
}

/** The bytes of a ConfigMap's data as the API server counts them (values of data and binaryData). */
export function configMapBytes(cm) {
  let n = 0;
  for (const v of Object.values(cm.data ?? {})) n += Buffer.byteLength(String(v), "utf8");
  for (const v of Object.values(cm.binaryData ?? {})) n += Buffer.from(String(v), "base64").length;
  return n;
}

/**
 * The rules for one folder: `build` is flux's result (status, stdout, stderr), `secrets` the
 * text of `<folder>/secrets/secrets.yaml` if there is one. Returns the problems, each a
 * sentence a developer can act on; none when the cluster would apply the folder.
 */
export function checkFolder({ folder, facts, build, secrets, configs = {} }) {
  const [service, env] = folder.split("/");
  const svc = facts.services[service];
  if (env !== facts.environment) return [`${folder} is not in ${facts.environment}.`];
  if (!svc) {
    return [
      `There is no service \`${service}\` in ${env}: the platform team adds services (flux-platform:services in Pulumi.${env}.yaml), then its folder is read.`,
    ];
  }
  const problems = [];
  for (const [file, text] of Object.entries(configs)) {
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
      problems.push(
        `${file} is not valid YAML (${oneLine(doc.errors[0].message)}): the cluster would apply it as it is, and ${service} would fail to read it.`,
      );
    }
  }
  if (secrets !== undefined) {
    const recipients = sopsRecipients(secrets);
    if (recipients === undefined) {
      problems.push(
        `${folder}/secrets/secrets.yaml is not encrypted: encrypt it with \`sops --encrypt --in-place ${folder}/secrets/secrets.yaml\` before you commit (SECRETS.md). If it was ever pushed in clear, change those secrets: the history keeps them.`,
      );
    } else if (!recipients.some((r) => facts.recipients.includes(r))) {
      problems.push(
        `${folder}/secrets/secrets.yaml is encrypted to ${recipients.join(", ") || "no age key"}, not to ${env}'s key (${facts.recipients.at(-1)}): ${env}'s cluster cannot read it. Run \`sops updatekeys ${folder}/secrets/secrets.yaml\` (it takes the key from .sops.yaml), or encrypt it again from the repository root.`,
      );
    }
  }
  if (build.status !== 0) {
    const why = explainBuildError(build.stderr, facts);
    // The clear-text refusal is the same problem as the one read from the file.
    if (!problems.some((p) => p.includes("is not encrypted") && why.includes("is not encrypted"))) {
      problems.push(why);
    }
    return problems;
  }
  let objects;
  try {
    objects = parseAllDocuments(build.stdout)
      .map((d) => d.toJS())
      .filter((o) => o && typeof o === "object");
  } catch (e) {
    return [...problems, `Flux's build output could not be read: ${oneLine(String(e))}`];
  }
  for (const o of objects) {
    const kind = o.kind;
    const name = o.metadata?.name;
    const own =
      (kind === "ConfigMap" && name === svc.configMap) ||
      (kind === "Secret" && name === svc.secret);
    if (!own) {
      problems.push(
        `This folder makes a ${kind} named \`${name}\`: a service's configuration may only make its ConfigMap \`${svc.configMap}\` (from config.yaml) and its Secret \`${svc.secret}\` (from secrets/). Remove it, or ask the platform team.`,
      );
    } else if (kind === "ConfigMap") {
      const bytes = configMapBytes(o);
      if (bytes > facts.maxConfigMapBytes) {
        problems.push(
          `${svc.configMap} holds ${bytes} bytes; Kubernetes takes at most ${facts.maxConfigMapBytes} (1 MiB) in one ConfigMap. Make config.yaml smaller (large data belongs in the image or a volume).`,
        );
      }
    }
  }
  return problems;
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** `facts.json` beside this file; its `recipients` are written comma-separated. */
function loadFacts() {
  const facts = JSON.parse(readFileSync(join(HERE, "facts.json"), "utf8"));
  return { ...facts, recipients: String(facts.recipients).split(",").filter(Boolean) };
}

/** Where the template has the service's name. */
export const SERVICE_PLACEHOLDER = "<service>";

/**
 * One service's config Kustomization from the template: `<service>` replaced in every string
 * of the parsed object, so that a name YAML would read as something else (`123`, `true`)
 * stays a string.
 */
export function configKustomization(template, service) {
  const fill = (v) =>
    typeof v === "string"
      ? v.replaceAll(SERVICE_PLACEHOLDER, service)
      : Array.isArray(v)
        ? v.map(fill)
        : v && typeof v === "object"
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [fill(k), fill(x)]))
          : v;
  return fill(parse(template));
}

/** Runs flux's build of one folder the way kustomize-controller builds it. */
function fluxBuild(folder, facts) {
  const service = folder.split("/")[0];
  const template = readFileSync(join(HERE, "config-kustomization.yaml"), "utf8");
  const dir = mkdtempSync(join(tmpdir(), "config-check-"));
  const file = join(dir, "kustomization.yaml");
  writeFileSync(file, stringify(configKustomization(template, service)));
  try {
    const r = spawnSync(
      "flux",
      [
        "build",
        "kustomization",
        facts.services[service].kustomization,
        "--path",
        folder,
        "--kustomization-file",
        file,
        "--dry-run",
        "--strict-substitute",
        "--namespace",
        facts.namespace,
      ],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    if (r.error) throw r.error;
    return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(argv) {
  const facts = loadFacts();
  const [what, arg] = argv;
  if (what === "folders") {
    const files = execFileSync("git", ["diff", "--name-only", `${arg}...HEAD`], {
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean);
    console.log(`folders=${JSON.stringify(changedFolders(files, facts))}`);
    return 0;
  }
  if (what === "folder") {
    const folder = arg.replace(/\/+$/, "");
    const service = folder.split("/")[0];
    const started = Date.now();
    const secretsFile = join(folder, "secrets", "secrets.yaml");
    const problems = facts.services[service]
      ? checkFolder({
          folder,
          facts,
          build: existsSync(folder)
            ? fluxBuild(folder, facts)
            : { status: 1, stderr: `${folder} does not exist`, stdout: "" },
          secrets: existsSync(secretsFile) ? readFileSync(secretsFile, "utf8") : undefined,
          configs: Object.fromEntries(
            [join(service, "base", "config.yaml"), join(folder, "config.yaml")]
              .filter((f) => existsSync(f))
              .map((f) => [f, readFileSync(f, "utf8")]),
          ),
        })
      : checkFolder({ folder, facts, build: { status: 0, stdout: "", stderr: "" } });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const verdict =
      problems.length === 0
        ? `${folder}: ok, ${facts.environment}'s cluster would apply it (${seconds}s)`
        : `${folder}: ${problems.length} problem(s); ${facts.environment}'s cluster would refuse it and keep the last good configuration (${seconds}s)`;
    for (const p of problems) {
      // A GitHub annotation on the folder, shown on the pull request.
      console.log(`::error file=${folder}/config.yaml,title=${folder}::${p.replace(/\n/g, " ")}`);
    }
    console.log(verdict);
    if (process.env.GITHUB_STEP_SUMMARY) {
      appendFileSync(
        process.env.GITHUB_STEP_SUMMARY,
        `### ${verdict}\n\n${problems.map((p) => `- ${p}`).join("\n")}\n`,
      );
    }
    return problems.length === 0 ? 0 : 1;
  }
  console.error("usage: node check.mjs folders <base-commit> | folder <service>/<env>");
  return 2;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
