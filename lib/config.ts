/**
 * Stack configuration: one schema, one loader.
 *
 * The loader takes raw values keyed by their full Pulumi config key (`github:owner`,
 * `flux-platform:services`, ...). `index.ts` feeds it `pulumi.runtime.allConfig()` (values
 * are strings there, structured ones JSON-encoded); `npm run render` feeds it the `config:`
 * block of `Pulumi.<stack>.yaml` (values already parsed). Every problem is collected and
 * reported at once, each naming the key, the value given and what is allowed.
 */
import * as crypto from "node:crypto";
import { z } from "zod";
import { cpuMillis, memoryBytes } from "./quantity";

export const PROJECT = "flux-platform";

/**
 * Longest environment name: it is a DNS-1123 label the team chooses (`dev`, `staging`,
 * `eu-prd`...), and the longest name derived from it, the default minikube profile
 * `minikube-<environment>`, must itself stay a label (63).
 */
export const MAX_ENVIRONMENT_NAME = 63 - "minikube-".length;

/** Whether Kyverno refuses pods that break a policy (`enforce`) or only reports them (`audit`). */
export const POLICY_MODES = ["enforce", "audit"] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];

/** Flux controllers the Flux Operator can install (names as `flux install --components`). */
export const FLUX_COMPONENTS = [
  "source-controller",
  "kustomize-controller",
  "helm-controller",
  "notification-controller",
  "image-reflector-controller",
  "image-automation-controller",
  "source-watcher",
] as const;
export type FluxComponent = (typeof FLUX_COMPONENTS)[number];
/** The platform cannot work without these: sources are fetched and Kustomizations applied. */
export const REQUIRED_FLUX_COMPONENTS: Readonly<Partial<Record<FluxComponent, string>>> = {
  "source-controller": "which fetches the repos",
  "kustomize-controller": "which applies the Kustomizations",
};

/**
 * How Flux gets onto the cluster: `operator` installs the Flux Operator and one FluxInstance
 * (version and components from the config); `existing` uses a Flux that is already there (a
 * managed add-on, or installed by another team) and installs nothing.
 */
export const FLUX_INSTALL_MODES = ["operator", "existing"] as const;

/** Infrastructure the platform repo installs with Flux; each can be switched off. */
export const INFRASTRUCTURE_COMPONENTS = ["kyverno", "reloader", "gateway"] as const;
export type InfrastructureComponent = (typeof INFRASTRUCTURE_COMPONENTS)[number];

/** GitHub.com's SSH endpoint; GitHub Enterprise Server has its own (`gitSsh`). */
export const GITHUB_SSH = { host: "github.com", port: 22 } as const;
/** What `flux install` installs by default; the infrastructure HelmReleases need helm-controller. */
export const DEFAULT_FLUX_COMPONENTS: readonly FluxComponent[] = [
  "source-controller",
  "kustomize-controller",
  "helm-controller",
  "notification-controller",
];

export const REPO_VISIBILITIES = ["private", "public", "internal"] as const;
export const MINIKUBE_DRIVERS = [
  "docker",
  "podman",
  "kvm2",
  "qemu2",
  "hyperkit",
  "hyperv",
  "virtualbox",
  "vfkit",
  "parallels",
  "vmware",
] as const;

/** Namespaces the platform itself uses; the app namespace must be none of them. */
export const RESERVED_NAMESPACES = [
  "default",
  "flux-system",
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "kyverno",
  "reloader",
];

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
  readonly args?: readonly string[];
  readonly readinessPath?: string;
  readonly livenessPath?: string;
  /** A HorizontalPodAutoscaler (autoscaling/v2) on CPU; the Deployment then has no replicas. */
  readonly autoscaling?: {
    readonly minReplicas?: number;
    readonly maxReplicas: number;
    readonly cpuUtilization: number;
  };
}

export interface MinikubeCluster {
  readonly provider: "minikube";
  readonly profile: string;
  readonly driver: (typeof MINIKUBE_DRIVERS)[number];
  readonly cpus: number;
  /** MiB */
  readonly memory: number;
  readonly kubernetesVersion: string;
}

export interface KubeconfigCluster {
  readonly provider: "kubeconfig";
  readonly context: string;
}

