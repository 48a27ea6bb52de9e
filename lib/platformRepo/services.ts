/**
 * The platform repo's per-service files (`apps/<service>/`): each service's folder builds on
 * the generic `apps/base` (plus the route component where the service is routed) and holds
 * what the service's stack config changes, the Flux way, so a reviewer reads a service's
 * differences in its own folder:
 *
 * - `deployment-patch.yaml`: a strategic merge patch with only the settings the service
 *   changes (resources, env, args, HTTP probes, the secrets folder; no `replicas` when
 *   autoscaled);
 * - `hpa.yaml`: a HorizontalPodAutoscaler (`autoscaling/v2`, CPU) with `autoscaling`;
 * - `pdb.yaml`: a PodDisruptionBudget when the service runs at least two pods.
 *
 * The folder is per environment, so values are written as they are, not as variables.
 */
import { DEFAULT_RESOURCES, type PlatformConfig, type ServiceConfig } from "../config";
import { routed } from "./gateway";
import { APPS_BASE, APPS_COMPONENTS, secretsName } from "../names";
import { yamlFile, type RepoFile } from "../yaml";
import { MANAGED, PART_OF, kustomization } from "./templates";

/**
 * A value from the stack config, written where Flux's post-build substitution reads: a
 * literal `${` becomes `$${`, which Flux turns back into `${` (an unknown `${X}` would
 * otherwise fail the reconcile).
 */
// (A function, not a replacement string: in one, `$$` means a single `$`.)
const literal = (v: string): string => v.replaceAll("${", () => "$${");

/** An HTTP probe on the service's named port. */
const httpProbe = (path: string) => ({
  httpGet: { path: literal(path), port: "http" },
  periodSeconds: 10,
  // The base's TCP check is replaced, not combined with it (one handler per probe).
  tcpSocket: null,
});

/** The smallest number of pods the service runs: the autoscaler's minimum, or replicas. */
export function minimumPods(s: ServiceConfig): number {
  return s.autoscaling ? (s.autoscaling.minReplicas ?? s.replicas) : s.replicas;
}

/** The container fields the service changes from `apps/base`, or undefined for none. */
function containerPatch(s: ServiceConfig): Record<string, unknown> | undefined {
  const c: Record<string, unknown> = {};
  const r = s.resources;
  if (JSON.stringify(r) !== JSON.stringify(DEFAULT_RESOURCES)) {
    c.resources = {
      requests: { ...r.requests },
      limits: { ...(r.limits.cpu ? { cpu: r.limits.cpu } : {}), memory: r.limits.memory },
    };
  }
  if (s.command) c.command = s.command.map(literal);
  if (s.args) c.args = s.args.map(literal);
  const env = Object.entries(s.env);
  // Merged by name with the base's SERVICE_NAME, ENV and CONFIG_DIR.
  if (env.length > 0) c.env = env.map(([name, value]) => ({ name, value: literal(value) }));
  if (s.readinessPath) c.readinessProbe = httpProbe(s.readinessPath);
  if (s.livenessPath) c.livenessProbe = { ...httpProbe(s.livenessPath), tcpSocket: undefined };
  if (s.secretsPath)
    c.volumeMounts = [{ name: "secrets", mountPath: s.secretsPath, readOnly: true }];
  return Object.keys(c).length > 0 ? { name: "app", ...c } : undefined;
}

/** The strategic merge patch of the service's Deployment, or undefined when it has none. */
function deploymentPatch(s: ServiceConfig): object | undefined {
  const container = containerPatch(s);
  if (!container && !s.autoscaling) return undefined;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    // The base's name before substitution.
    metadata: { name: "${SERVICE_NAME}" },
    spec: {
      // Autoscaled: the HorizontalPodAutoscaler owns the count; Flux must not reset it.
      ...(s.autoscaling ? { replicas: null } : {}),
      ...(container
        ? {
            template: {
              spec: {
                containers: [container],
                // Merged by name with the base's `config` volume; optional like the env.
                ...(s.secretsPath
                  ? {
                      volumes: [
                        {
                          name: "secrets",
                          secret: { secretName: secretsName(s.name), optional: true },
                        },
                      ],
                    }
                  : {}),
              },
            },
          }
        : {}),
    },
  };
}

function hpa(s: ServiceConfig): object {
  const a = s.autoscaling!;
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: "${SERVICE_NAME}", labels: PART_OF },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "${SERVICE_NAME}" },
      minReplicas: minimumPods(s),
      maxReplicas: a.maxReplicas,
      metrics: [
        {
          type: "Resource",
          resource: {
            name: "cpu",
            target: { type: "Utilization", averageUtilization: a.cpuUtilization },
          },
        },
      ],
    },
  };
}

function pdb(): object {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: "${SERVICE_NAME}", labels: PART_OF },
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: { "app.kubernetes.io/name": "${SERVICE_NAME}" } },
    },
  };
}

/** The files of one service's folder, paths relative to the environment's folder. */
export function serviceFiles(cfg: PlatformConfig, s: ServiceConfig): RepoFile[] {
  const dir = `apps/${s.name}`;
  const file = (name: string, header: string, doc: object): RepoFile => ({
    path: `${dir}/${name}`,
    content: yamlFile([...MANAGED, "", header], doc),
    mode: "sync",
    shared: false,
  });
  const patch = deploymentPatch(s);
  const extra: RepoFile[] = [
    ...(patch
      ? [
          file(
            "deployment-patch.yaml",
            `${s.name}'s settings from the stack config (services.${s.name}): only what differs from apps/base.`,
            patch,
          ),
        ]
      : []),
    ...(s.autoscaling
      ? [
          file(
            "hpa.yaml",
            `${s.name} scales on CPU between ${minimumPods(s)} and ${s.autoscaling.maxReplicas} pods.`,
            hpa(s),
          ),
        ]
      : []),
    ...(minimumPods(s) >= 2
      ? [file("pdb.yaml", `A node drain takes at most one of ${s.name}'s pods at a time.`, pdb())]
      : []),
  ];
  const resources = [
    `../${APPS_BASE}`,
    ...extra
      .filter((f) => !f.path.endsWith("-patch.yaml"))
      .map((f) => f.path.slice(dir.length + 1)),
  ];
  return [
    {
      path: `${dir}/kustomization.yaml`,
      content: yamlFile(
        [
          ...MANAGED,
          "",
          `${s.name}: the generic base plus ${s.name}'s own settings (lib/platformRepo/services.ts).`,
        ],
        kustomization(resources, {
          ...(routed(cfg, s) ? { components: [`../${APPS_COMPONENTS}/route`] } : {}),
          ...(patch ? { patches: [{ path: "deployment-patch.yaml" }] } : {}),
        }),
      ),
      mode: "sync",
      shared: false,
    },
    ...extra,
  ];
}
