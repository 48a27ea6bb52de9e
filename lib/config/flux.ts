/**
 * Flux and the infrastructure it installs: the Flux controllers (`fluxComponents`), how Flux
 * gets onto the cluster (`fluxInstall`), the infrastructure components (`infrastructure`),
 * Kyverno's policy mode (`policyMode`) and Flux's duration format (`syncInterval`).
 */
import { z } from "zod";
import { show } from "./values";

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

/** What `flux install` installs by default; the infrastructure HelmReleases need helm-controller. */
export const DEFAULT_FLUX_COMPONENTS: readonly FluxComponent[] = [
  "source-controller",
  "kustomize-controller",
  "helm-controller",
  "notification-controller",
];

/** Go duration as Flux's CRDs accept it for `interval`. */
export const FLUX_DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;

export const componentsSchema = z.array(z.string()).superRefine((list, ctx) => {
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

export const infrastructureSchema = z.strictObject(
  Object.fromEntries(
    INFRASTRUCTURE_COMPONENTS.map((c) => [c, z.boolean().default(true)]),
  ) as Record<InfrastructureComponent, z.ZodDefault<z.ZodBoolean>>,
);