export type ClusterConfig = MinikubeCluster | KubeconfigCluster;

/** Where Flux reads the repositories over SSH. */
export interface GitSshConfig {
  readonly host: string;
  readonly port: number;
  /**
   * The server's host keys (`ssh-ed25519 AAAA...`), without host names. Unset: GitHub's
   * published keys for github.com, or the server's `GET /meta` for any other host.
   */
  readonly knownHosts?: readonly string[];
}

export const GIT_AUTH_MODES = ["deployKey", "githubApp"] as const;

/** A GitHub App installed on the repos' owner: Flux reads with its installation tokens. */
export interface GithubAppConfig {
  /** The App's id (its settings page: "App ID"). */
  readonly appId: number;
  /** The installation on the owner (`https://github.com/settings/installations/<id>`). */
  readonly installationId: number;
}

export interface PlatformConfig {
  readonly owner: string;
  /**
   * GitHub's web address (`https://github.com`, or GitHub Enterprise Server's from
   * `github:baseUrl`): the notification Providers name the repositories by it.
   */
  readonly githubUrl: string;
  /**
   * Flux posts a commit status (success or failure per environment and Kustomization) on
   * the commits it applies, with the secret `commitStatusToken`.
   */
  readonly commitStatus: boolean;
  /**
   * Public base URL of this environment's Flux webhook receiver (no trailing `/`). Set: both
   * repos get a webhook and a push is applied in seconds; unset: Flux polls every
   * `syncInterval`.
   */
  readonly webhookReceiverUrl?: string;
  /**
   * How Flux reads both repos: a read-only deploy key per repo and environment (SSH), or a
   * GitHub App's installation tokens (HTTPS); the App also posts the commit statuses.
   */
  readonly gitAuth: (typeof GIT_AUTH_MODES)[number];
  /** The App (with `gitAuth: githubApp`); its private key is the secret `githubAppPrivateKey`. */
  readonly githubApp?: GithubAppConfig;
  /** GitHub's REST API URL for Flux's App client: unset for github.com, `<GHES>/api/v3`. */
  readonly githubApiUrl?: string;
  /** Names the developer repo folder per service, the deploy keys and the default profile. */
  readonly environment: string;
  readonly policyMode: PolicyMode;
  readonly platformRepo: string;
  readonly developerRepo: string;
  readonly repoVisibility: (typeof REPO_VISIBILITIES)[number];
  readonly adoptRepos: boolean;
  readonly fluxVersion: string;
  readonly fluxComponents: readonly FluxComponent[];
  readonly fluxInstall: (typeof FLUX_INSTALL_MODES)[number];
  /** Which infrastructure components the platform repo installs. */
  readonly infrastructure: Readonly<Record<InfrastructureComponent, boolean>>;
  readonly gitSsh: GitSshConfig;
  /** Services are reached at `<service>.<ingressDomain>`. */
  readonly ingressDomain: string;
  readonly syncInterval: string;
  readonly appNamespace: string;
  readonly waitForReady: boolean;
  /** Bump to rotate both deploy keys of this environment in one `pulumi up`. */
  readonly deployKeyGeneration: number;
  readonly cluster: ClusterConfig;
  /** Sorted by name, so everything derived from it is in a stable order. */
  readonly services: readonly ServiceConfig[];
}

