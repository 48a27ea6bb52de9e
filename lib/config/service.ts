/**
 * The services (`services`): each one's image and tag, port, replicas, ingress, resources
 * (Kubernetes quantities, checked with `../quantity`), environment, args, HTTP probes and
 * autoscaling, and the checks between them.
 */
import { z } from "zod";
import { cpuMillis, memoryBytes } from "../quantity";
import { show, wholeNumber } from "./values";

/**
 * Longest service name: the Flux Kustomization `config-<name>` is written into the label
 * `kustomize.toolkit.fluxcd.io/name` of every object it applies, and label values stop at 63.
 */
export const MAX_SERVICE_NAME = 63 - "config-".length;

export interface ServiceConfig {
  readonly name: string;
  readonly image: string;
  readonly tag: string;
  readonly port: number;
  readonly replicas: number;
  /** An HTTPRoute `<name>.<ingressDomain>` on the platform's Gateway (with `gateway` on). */
  readonly ingress: boolean;
  /** Kubernetes quantities; a limit is never below its request. */
  readonly resources: {
    readonly requests: { readonly cpu: string; readonly memory: string };
    readonly limits: { readonly cpu?: string; readonly memory: string };
  };
  /** Plain environment variables (values as strings). */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The container's `command` and `args`, as Kubernetes means them: `command` replaces the
   * image's ENTRYPOINT, `args` its CMD. On an image without ENTRYPOINT (podinfo: only
   * `CMD ["./podinfo"]`) `args` alone replace the program itself.
   */
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly readinessPath?: string;
  readonly livenessPath?: string;
  /**
   * The service's Secret (`<name>-secrets`, from the developer repo's encrypted
   * `<name>/<env>/secrets/`) as files in this folder too, one file per name; unset: as
   * environment variables only.
   */
  readonly secretsPath?: string;
  /** A HorizontalPodAutoscaler (autoscaling/v2) on CPU; the Deployment then has no replicas. */
  readonly autoscaling?: {
    readonly minReplicas?: number;
    readonly maxReplicas: number;
    readonly cpuUtilization: number;
  };
  /**
   * Who owns the service's folder in the developer repo (`@user`, `@org/team` or an e-mail,
   * as GitHub's CODEOWNERS takes them): their review is what a change there needs.
   */
  readonly owners?: readonly string[];
}

/**
 * A code owner as GitHub's CODEOWNERS names one: `@user`, `@org/team` or an e-mail address.
 * GitHub's user and organisation names: letters, digits and single hyphens, at most 39.
 */
const CODE_OWNER =
  /^(@[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}(?:\/[A-Za-z0-9][A-Za-z0-9._-]*)?|[^@\s]+@[^@\s]+\.[^@\s]+)$/;

export const codeOwners = z
  .array(
    z.string().refine((v) => CODE_OWNER.test(v), {
      error: (i) =>
        `${show(i.input)} is not a code owner (\`@user\`, \`@org/team\` or an e-mail address, as GitHub's CODEOWNERS takes them)`,
    }),
  )
  .min(1, { error: "is empty (leave it out for no owner)" });

/** An image reference without tag or digest: `[registry[:port]/]path`. */
const IMAGE_REPOSITORY =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

/** A digest as OCI references write it: `sha256:` and 64 hex digits. */
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/**
 * `tag` pins the image: an OCI tag (`6.15.0`), a tag with its digest
 * (`6.15.0@sha256:...`, what `crane digest` or a registry UI gives), or a digest alone
 * (`sha256:...`). `latest` is refused, alone or before a digest.
 */
const imageTag = z.string().refine(
  (v) => {
    const [tag, digest, ...rest] = v.split("@");
    if (rest.length > 0) return false;
    if (digest !== undefined) return TAG.test(tag) && tag !== "latest" && DIGEST.test(digest);
    return DIGEST.test(tag) || (TAG.test(tag) && tag !== "latest");
  },
  {
    error: (i) =>
      `${show(i.input)} is not a pinned image tag (an OCI tag such as \`6.15.0\`, a tag with its digest \`6.15.0@sha256:<64 hex>\`, or a digest \`sha256:<64 hex>\`; \`latest\` is refused)`,
  },
);

/** The image reference a container runs: `image:tag`, `image:tag@sha256:...` or `image@sha256:...`. */
export const imageRef = (s: { image: string; tag: string }): string =>
  DIGEST.test(s.tag) ? `${s.image}@${s.tag}` : `${s.image}:${s.tag}`;

/** A quantity as YAML may hand it over: `1` (a number) or `250m` (a string). */
const quantity = (what: string, example: string, parse: (q: string) => number | undefined) =>
  z.preprocess(
    (v) => (typeof v === "number" ? String(v) : v),
    z.string().refine((v) => parse(v) !== undefined, {
      error: (i) => `${show(i.input)} is not a ${what} quantity (e.g. ${example})`,
    }),
  );
