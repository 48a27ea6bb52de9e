/** The age key Secret the developer-config Kustomizations decrypt SOPS files with. */
import type { PlatformConfig } from "../config";
import { SOPS_AGE_SECRET, ageKeyName } from "../names";
import { KEY_PLACEHOLDER, fluxSecret } from "./sources";
import type { K8sObject } from "../objects";

/**
 * The age key generations the `sops-age` Secret keeps: the current one and, after a bump,
 * the one before, so files not yet re-encrypted still decrypt.
 */
export function secretsKeyGenerations(cfg: PlatformConfig): number[] {
  const n = cfg.secretsKeyGeneration;
  return n > 1 ? [n - 1, n] : [n];
}

/** The `sops-age` Secret's data key per kept generation: `<env>-g<N>.agekey`, oldest first. */
export function ageKeyFiles(cfg: PlatformConfig): Record<number, string> {
  return Object.fromEntries(
    secretsKeyGenerations(cfg).map((g) => [g, ageKeyName(cfg.environment, g)]),
  );
}

/**
 * `flux-system/sops-age`: one `<env>-g<N>.agekey` per kept generation, a placeholder here;
 * the program fills in the identities from state (components/secretsKey.ts).
 */
export function sopsAgeSecret(cfg: PlatformConfig): K8sObject {
  return fluxSecret(
    SOPS_AGE_SECRET,
    Object.fromEntries(Object.values(ageKeyFiles(cfg)).map((k) => [k, KEY_PLACEHOLDER])),
  );
}