/** Thrown with every problem found; `problems` holds one line each. */
export class ConfigError extends Error {
  constructor(public readonly problems: readonly string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Go duration as Flux's CRDs accept it for `interval`. */
const FLUX_DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const GITHUB_REPO = /^[A-Za-z0-9_.-]{1,100}$/;
/** An image reference without tag or digest: `[registry[:port]/]path`. */
const IMAGE_REPOSITORY =
  /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** GitHub user or organisation login. */
const GITHUB_OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;

const show = (v: unknown): string => {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return `\`${s}\``;
};

/** A whole number in [min, max]; the message names the range once, here. */
const wholeNumber = (min: number, max: number, unit = "") =>
  z.number().refine((v) => Number.isInteger(v) && v >= min && v <= max, {
    error: (i) => `${show(i.input)} is out of range (allowed: whole numbers ${min}-${max}${unit})`,
  });

const dnsLabel = (what: string) =>
  z.string().refine((v) => DNS_LABEL.test(v) && v.length <= 63, {
    error: (i) =>
      `${show(i.input)} is not a ${what} (DNS-1123 label: lowercase a-z, 0-9 and '-', at most 63)`,
  });

const githubRepo = z
  .string()
  .refine(
    (v) => GITHUB_REPO.test(v) && v !== "." && v !== ".." && !v.toLowerCase().endsWith(".git"),
    {
      error: (i) =>
        `${show(i.input)} is not a GitHub repository name (1-100 of A-Z, a-z, 0-9, '-', '_', '.'; not '.', '..' or ending in '.git')`,
    },
  );

const imageTag = z.string().refine((v) => /^[\w][\w.-]{0,127}$/.test(v) && v !== "latest", {
  error: (i) =>
    `${show(i.input)} is not a pinned image tag (an OCI tag such as \`6.15.0\`; \`latest\` is refused)`,
});

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
          message: `${show(value)} is not a plain value (a string, number or boolean); secrets stay out of the stack config and Git: mount them from a Secret the platform team manages`,
        });
      }
    }
  })
  .transform((env) => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)])));

const httpPath = z.string().refine((v) => /^\/[\x21-\x7e]*$/.test(v), {
  error: (i) => `${show(i.input)} is not an HTTP path (starts with \`/\`, no spaces)`,
});

const autoscalingSchema = z.strictObject({
  /** Unset: the service's `replicas`. */
  minReplicas: wholeNumber(1, 100).optional(),
  maxReplicas: wholeNumber(1, 100),
  /** Target average CPU use, in percent of the CPU request. */
  cpuUtilization: wholeNumber(1, 100).default(80),
});

const serviceSchema = z.strictObject({
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
  args: z.array(z.string()).optional(),
  /** HTTP readiness probe on the service's port; unset: TCP, as before. */
  readinessPath: httpPath.optional(),
  /** HTTP liveness probe; unset: none, as before (a failing TCP check is readiness's job). */
  livenessPath: httpPath.optional(),
  autoscaling: autoscalingSchema.optional(),
});