const cpuQuantity = quantity("CPU", "`250m` or `1`", cpuMillis);
const memoryQuantity = quantity("memory", "`128Mi` or `1Gi`", memoryBytes);

/** Today's fixed values, the defaults of `services.<name>.resources`. */
export const DEFAULT_RESOURCES = {
  requests: { cpu: "50m", memory: "64Mi" },
  limits: { memory: "128Mi" },
} as const;

const resourcesSchema = z
  .strictObject({
    requests: z
      .strictObject({
        cpu: cpuQuantity.default(DEFAULT_RESOURCES.requests.cpu),
        memory: memoryQuantity.default(DEFAULT_RESOURCES.requests.memory),
      })
      .prefault({}),
    limits: z
      .strictObject({
        cpu: cpuQuantity.optional(),
        // Always a memory limit: the platform's Kyverno policy requires one.
        memory: memoryQuantity.default(DEFAULT_RESOURCES.limits.memory),
      })
      .prefault({}),
  })
  .superRefine((r, ctx) => {
    for (const [name, parse] of [
      ["cpu", cpuMillis],
      ["memory", memoryBytes],
    ] as const) {
      const limit = r.limits[name];
      const request = r.requests[name];
      if (limit !== undefined && parse(limit)! < parse(request)!) {
        ctx.addIssue({
          code: "custom",
          path: ["limits", name],
          message: `${show(limit)} is below its request ${show(request)} (a limit must be at least the request)`,
        });
      }
    }
  });

/**
 * Names that say a variable holds a credential: a `_`-separated word (`DB_PASSWORD`,
 * `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`) or a known pair (`API_KEY`, `PRIVATE_KEY`).
 */
const CREDENTIAL_WORDS = new Set([
  "PASSWORD",
  "PASSWD",
  "PWD",
  "SECRET",
  "TOKEN",
  "APIKEY",
  "CREDENTIAL",
  "CREDENTIALS",
  "PASSPHRASE",
]);
const CREDENTIAL_PAIRS = /(^|_)(API|ACCESS|PRIVATE|SECRET|SIGNING|ENCRYPTION|CLIENT)_KEY($|_)/;

/** Values that are credentials whatever their name: token formats and key material. */
const CREDENTIAL_VALUES: readonly [RegExp, string][] = [
  [/\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}/, "a GitHub token"],
  [/\bgithub_pat_[A-Za-z0-9_]{20,}/, "a GitHub fine-grained token"],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
  [/\bxox[abprs]-[A-Za-z0-9-]{10,}/, "a Slack token"],
  [/\b(sk|rk)_live_[A-Za-z0-9]{16,}/, "a Stripe key"],
  [/\bAIza[0-9A-Za-z_-]{35}\b/, "a Google API key"],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+/, "a JSON Web Token"],
  [/[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with a password"],
];

/** Where a secret goes instead: the service team's encrypted secrets file (lib/developerRepo/secrets.ts). */
export const SECRETS_HINT =
  "keep it out of the stack config (readable by everyone with the repo): the service's team puts it, encrypted with sops, in the developer repo's <service>/<env>/secrets/secrets.yaml (its SECRETS.md), and the service gets it as the same environment variable";

/** Why `name=value` looks like a credential, or undefined. */
export function credentialProblem(name: string, value: string): string | undefined {
  const upper = name.toUpperCase();
  // A number or boolean under such a name is a setting (`TOKEN_TTL: 3600`), not a secret.
  const plain = /^(-?\d+(\.\d+)?|true|false)$/.test(value);
  const named =
    upper.split("_").some((w) => CREDENTIAL_WORDS.has(w)) || CREDENTIAL_PAIRS.test(upper);
  if (named && !plain) {
    return `${show(name)} names a credential; ${SECRETS_HINT}`;
  }
  const found = CREDENTIAL_VALUES.find(([re]) => re.test(value));
  // The value is never quoted: it may be a real secret.
  return found && `the value of ${show(name)} looks like ${found[1]}; ${SECRETS_HINT}`;
}

/** Set by the platform on every container; a service may not set them itself. */
export const PLATFORM_ENV = ["SERVICE_NAME", "ENV", "CONFIG_DIR"];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const envSchema = z
  .record(z.string(), z.unknown())
  .superRefine((env, ctx) => {
    for (const [name, value] of Object.entries(env)) {
      if (!ENV_NAME.test(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `${show(name)} is not an environment variable name (letters, digits and '_', not starting with a digit)`,
        });
      } else if (PLATFORM_ENV.includes(name)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `${show(name)} is set by the platform (${PLATFORM_ENV.join(", ")}); choose another name`,
        });
      }
      if (!["string", "number", "boolean"].includes(typeof value)) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `${show(value)} is not a plain value (a string, number or boolean); a secret goes, encrypted, in the developer repo's <service>/<env>/secrets/secrets.yaml (its SECRETS.md)`,
        });
      } else {
        const credential = credentialProblem(name, String(value));
        if (credential) ctx.addIssue({ code: "custom", path: [name], message: credential });
      }
    }
  })
  .transform((env) => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])));

