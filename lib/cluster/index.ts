/**
 * What the stack applies to the cluster besides the Flux install: the app namespace and the
 * admission policy, one credentials Secret and GitRepository per repo (sources.ts), the
 * infrastructure Kustomizations and per service two Kustomizations (kustomizations.ts), the
 * config account and its policy (access.ts), the age-key Secret (secretsKey.ts), and the commit-status
 * and push notifications (notifications.ts); the Flux install itself (fluxInstall.ts); the
 * minikube profile (minikube.ts), where CI can reach it (runners.ts) and how an up waits for
 * the services (rollout.ts). The one entrance to `lib/cluster/`.
 */
import type { PlatformConfig } from "../config";
import { REPO_ROLES, type RepoRole } from "../names";
import type { K8sObject } from "../objects";
import { configPolicy } from "./access";
import {
  appNamespace,
  infrastructureKustomizations,
  serviceKustomizations,
} from "./kustomizations";
import { commitStatusObjects, receiverObjects } from "./notifications";
import { sopsAgeSecret } from "./secretsKey";
import { gitRepository, sourceSecret } from "./sources";

export { LABELS, type K8sObject } from "../objects";
export * from "./access";
export * from "./fluxInstall";
export * from "./kustomizations";
export * from "./minikube";
export * from "./notifications";
export * from "./rollout";
export * from "./runners";
export * from "./secretsKey";
export * from "./sources";

/** The cluster objects grouped as the components create them. */
export interface ClusterObjects {
  /** The app namespace, the config account and the policy that keeps each service to its own. */
  readonly base: readonly K8sObject[];
  readonly sources: Readonly<
    Record<RepoRole, { readonly secret: K8sObject; readonly gitRepository: K8sObject }>
  >;
  /** `infrastructure`, then `infrastructure-policies`. */
  readonly infrastructure: readonly K8sObject[];
  /** `flux-system/sops-age`: the age identities the config Kustomizations decrypt with. */
  readonly secretsKey: K8sObject;
  readonly services: readonly {
    readonly name: string;
    readonly config: K8sObject;
    readonly app: K8sObject;
  }[];
  /** The commit-status Secret, Providers and Alerts (empty without `commitStatus`). */
  readonly notifications: readonly K8sObject[];
  /** The webhook token Secret and a Receiver per repo (empty without `webhookReceiverUrl`). */
  readonly receivers: readonly K8sObject[];
}

export function renderClusterObjects(cfg: PlatformConfig): ClusterObjects {
  const source = (role: RepoRole) => ({
    secret: sourceSecret(cfg, role),
    gitRepository: gitRepository(cfg, role),
  });
  return {
    base: [appNamespace(cfg), ...configPolicy(cfg)],
    sources: { platform: source("platform"), developer: source("developer") },
    infrastructure: infrastructureKustomizations(cfg),
    secretsKey: sopsAgeSecret(cfg),
    services: cfg.services.map((s) => {
      const [config, app] = serviceKustomizations(cfg, s);
      return { name: s.name, config, app };
    }),
    notifications: commitStatusObjects(cfg),
    receivers: receiverObjects(cfg),
  };
}

/** Every object the stack applies besides the Flux install, in apply order. */
export function allClusterObjects(c: ClusterObjects): K8sObject[] {
  return [
    ...c.base,
    ...REPO_ROLES.flatMap((role) => [c.sources[role].secret, c.sources[role].gitRepository]),
    ...c.infrastructure,
    c.secretsKey,
    ...c.services.flatMap((s) => [s.config, s.app]),
    ...c.notifications,
    ...c.receivers,
  ];
}