/** The service's settings that need checking together, one issue each. */
const checkedServiceSchema = serviceSchema.superRefine((s, ctx) => {
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

/** The oldest Kubernetes minor the program supports (ValidatingAdmissionPolicy v1 is GA). */
export const MIN_KUBERNETES_MINOR = 30;

const minikubeSchema = z.strictObject({
  provider: z.literal("minikube"),
  profile: dnsLabel("minikube profile").optional(),
  driver: z.enum(MINIKUBE_DRIVERS).default("docker"),
  cpus: wholeNumber(2, 64).default(2),
  memory: wholeNumber(2048, 262144, " MiB").default(4096),
  kubernetesVersion: z
    .string()
    .regex(/^v1\.\d+\.\d+$/, {
      error: (i) => `${show(i.input)} is not an exact Kubernetes version like \`v1.34.0\``,
    })
    // The config accounts' ValidatingAdmissionPolicy is admissionregistration.k8s.io/v1 (1.30).
    .refine((v) => Number(v.split(".")[1]) >= MIN_KUBERNETES_MINOR, {
      error: (i) =>
        `${show(i.input)} is older than Kubernetes v1.${MIN_KUBERNETES_MINOR}.0, the first with ValidatingAdmissionPolicy v1, which keeps each team to its own config`,
    })
    .default("v1.34.0"),
});

const kubeconfigSchema = z.strictObject({
  provider: z.literal("kubeconfig"),
  context: z.string().min(1, { error: "must name a kubeconfig context" }),
});

const clusterSchema = z.discriminatedUnion("provider", [minikubeSchema, kubeconfigSchema], {
  error: (i) =>
    i.code === "invalid_union" && i.note === "No matching discriminator"
      ? `provider ${show((i.input as { provider?: unknown })?.provider)} is unknown (allowed: minikube, kubeconfig)`
      : undefined,
});

const componentsSchema = z.array(z.string()).superRefine((list, ctx) => {
  const allowed: readonly string[] = FLUX_COMPONENTS;
  for (const [index, c] of list.entries()) {
    if (!allowed.includes(c)) {
      ctx.addIssue({
        code: "custom",
        path: [index],
        message: `${show(c)} is not a Flux component (allowed: ${FLUX_COMPONENTS.join(", ")})`,
      });
    }
  }
  for (const [required, why] of Object.entries(REQUIRED_FLUX_COMPONENTS)) {
    if (!list.includes(required)) {
      ctx.addIssue({
        code: "custom",
        message: `${show(list)} lacks \`${required}\`, ${why}`,
      });
    }
  }
  const dupes = list.filter((c, i) => list.indexOf(c) !== i);
  if (dupes.length > 0) {
    ctx.addIssue({ code: "custom", message: `${show(list)} names ${show(dupes[0])} twice` });
  }
});

/** Longest domain: a service's host name `<service>.<domain>` must stay within DNS's 253. */
export const MAX_DOMAIN = 253 - 2;
const isDomain = (v: string): boolean =>
  v.length <= MAX_DOMAIN && v.split(".").every((l) => DNS_LABEL.test(l) && l.length <= 63);

/** A host name (DNS) or an IPv4 address. */
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;
/** One host key as `/meta` and `ssh-keyscan` print it, without the host. */
const HOST_KEY = /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}$/;

const gitSshSchema = z.strictObject({
  host: z
    .string()
    .refine((v) => HOSTNAME.test(v), {
      error: (i) => `${show(i.input)} is not a host name or IPv4 address`,
    })
    .default(GITHUB_SSH.host),
  port: wholeNumber(1, 65535).default(GITHUB_SSH.port),
  knownHosts: z
    .array(
      z.string().refine((v) => HOST_KEY.test(v), {
        error: (i) =>
          `${show(i.input)} is not a host key (\`<type> <base64>\` as GET /meta's \`ssh_keys\` or ssh-keyscan print it, without the host name)`,
      }),
    )
    .min(1, { error: "is empty: list at least one host key, or leave it out" })
    .optional(),
});

/**
 * Why `v` cannot be the receiver's public base URL, or undefined. GitHub must reach it: an
 * absolute http(s) URL, without credentials, query or fragment (the program appends
 * `/hook/<digest>`).
 */
function receiverUrlProblem(v: string): string | undefined {
  const what =
    "is not a public base URL for Flux's webhook receiver (`https://<host>[:port][/path]`, no query, fragment or credentials)";
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return what;
  }
  if (!["http:", "https:"].includes(u.protocol) || u.search || u.hash || u.username || u.password) {
    return what;
  }
  if (v.includes("?") || v.includes("#")) return what;
  return undefined;
}

const githubAppSchema = z.strictObject({
  appId: wholeNumber(1, Number.MAX_SAFE_INTEGER),
  installationId: wholeNumber(1, Number.MAX_SAFE_INTEGER),
});

/**
 * Why `pem` cannot be a GitHub App's private key, or undefined. GitHub Apps sign their JWTs
 * with RS256: the key GitHub generates is a PEM RSA private key. The message never quotes
 * the key.
 */
export function appPrivateKeyProblem(pem: unknown): string | undefined {
  const what =
    "is not a PEM RSA private key (the .pem file GitHub gives under the App's settings > Private keys: `pulumi config set --secret flux-platform:githubAppPrivateKey < app.pem`)";
  if (typeof pem !== "string" || pem.trim() === "") return what;
  try {
    const key = crypto.createPrivateKey({ key: pem, format: "pem" });
    return key.asymmetricKeyType === "rsa" ? undefined : what;
  } catch {
    return what;
  }
}

const infrastructureSchema = z.strictObject(
  Object.fromEntries(
    INFRASTRUCTURE_COMPONENTS.map((c) => [c, z.boolean().default(true)]),
  ) as Record<InfrastructureComponent, z.ZodDefault<z.ZodBoolean>>,
);

const servicesSchema = z.record(z.string(), checkedServiceSchema).superRefine((services, ctx) => {
  if (Object.keys(services).length === 0) {
    ctx.addIssue({
      code: "custom",
      message: "is empty: define at least one service (name: {image, tag, port, replicas})",
    });
  }
});

/**
 * One entry per config key: the schema for its value and whether Pulumi hands it over as
 * JSON text (structured, numeric and boolean keys).
 */
