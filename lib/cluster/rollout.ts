/**
 * When a service's Flux Kustomizations count as reconciled, for the wait at the end of
 * `pulumi up` (components/serviceRollout.ts).
 *
 * Why not the Kubernetes provider's own wait (`pulumi.com/waitFor: condition=Ready`) for a
 * service: it waits for Ready=True and nothing else, so a team's broken developer config
 * holds every `pulumi up` that touches its Kustomizations for the whole timeout and then
 * fails the platform team's change (measured: 16.5 minutes, "2 errored", for a change to
 * every service while one was broken). Its `waitFor` cannot say "Ready=True or Ready=False
 * at this generation" (its entries are AND-ed). So service Kustomizations are applied with
 * `skipAwait`, and one wait after all of them reads them all until each is settled:
 *
 * - `ready`: the Ready condition is True for the current generation;
 * - `failed`: Ready is False for the current generation with Flux's reason (BuildFailed,
 *   HealthCheckFailed, ...), or DependencyNotReady on a dependency that failed;
 * - otherwise `pending` (Unknown/progressing, an older generation, not there yet, or waiting
 *   on a dependency that is still pending): waited for, up to a bound.
 *
 * The Ready condition's `observedGeneration` is the generation it speaks of: kustomize-
 * controller sets it on success and failure alike (`status.observedGeneration` only moves
 * on success). The platform's own Kustomizations (infrastructure) keep the provider's wait:
 * their failure fails the up.
 */
import { createHash } from "node:crypto";

/**
 * How long the wait after the services' Kustomizations may take: a service's config
 * Kustomization times out after 2 minutes and its app Kustomization, which waits for it,
 * after 5 more; with the dependency requeue on top, 8 minutes covers one full attempt of
 * each. What is still reconciling then is reported as such, not waited for.
 */
export const ROLLOUT_TIMEOUT_SECONDS = 480;

/** Changes when any of the services' rendered Kustomizations (or the list of them) does. */
export function fingerprint(
  services: readonly { readonly config: unknown; readonly app: unknown }[],
): string {
  const text = JSON.stringify(services.map((s) => [s.config, s.app]));
  return createHash("sha256").update(text).digest("hex");
}

export interface KustomizationStatus {
  metadata: { name: string; generation?: number };
  spec?: { dependsOn?: { name: string; namespace?: string }[] };
  status?: {
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      observedGeneration?: number;
    }[];
  };
}

export interface RolloutVerdict {
  ready: string[];
  /** Name -> `Reason: message` as Flux reports it. */
  failed: Record<string, string>;
  pending: string[];
}

const DEPENDENCY_NOT_READY = "DependencyNotReady";

/** One line: Flux's messages can hold a whole kustomize error with newlines. */
const oneLine = (s: string, max = 300) => {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};

/** The verdict on `names` from the Kustomizations as listed (others are ignored). */
export function rolloutVerdict(
  items: readonly KustomizationStatus[],
  names: readonly string[],
): RolloutVerdict {
  const byName = new Map(items.map((k) => [k.metadata.name, k]));
  const own = new Map<string, "ready" | "failed" | "pending" | "dependency">();
  const failed: Record<string, string> = {};
  for (const name of names) {
    const k = byName.get(name);
    const ready = k?.status?.conditions?.find((c) => c.type === "Ready");
    const current =
      k !== undefined &&
      ready !== undefined &&
      (k.metadata.generation === undefined || ready.observedGeneration === k.metadata.generation);
    if (!current || ready.status === "Unknown") own.set(name, "pending");
    else if (ready.status === "True") own.set(name, "ready");
    else if (ready.reason === DEPENDENCY_NOT_READY) own.set(name, "dependency");
    else {
      own.set(name, "failed");
      failed[name] = oneLine(`${ready.reason ?? "NotReady"}: ${ready.message ?? ""}`);
    }
  }
  // Waiting on a dependency: failed when one of them failed (it cannot get Ready before
  // that one does), else pending.
  for (const name of names) {
    if (own.get(name) !== "dependency") continue;
    const deps = (byName.get(name)?.spec?.dependsOn ?? []).map((d) => d.name);
    const broken = deps.find((d) => failed[d] !== undefined);
    if (broken) failed[name] = `${DEPENDENCY_NOT_READY}: ${broken} is not Ready`;
  }
  return {
    ready: names.filter((n) => own.get(n) === "ready"),
    failed: Object.fromEntries(names.filter((n) => failed[n]).map((n) => [n, failed[n]])),
    pending: names.filter((n) => !failed[n] && own.get(n) !== "ready"),
  };
}

/** Warnings for `pulumi up`'s output: one per failed or pending Kustomization, by service. */
export function rolloutWarnings(
  v: RolloutVerdict,
  serviceOf: (kustomization: string) => string | undefined,
  waitedSeconds: number,
): string[] {
  const who = (k: string) => {
    const s = serviceOf(k);
    return s ? `service ${s}: ${k}` : k;
  };
  return [
    ...Object.entries(v.failed).map(([k, why]) => `${who(k)} is not Ready (${why})`),
    ...v.pending.map(
      (k) =>
        `${who(k)} is still reconciling after ${Math.round(waitedSeconds)}s; see flux get kustomizations`,
    ),
  ];
}