const httpPath = z.string().refine((v) => /^\/[\x21-\x7e]*$/.test(v), {
  error: (i) => `${show(i.input)} is not an HTTP path (starts with \`/\`, no spaces)`,
});

export const autoscalingSchema = z.strictObject({
  /** Unset: the service's `replicas`. */
  minReplicas: wholeNumber(1, 100).optional(),
  maxReplicas: wholeNumber(1, 100),
  /** Target average CPU use, in percent of the CPU request. */
  cpuUtilization: wholeNumber(1, 100).default(80),
});

export const serviceSchema = z.strictObject({
  image: z
    .string({
      error: (i) =>
        i.input === undefined
          ? "is required (an image repository such as `ghcr.io/stefanprodan/podinfo`)"
          : `${show(i.input)} is not a string`,
    })
    .refine((v) => IMAGE_REPOSITORY.test(v), {
      error: (i) =>
        `${show(i.input)} is not an image repository without tag (lowercase, e.g. \`ghcr.io/stefanprodan/podinfo\`; put the tag in \`tag\`)`,
    }),
  tag: imageTag,
  port: wholeNumber(1, 65535).default(8080),
  replicas: wholeNumber(0, 100).default(1),
  ingress: z.boolean().default(true),
  resources: resourcesSchema.prefault({}),
  env: envSchema.default({}),
  command: z
    .array(z.string())
    .min(1, { error: "is empty (leave it out to keep the image's ENTRYPOINT)" })
    .optional(),
  args: z.array(z.string()).optional(),
  /** HTTP readiness probe on the service's port; unset: TCP, as before. */
  readinessPath: httpPath.optional(),
  /** HTTP liveness probe; unset: none, as before (a failing TCP check is readiness's job). */
  livenessPath: httpPath.optional(),
  secretsPath: z
    .string()
    .refine((v) => /^\/[\w.-]+(\/[\w.-]+)*$/.test(v) && !/(^|\/)\.\.?(\/|$)/.test(v), {
      error: (i) =>
        `${show(i.input)} is not an absolute folder path (e.g. \`/etc/secrets\`; letters, digits, \`.\`, \`_\`, \`-\`)`,
    })
    .refine((v) => v !== "/etc/config" && !v.startsWith("/etc/config/"), {
      error: (i) => `${show(i.input)} is inside /etc/config, where the service's config is mounted`,
    })
    .optional(),
  autoscaling: autoscalingSchema.optional(),
  owners: codeOwners.optional(),
});

/**
 * Images whose Dockerfile has no ENTRYPOINT, with their CMD: `args` alone would replace the
 * program (checked against the image's Dockerfile: podinfo's ends in `CMD ["./podinfo"]`).
 */
export const IMAGES_WITHOUT_ENTRYPOINT: Readonly<Record<string, readonly string[]>> = {
  "ghcr.io/stefanprodan/podinfo": ["./podinfo"],
  "stefanprodan/podinfo": ["./podinfo"],
};

/** The service's settings that need checking together, one issue each. */
const checkedServiceSchema = serviceSchema.superRefine((s, ctx) => {
  const cmd = IMAGES_WITHOUT_ENTRYPOINT[s.image];
  if (cmd && s.args && !s.command) {
    ctx.addIssue({
      code: "custom",
      path: ["args"],
      message: `${show(s.args)} would replace the program: ${s.image} has no ENTRYPOINT (its CMD is ${show(cmd)}), so the container would run ${show(s.args[0])}; set \`command: ${JSON.stringify(cmd)}\` as well${s.image.endsWith("podinfo") ? ", or use podinfo's PODINFO_* env (e.g. PODINFO_LEVEL: debug)" : ""}`,
    });
  }
  const a = s.autoscaling;
  if (!a) return;
  if (s.replicas === 0 && a.minReplicas === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["replicas"],
      message:
        "`0` cannot start an autoscaled service (the HorizontalPodAutoscaler's minReplicas defaults to replicas); set replicas or autoscaling.minReplicas to 1 or more",
    });
  }
  const min = a.minReplicas ?? s.replicas;
  if (min >= 1 && a.maxReplicas < min) {
    ctx.addIssue({
      code: "custom",
      path: ["autoscaling", "maxReplicas"],
      message: `${show(a.maxReplicas)} is below minReplicas ${show(min)}${a.minReplicas === undefined ? " (from replicas)" : ""}`,
    });
  }
});

export const servicesSchema = z
  .record(z.string(), checkedServiceSchema)
  .superRefine((services, ctx) => {
    if (Object.keys(services).length === 0) {
      ctx.addIssue({
        code: "custom",
        message: "is empty: define at least one service (name: {image, tag, port, replicas})",
      });
    }
  });
