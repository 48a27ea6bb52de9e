/**
 * The key table: one entry per config key with the schema of its value, the defaults, and
 * which keys are secrets.
 */
import { z } from "zod";
import { MAX_ENVIRONMENT_NAME, RESERVED_NAMESPACES } from "./platform";
import { nameCollision } from "../names";
import { clusterSchema } from "./cluster";
import {
  componentsSchema,
  DEFAULT_FLUX_COMPONENTS,
  FLUX_DURATION,
  FLUX_INSTALL_MODES,
  infrastructureSchema,
  POLICY_MODES,
} from "./flux";
import {
  GIT_AUTH_MODES,
  githubAppSchema,
  githubRepo,
  gitSshSchema,
  receiverUrlProblem,
  REPO_VISIBILITIES,
} from "./github";
import { codeOwners, servicesSchema } from "./service";
import { DNS_LABEL, dnsLabel, isDomain, MAX_DOMAIN, show, wholeNumber } from "./values";

/**
 * A Flux interval: a duration of at least 10 s. `what` is what would reconcile that often.
 */
function intervalSchema(what: string) {
  return (
    z
      .string()
      .refine((v) => FLUX_DURATION.test(v), {
        error: (i) => `${show(i.input)} is not a Flux duration (e.g. \`30s\`, \`1m\`, \`1h30m\`)`,
      })
      // `0s` is a valid duration but no interval: Flux would reconcile without pause.
      .refine((v) => !FLUX_DURATION.test(v) || /[1-9]/.test(v), {
        error: (i) =>
          `${show(i.input)} is zero; the interval must be at least \`10s\` (e.g. \`1m\`)`,
      })
      .refine((v) => !/[1-9]/.test(v) || !FLUX_DURATION.test(v) || durationMs(v) >= 10_000, {
        error: (i) =>
          `${show(i.input)} is shorter than \`10s\`: ${what} would reconcile that often; use \`1m\` or more (pushes arrive faster through \`webhookReceiverUrl\`)`,
      })
  );
}

/**
 * One entry per config key: the schema for its value and whether Pulumi hands it over as
 * JSON text (structured, numeric and boolean keys).
 */
export const KEYS = {
  environment: {
    schema: z
      .string()
      .refine((v) => DNS_LABEL.test(v) && v.length <= MAX_ENVIRONMENT_NAME, {
        error: (i) =>
          `${show(i.input)} is not an environment name (DNS-1123 label: lowercase a-z, 0-9 and '-', at most ${MAX_ENVIRONMENT_NAME} characters so that \`minikube-<environment>\` stays a label)`,
      })
      .refine((v) => nameCollision("environment", v) === undefined, {
        error: (i) => nameCollision("environment", String(i.input))!,
      }),
    json: false,
  },
  policyMode: { schema: z.enum(POLICY_MODES).default("audit"), json: false },
  platformRepo: { schema: githubRepo.default("flux_platform"), json: false },
  developerRepo: { schema: githubRepo.default("flux_developer"), json: false },
  repoVisibility: { schema: z.enum(REPO_VISIBILITIES).default("private"), json: false },
  adoptRepos: { schema: z.boolean().default(false), json: true },
  fluxVersion: {
    schema: z
      .string()
      .refine((v) => /^2\.\d+\.\d+$/.test(v), {
        error: (i) =>
          `${show(i.input)} is not an exact Flux 2.x version (e.g. \`2.9.5\`; no \`v\`, ranges or \`latest\`)`,
      })
      // Flux v2.9.5 (2026-08-31), the latest release when checked on 2026-11-27.
      .default("2.9.5"),
    json: false,
  },
  fluxComponents: { schema: componentsSchema.default([...DEFAULT_FLUX_COMPONENTS]), json: true },
  fluxInstall: { schema: z.enum(FLUX_INSTALL_MODES).default("operator"), json: false },
  infrastructure: { schema: infrastructureSchema.prefault({}), json: true },
  gitSsh: { schema: gitSshSchema.prefault({}), json: true },
  ingressDomain: {
    schema: z
      .string()
      .refine((v) => isDomain(v), {
        error: (i) =>
          `${show(i.input)} is not a DNS domain (lowercase labels of a-z, 0-9 and '-', each at most 63, joined by '.', at most ${MAX_DOMAIN} in all)`,
      })
      .optional(),
    json: false,
  },
  syncInterval: { schema: intervalSchema("both sources").default("1m"), json: false },
  reconcileInterval: {
    schema: intervalSchema("every service's Kustomizations").default("1h"),
    json: false,
  },
  appNamespace: {
    schema: dnsLabel("namespace name")
      .refine((v) => !RESERVED_NAMESPACES.includes(v), {
        error: (i) => `${show(i.input)} is reserved (not one of ${RESERVED_NAMESPACES.join(", ")})`,
      })
      .default("apps"),
    json: false,
  },
  waitForReady: { schema: z.boolean().default(true), json: true },
  commitStatus: { schema: z.boolean().default(false), json: true },
  webhookReceiverUrl: {
    schema: z
      .string()
      .refine((v) => receiverUrlProblem(v) === undefined, {
        error: (i) => `${show(i.input)} ${receiverUrlProblem(String(i.input))}`,
      })
      .transform((v) => v.replace(/\/+$/, ""))
      .optional(),
    json: false,
  },
  gitAuth: { schema: z.enum(GIT_AUTH_MODES).default("deployKey"), json: false },
  githubApp: { schema: githubAppSchema.optional(), json: true },
  deployKeyGeneration: { schema: wholeNumber(1, 1_000_000).default(1), json: true },
  secretsKeyGeneration: { schema: wholeNumber(1, 1_000_000).default(1), json: true },
  cluster: { schema: clusterSchema.prefault({ provider: "minikube" }), json: true },
  platformOwners: { schema: codeOwners.optional(), json: true },
  services: { schema: servicesSchema, json: true },
} as const;

export type Key = keyof typeof KEYS;

/**
 * The owner the example stack files carry. `npm run render` takes it (it reaches no GitHub);
 * the program refuses it before declaring anything (`placeholderProblem`), so it never
 * reaches GitHub.
 */
export const PLACEHOLDER_OWNER = "your-github-org";

/** Why the program must not run with this config's owner, or undefined. */
export function placeholderProblem(cfg: { owner: string }): string | undefined {
  return cfg.owner === PLACEHOLDER_OWNER
    ? `github:owner: ${show(cfg.owner)} is the example stack's placeholder; set the GitHub user or organisation that owns both repos: \`pulumi config set github:owner <name>\``
    : undefined;
}

/** A Flux duration (`1h30m`, `1.5s`, `250ms`) in milliseconds. */
export function durationMs(v: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of v.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g))
    total += Number(m[1]) * unit[m[2]];
  return total;
}
/**
 * Secret keys: only their presence is checked here; the program reads them as secrets
 * (`pulumi config set --secret`), so their values never enter the validated config.
 */
export const SECRET_KEYS = ["commitStatusToken", "githubAppPrivateKey"];
/**
 * A secret as `npm run render` reads it from the stack file: set (`secure: <ciphertext>`) but
 * not decrypted. The checks count it as present and skip its content, which the program
 * checks under Pulumi, where the engine hands over the decrypted value.
 */
export const ENCRYPTED: unique symbol = Symbol("encrypted secret");
export const CONFIG_KEYS = Object.keys(KEYS) as Key[];

/** Defaults of the keys that have one: checked against `Pulumi.yaml` by a test. */
export function configDefaults(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const r = KEYS[key].schema.safeParse(undefined);
    if (r.success && r.data !== undefined) out[key] = r.data;
  }
  return out;
}
