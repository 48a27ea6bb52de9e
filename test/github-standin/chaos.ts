/**
 * Seeded random fault injection ("chaos"): a plan gives each fault kind a share of the
 * matching API requests, and a seeded PRNG (mulberry32) draws once per matching request, in
 * arrival order, which fault it gets, if any. The same seed and the same request sequence
 * give the same faults. server.ts applies them (what each looks like to a client is in
 * README.md, "Fault injection"); this module only decides and counts.
 */
import { HttpError } from "./server";

/** The kinds, in the order their shares are laid out on [0, 1). */
export const FAULT_KINDS = ["error", "secondaryLimit", "dropBefore", "dropAfter", "slow"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultPlan {
  readonly seed: number;
  /** Share (0..1) of the matching requests that get each kind; the sum is at most 1. */
  readonly rates: Readonly<Partial<Record<FaultKind, number>>>;
  /** How long `slow` holds an answer; default 30000. */
  readonly slowMs?: number;
  /** Methods that match (any case); default all. */
  readonly methods?: readonly string[];
  /** Regular expression on the API path (without `/api/v3`); default all. */
  readonly path?: string;
  /** At most this many faults under the plan; then matching requests pass. Default: no limit. */
  readonly limit?: number;
}

/** One injected fault. */
export interface InjectedFault {
  /** Which matching request of this plan it was (1 is the first; every one draws). */
  readonly n: number;
  readonly method: string;
  readonly path: string;
  readonly kind: FaultKind;
  /** What the client got: the status sent, 0 for a dropped connection. */
  status: number;
  /** For `dropAfter`: the status of the answer the request was carried out with. */
  carriedOut?: number;
}

export interface ChaosStats {
  /** The plan in force, or null when chaos is off. */
  readonly plan: FaultPlan | null;
  /** Faults injected under the last plan set, by kind. */
  readonly injected: Record<FaultKind, number>;
  readonly log: InjectedFault[];
}

/** A request's fault: the kind, the status to send (error, secondaryLimit), the hold (slow). */
export interface Decision {
  readonly kind: FaultKind;
  readonly status: number;
  readonly slowMs: number;
  readonly entry: InjectedFault;
}

/** mulberry32: a small, fast 32-bit PRNG, uniform on [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The plan, checked (422 with what is wrong) and with its defaults filled in. */
export function checkPlan(raw: unknown): FaultPlan {
  const bad = (why: string) => new HttpError(422, `fault plan: ${why}`);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("not an object");
  const plan = raw as Record<string, unknown>;
  for (const k of Object.keys(plan)) {
    if (!["seed", "rates", "slowMs", "methods", "path", "limit"].includes(k))
      throw bad(`unknown "${k}"`);
  }
  if (typeof plan.seed !== "number" || !Number.isFinite(plan.seed)) {
    throw bad('"seed" must be a number');
  }
  const rates = plan.rates;
  if (typeof rates !== "object" || rates === null || Array.isArray(rates)) {
    throw bad('"rates" must be an object');
  }
  let sum = 0;
  for (const [k, v] of Object.entries(rates)) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) {
      throw bad(`unknown rate "${k}" (kinds: ${FAULT_KINDS.join(", ")})`);
    }
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) throw bad(`rate "${k}" must be in 0..1`);
    sum += v;
  }
  // A little slack for decimal fractions that do not add up exactly in binary.
  if (sum > 1 + 1e-9) throw bad(`the rates add up to ${sum}, more than 1`);
  const slowMs = plan.slowMs ?? 30_000;
  if (typeof slowMs !== "number" || !(slowMs >= 0) || !Number.isFinite(slowMs)) {
    throw bad('"slowMs" must be a number of milliseconds');
  }
  const methods = plan.methods;
  if (
    methods !== undefined &&
    (!Array.isArray(methods) || !methods.every((m) => typeof m === "string"))
  ) {
    throw bad('"methods" must be a list of strings');
  }
  if (plan.path !== undefined) {
    if (typeof plan.path !== "string") throw bad('"path" must be a regular expression string');
    try {
      new RegExp(plan.path);
    } catch (err) {
      throw bad(`"path": ${(err as Error).message}`);
    }
  }
  const limit = plan.limit;
  if (
    limit !== undefined &&
    !(typeof limit === "number" && Number.isInteger(limit) && limit >= 0)
  ) {
    throw bad('"limit" must be a whole number of faults');
  }
  return {
    seed: plan.seed,
    rates: { ...(rates as Record<FaultKind, number>) },
    slowMs,
    ...(methods !== undefined
      ? { methods: (methods as string[]).map((m) => m.toUpperCase()) }
      : {}),
    ...(plan.path !== undefined ? { path: plan.path } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
}

const SERVER_ERRORS = [500, 502, 503];

/** The chaos of one stand-in: off until a plan is set. */
export class Chaos {
  private plan: FaultPlan | null = null;
  private pathRe: RegExp | undefined;
  private draw: () => number = () => 1;
  private drawn = 0;
  private injected = Chaos.zero();
  private log: InjectedFault[] = [];

  private static zero(): Record<FaultKind, number> {
    return Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  }

  /**
   * A plan starts a new run: the PRNG from its seed, the counts and the log empty. Undefined
   * turns chaos off and keeps the counts and the log of the last run.
   */
  set(raw: unknown): void {
    if (raw === undefined || raw === null) {
      this.plan = null;
      return;
    }
    const plan = checkPlan(raw);
    this.plan = plan;
    this.pathRe = plan.path !== undefined ? new RegExp(plan.path) : undefined;
    this.draw = mulberry32(plan.seed);
    this.drawn = 0;
    this.injected = Chaos.zero();
    this.log = [];
  }

  stats(): ChaosStats {
    return {
      plan: this.plan,
      injected: { ...this.injected },
      log: this.log.map((e) => ({ ...e })),
    };
  }

  /** Draws for a matching API request (and logs the fault it gets); undefined: none. */
  decide(method: string, path: string): Decision | undefined {
    const plan = this.plan;
    if (!plan) return undefined;
    if (plan.methods && !plan.methods.includes(method.toUpperCase())) return undefined;
    if (this.pathRe && !this.pathRe.test(path)) return undefined;
    if (plan.limit !== undefined && this.log.length >= plan.limit) return undefined;
    const n = ++this.drawn;
    const u = this.draw();
    let lo = 0;
    for (const kind of FAULT_KINDS) {
      const rate = plan.rates[kind] ?? 0;
      if (rate > 0 && u < lo + rate) {
        // Where the draw falls inside the kind's share picks the status: one draw a request.
        const f = (u - lo) / rate;
        const status =
          kind === "error"
            ? SERVER_ERRORS[Math.min(2, Math.floor(f * 3))]
            : kind === "secondaryLimit"
              ? f < 0.5
                ? 403
                : 429
              : 0;
        const entry: InjectedFault = { n, method, path, kind, status };
        this.injected[kind]++;
        this.log.push(entry);
        return { kind, status, slowMs: plan.slowMs ?? 30_000, entry };
      }
      lo += rate;
    }
    return undefined;
  }

  /** The fault was applied: what the client got; one stderr line with STANDIN_LOG_FAULTS. */
  applied(d: Decision, status: number, carriedOut?: number): void {
    d.entry.status = status;
    if (carriedOut !== undefined) d.entry.carriedOut = carriedOut;
    const flag = process.env.STANDIN_LOG_FAULTS;
    if (flag && flag !== "0") {
      const { n, kind, method, path } = d.entry;
      const detail = carriedOut !== undefined ? ` (carried out: ${carriedOut})` : "";
      process.stderr.write(
        `standin fault #${n} ${kind} ${method} ${path} -> ${status || "dropped"}${detail}\n`,
      );
    }
  }
}