const KEYS = {
  environment: {
    schema: z.string().refine((v) => DNS_LABEL.test(v) && v.length <= MAX_ENVIRONMENT_NAME, {
      error: (i) =>
        `${show(i.input)} is not an environment name (DNS-1123 label: lowercase a-z, 0-9 and '-', at most ${MAX_ENVIRONMENT_NAME} characters so that \`minikube-<environment>\` stays a label)`,
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
  syncInterval: {
    schema: z
      .string()
      .refine((v) => FLUX_DURATION.test(v), {
        error: (i) => `${show(i.input)} is not a Flux duration (e.g. \`30s\`, \`1m\`, \`1h30m\`)`,
      })
      .default("1m"),
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
  cluster: { schema: clusterSchema.prefault({ provider: "minikube" }), json: true },
  services: { schema: servicesSchema, json: true },
} as const;

type Key = keyof typeof KEYS;
/**
 * Secret keys: only their presence is checked here; the program reads them as secrets
 * (`pulumi config set --secret`), so their values never enter the validated config.
 */
export const SECRET_KEYS = ["commitStatusToken", "githubAppPrivateKey"];
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

/** One line per issue: messages written in this file are kept as they are; zod's generic
 * ones (wrong type, not in an enum, unknown key) are rewritten to name the value. */
function formatIssue(prefix: string, issue: z.core.$ZodIssue): string {
  const path = [prefix, ...issue.path.map(String)].join(".");
  if (!/^(Invalid|Unrecognized)/.test(issue.message)) return `${path}: ${issue.message}`;
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return `${path}: is required`;
      const expected = issue.expected === "object" ? "a map" : `a ${issue.expected}`;
      const hint =
        issue.expected === "number" && typeof issue.input === "string"
          ? " (write it without quotes)"
          : "";
      return `${path}: ${show(issue.input)} is not ${expected}${hint}`;
    }
    case "invalid_value":
      return `${path}: ${show(issue.input)} is not allowed (allowed: ${issue.values.map(String).join(", ")})`;
    case "unrecognized_keys": {
      const shapes: Record<string, string> = {
        cluster: `${Object.keys(minikubeSchema.shape).join(", ")} (minikube); ${Object.keys(kubeconfigSchema.shape).join(", ")} (kubeconfig)`,
        infrastructure: INFRASTRUCTURE_COMPONENTS.join(", "),
        gitSsh: Object.keys(gitSshSchema.shape).join(", "),
        githubApp: Object.keys(githubAppSchema.shape).join(", "),
      };
      // Under a service: the keys of the object the unknown key is in.
      const nested: Record<string, string> = {
        resources: "requests, limits",
        requests: "cpu, memory",
        limits: "cpu, memory",
        autoscaling: Object.keys(autoscalingSchema.shape).join(", "),
      };
      const segments = path.split(".");
      const allowed =
        shapes[segments[0]] ??
        (segments[0] === "services" && segments.length > 2
          ? nested[segments[segments.length - 1]]
          : undefined) ??
        Object.keys(serviceSchema.shape).join(", ");
      return issue.keys
        .map((k) => `${path}.${k}: unknown key ${show(k)} (allowed: ${allowed})`)
        .join("\n");
    }
    default:
      return `${path}: ${issue.message}`;
  }
}

/** GitHub's web address for a `github:baseUrl` (its API address, GitHub Enterprise's `/api/v3`). */
export function githubWebUrl(baseUrl: unknown): string {
  const url = typeof baseUrl === "string" ? baseUrl.trim().replace(/\/+$/, "") : "";
  if (url === "" || /^https:\/\/api\.github\.com$/i.test(url)) return "https://github.com";
  return url.replace(/\/api\/v3$/, "");
}

/** Raw config as Pulumi hands it over: `pulumi.runtime.allConfig()`. */
export type RawConfig = Readonly<Record<string, unknown>>;

/**
 * Validates raw stack config and returns the typed platform config.
 * @throws ConfigError listing every problem
 */
export function loadConfig(raw: RawConfig, stack: string): PlatformConfig {
  const problems: string[] = [];
  const values: Partial<Record<Key, unknown>> = {};
  const inputs: Partial<Record<Key, unknown>> = {};

  for (const fullKey of Object.keys(raw).sort()) {
    const [ns, key] = fullKey.includes(":") ? fullKey.split(/:(.*)/s) : [PROJECT, fullKey];
    if (ns === PROJECT && !(key in KEYS) && !SECRET_KEYS.includes(key)) {
      problems.push(`${key}: unknown key (allowed: ${CONFIG_KEYS.join(", ")}, and github:owner)`);
    }
  }

  const owner = raw["github:owner"];
  if (owner === undefined || owner === "") {
    problems.push(
      "github:owner: is required (the GitHub user or organisation that owns both repos; `pulumi config set github:owner <name>`)",
    );
  } else if (typeof owner !== "string" || !GITHUB_OWNER.test(owner)) {
    problems.push(
      `github:owner: ${show(owner)} is not a GitHub user or organisation name (1-39 of A-Z, a-z, 0-9 and inner '-')`,
    );
  }

  for (const key of CONFIG_KEYS) {
    let value = raw[`${PROJECT}:${key}`] ?? raw[key];
    if (key === "environment" && value === undefined) value = stack;
    if (KEYS[key].json && typeof value === "string") {
      try {
        value = JSON.parse(value);
      } catch {
        problems.push(`${key}: ${show(value)} is not valid JSON/YAML for a structured value`);
        continue;
      }
    }
    inputs[key] = value;
    const result = KEYS[key].schema.safeParse(value, { reportInput: true });
    if (result.success) {
      values[key] = result.data;
    } else {
      const fromStack = key === "environment" && raw[`${PROJECT}:environment`] === undefined;
      for (const issue of result.error.issues) {
        const line = formatIssue(key, issue);
        problems.push(
          fromStack ? `${line}; it defaults to the stack name, so set it explicitly` : line,
        );
      }
    }
  }

  const rawServices = inputs.services;
  if (rawServices !== null && typeof rawServices === "object" && !Array.isArray(rawServices)) {
    for (const name of Object.keys(rawServices).sort()) {
      if (!DNS_1035_LABEL.test(name) || name.length > MAX_SERVICE_NAME) {
        problems.push(
          `services.${name}: ${show(name)} is not a valid service name (lowercase a-z, 0-9 and '-', starting with a letter, at most ${MAX_SERVICE_NAME} characters so that \`config-${name}\` stays a valid label value)`,
        );
      }
    }
  }

  const { platformRepo, developerRepo } = values as {
    platformRepo?: string;
    developerRepo?: string;
  };
  if (platformRepo && developerRepo && platformRepo.toLowerCase() === developerRepo.toLowerCase()) {
    problems.push(
      `developerRepo: ${show(developerRepo)} is the same repository as platformRepo; the platform and developer repos must differ`,
    );
  }

  const infrastructure = values.infrastructure as PlatformConfig["infrastructure"] | undefined;
  const components = values.fluxComponents as string[] | undefined;
  if (
    values.fluxInstall === "operator" &&
    infrastructure &&
    components &&
    Object.values(infrastructure).some(Boolean) &&
    !components.includes("helm-controller")
  ) {
    const on = INFRASTRUCTURE_COMPONENTS.filter((c) => infrastructure[c]).join(", ");
    problems.push(
      `fluxComponents: ${show(components)} lacks \`helm-controller\`, which installs the infrastructure's HelmReleases (${on}); add it, or switch them off under \`infrastructure\``,
    );
  }

  // GitHub App mode: every setting is checked here, before anything is created.
  const appMode = values.gitAuth === "githubApp";
  const appKey = raw[`${PROJECT}:githubAppPrivateKey`];
  if (appMode) {
    if (inputs.githubApp === undefined) {
      problems.push(
        "githubApp: is required when `gitAuth` is githubApp ({appId: <App ID>, installationId: <the installation on the repos' owner>})",
      );
    }
    if (appKey === undefined || appKey === "") {
      problems.push(
        "githubAppPrivateKey: is required when `gitAuth` is githubApp (secret: `pulumi config set --secret flux-platform:githubAppPrivateKey < app.pem`)",
      );
    } else {
      const why = appPrivateKeyProblem(appKey);
      if (why) problems.push(`githubAppPrivateKey: ${why}`);
    }
  } else if (inputs.githubApp !== undefined || appKey !== undefined) {
    problems.push(
      `${inputs.githubApp !== undefined ? "githubApp" : "githubAppPrivateKey"}: is set but \`gitAuth\` is ${show(values.gitAuth ?? "deployKey")}; set \`gitAuth: githubApp\` to read the repos with the App, or remove it`,
    );
  }

  const statusToken = raw[`${PROJECT}:commitStatusToken`];
  if (
    values.commitStatus === true &&
    !appMode &&
    (typeof statusToken !== "string" || statusToken === "")
  ) {
    problems.push(
      "commitStatusToken: is required when `commitStatus` is true and `gitAuth` is deployKey (a token that may write commit statuses on both repos: `pulumi config set --secret flux-platform:commitStatusToken <token>`; with `gitAuth: githubApp` the App posts them)",
    );
  }

  const needNotifications = [
    values.commitStatus === true ? "`commitStatus`" : undefined,
    values.webhookReceiverUrl !== undefined ? "`webhookReceiverUrl`" : undefined,
  ].filter(Boolean);
  if (
    components &&
    needNotifications.length > 0 &&
    !components.includes("notification-controller")
  ) {
    problems.push(
      `fluxComponents: ${show(components)} lacks \`notification-controller\`, which ${needNotifications.join(" and ")} need${needNotifications.length > 1 ? "" : "s"}; add it, or turn ${needNotifications.length > 1 ? "them" : "it"} off`,
    );
  }

  // Each service's host name `<service>.<domain>` must fit DNS (253 characters).
  const domain =
    (values.ingressDomain as string | undefined) ??
    (typeof values.environment === "string" ? `${values.environment}.localhost` : undefined);
  const servicesIn = values.services as Record<string, { ingress: boolean }> | undefined;
  if (domain && servicesIn) {
    for (const [name, s] of Object.entries(servicesIn)) {
      const host = `${name}.${domain}`;
      if (s.ingress && host.length > 253) {
        problems.push(
          `services.${name}: its host name \`${host}\` has ${host.length} characters, more than DNS allows (253); shorten \`ingressDomain\` or set \`ingress: false\``,
        );
      }
    }
  }

  if (problems.length > 0) throw new ConfigError(problems.flatMap((p) => p.split("\n")));

  const services = values.services as Record<string, Omit<ServiceConfig, "name">>;
  const githubUrl = githubWebUrl(raw["github:baseUrl"]);
  const environment = values.environment as string;
  const rawCluster = values.cluster as z.infer<typeof clusterSchema>;
  const cluster: ClusterConfig =
    rawCluster.provider === "minikube"
      ? { ...rawCluster, profile: rawCluster.profile ?? `minikube-${environment}` }
      : rawCluster;

  return {
    owner: owner as string,
    githubUrl,
    commitStatus: values.commitStatus as boolean,
    ...(values.webhookReceiverUrl !== undefined
      ? { webhookReceiverUrl: values.webhookReceiverUrl as string }
      : {}),
    gitAuth: values.gitAuth as PlatformConfig["gitAuth"],
    ...(appMode ? { githubApp: values.githubApp as GithubAppConfig } : {}),
    ...(githubUrl !== "https://github.com" ? { githubApiUrl: `${githubUrl}/api/v3` } : {}),
    environment,
    platformRepo: platformRepo as string,
    developerRepo: developerRepo as string,
    policyMode: values.policyMode as PolicyMode,
    repoVisibility: values.repoVisibility as PlatformConfig["repoVisibility"],
    adoptRepos: values.adoptRepos as boolean,
    fluxVersion: values.fluxVersion as string,
    fluxComponents: values.fluxComponents as FluxComponent[],
    fluxInstall: values.fluxInstall as PlatformConfig["fluxInstall"],
    infrastructure: infrastructure as PlatformConfig["infrastructure"],
    gitSsh: values.gitSsh as GitSshConfig,
    // A laptop's default: *.localhost resolves to 127.0.0.1 (minikube tunnel, port-forward).
    ingressDomain: domain as string,
    syncInterval: values.syncInterval as string,
    appNamespace: values.appNamespace as string,
    waitForReady: values.waitForReady as boolean,
    deployKeyGeneration: values.deployKeyGeneration as number,
    cluster,
    services: Object.entries(services)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, s]) => ({ name, ...s })),
  };
}
