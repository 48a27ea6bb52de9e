/**
 * Kubernetes resource quantities for CPU and memory, as a stack config writes them: parsed
 * to numbers only to compare a limit with its request. The forms accepted are the ones
 * Kubernetes documents for these two resources (no exponents, no negative values).
 */
const CPU = /^(\d+(?:\.\d+)?)(m?)$/;
const MEMORY = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Millicores of a CPU quantity (`250m`, `0.5`, `2`), or undefined when it is not one. */
export function cpuMillis(q: string): number | undefined {
  const m = CPU.exec(q);
  if (!m) return undefined;
  const n = Number(m[1]);
  // Kubernetes' finest CPU unit is 1m: `0.0005` is not a usable quantity.
  const millis = m[2] === "m" ? n : n * 1000;
  return Number.isInteger(millis) && millis > 0 ? millis : undefined;
}

/** Bytes of a memory quantity (`128Mi`, `1Gi`, `500M`, `1048576`), or undefined. */
export function memoryBytes(q: string): number | undefined {
  const m = MEMORY.exec(q);
  if (!m) return undefined;
  const bytes = Number(m[1]) * UNITS[m[2] ?? ""];
  return bytes >= 1 ? bytes : undefined;
}
