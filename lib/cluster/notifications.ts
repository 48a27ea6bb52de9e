/**
 * Flux's notification-controller objects: commit statuses back to GitHub (Providers and
 * Alerts) and push-to-apply (a Receiver per repository that GitHub's webhook calls).
 * Tokens are placeholders here; the program fills them in as secrets.
 */
import * as crypto from "node:crypto";
import { LABELS, type K8sObject } from "../objects";
import { GATEWAY } from "../platformRepo";
import { KEY_PLACEHOLDER, fluxSecret, repoName } from "./sources";
import type { PlatformConfig } from "../config";
import {
  FLUX_NAMESPACE,
  RECEIVER_ROUTE,
  REPO_LABEL,
  REPO_ROLES,
  githubAppSecretName,
  sourceName,
  type RepoRole,
} from "../names";

export const COMMIT_STATUS_SECRET = "commit-status-token";
export const statusProviderName = (role: RepoRole): string => `${sourceName(role)}-status`;

/**
 * Commit statuses (with `commitStatus` on): per repository a notification Provider of type
 * `github`, and an Alert for its services' Kustomizations (by their `REPO_LABEL`), so a
 * commit in the developer repo (config-<service>) and in the platform repo (app-<service>)
 * gets success or failure from each environment. The token is a placeholder here; the program fills it in as a secret.
 */
export function commitStatusObjects(cfg: PlatformConfig): K8sObject[] {
  if (!cfg.commitStatus) return [];
  // With a GitHub App the same credential serves: each Provider uses its repo's App Secret.
  const app = cfg.gitAuth === "githubApp";
  const secret = fluxSecret(COMMIT_STATUS_SECRET, { token: KEY_PLACEHOLDER });
  const providers = REPO_ROLES.map((role): K8sObject => ({
    apiVersion: "notification.toolkit.fluxcd.io/v1beta3",
    kind: "Provider",
    metadata: { name: statusProviderName(role), namespace: FLUX_NAMESPACE, labels: LABELS },
    spec: {
      type: "github",
      address: `${cfg.githubUrl}/${cfg.owner}/${repoName(cfg, role)}`,
      secretRef: { name: app ? githubAppSecretName(role) : COMMIT_STATUS_SECRET },
    },
  }));
  // One Alert per repository for all its services' Kustomizations, selected by their label:
  // two objects whatever the number of services (one per Kustomization made 2 per service).
  const alerts = REPO_ROLES.map((role): K8sObject => ({
    apiVersion: "notification.toolkit.fluxcd.io/v1beta3",
    kind: "Alert",
    metadata: { name: `status-${role}`, namespace: FLUX_NAMESPACE, labels: LABELS },
    spec: {
      providerRef: { name: statusProviderName(role) },
      eventSeverity: "info",
      eventSources: [{ kind: "Kustomization", name: "*", matchLabels: { [REPO_LABEL]: role } }],
    },
  }));
  return app ? [...providers, ...alerts] : [secret, ...providers, ...alerts];
}

export const WEBHOOK_SECRET = "github-webhook-token";
export const receiverName = (role: RepoRole): string => `${sourceName(role)}-push`;

/**
 * Push to apply (with `webhookReceiverUrl` set): per repository a Receiver of type `github`
 * that, on a signed `push` (or GitHub's `ping`), asks Flux to fetch that repository's
 * GitRepository now instead of at its next `syncInterval`. One Receiver per repository, so
 * a push reconciles only the source it changed; both share one webhook token.
 */
export function receiverObjects(cfg: PlatformConfig): K8sObject[] {
  if (cfg.webhookReceiverUrl === undefined) return [];
  const route = receiverRoute(cfg);
  const secret = fluxSecret(WEBHOOK_SECRET, { token: KEY_PLACEHOLDER });
  const receivers = REPO_ROLES.map((role): K8sObject => ({
    apiVersion: "notification.toolkit.fluxcd.io/v1",
    kind: "Receiver",
    metadata: { name: receiverName(role), namespace: FLUX_NAMESPACE, labels: LABELS },
    spec: {
      type: "github",
      events: ["ping", "push"],
      resources: [
        {
          apiVersion: "source.toolkit.fluxcd.io/v1",
          kind: "GitRepository",
          name: sourceName(role),
        },
      ],
      secretRef: { name: WEBHOOK_SECRET },
    },
  }));
  return [secret, ...receivers, ...route];
}

/** notification-controller's Service for its receiver (Flux's own manifests name it so). */
export const RECEIVER_SERVICE = "webhook-receiver";

/**
 * The receiver's host on the environment's Gateway, when the program can expose it there:
 * the Gateway is on and `webhookReceiverUrl` names a host under `ingressDomain` (the
 * listener's `*.<ingressDomain>`) with no path of its own. Otherwise undefined: the team
 * exposes the receiver itself (docs/github.md "Push to apply").
 */
export function receiverRouteHost(cfg: PlatformConfig): string | undefined {
  if (cfg.webhookReceiverUrl === undefined || !cfg.infrastructure.gateway) return undefined;
  const url = new URL(cfg.webhookReceiverUrl);
  if (url.pathname !== "/" || url.port !== "") return undefined;
  return url.hostname.endsWith(`.${cfg.ingressDomain}`) ? url.hostname : undefined;
}

/**
 * An HTTPRoute on the environment's Gateway (in the app namespace, where its listener takes
 * routes from) that sends `/hook/` on the receiver's host to notification-controller's
 * Service, and the ReferenceGrant in flux-system that lets it point there.
 */
function receiverRoute(cfg: PlatformConfig): K8sObject[] {
  const host = receiverRouteHost(cfg);
  if (host === undefined) return [];
  const name = RECEIVER_ROUTE;
  return [
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "HTTPRoute",
      metadata: { name, namespace: cfg.appNamespace, labels: LABELS },
      spec: {
        parentRefs: [{ name: GATEWAY.name, sectionName: GATEWAY.listener }],
        hostnames: [host],
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/hook/" } }],
            backendRefs: [{ name: RECEIVER_SERVICE, namespace: FLUX_NAMESPACE, port: 80 }],
          },
        ],
      },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "ReferenceGrant",
      metadata: { name, namespace: FLUX_NAMESPACE, labels: LABELS },
      spec: {
        from: [
          { group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: cfg.appNamespace },
        ],
        to: [{ group: "", kind: "Service", name: RECEIVER_SERVICE }],
      },
    },
  ];
}

/**
 * The URL GitHub posts a repository's pushes to: notification-controller serves each Receiver
 * at `/hook/` + hex(sha256(token + name + namespace)) (api/v1 `Receiver.GetWebhookPath`), and
 * publishes the same path in the Receiver's `status.webhookPath`.
 */
export function webhookUrl(baseUrl: string, token: string, role: RepoRole): string {
  const digest = crypto
    .createHash("sha256")
    .update(token + receiverName(role) + FLUX_NAMESPACE)
    .digest("hex");
  return `${baseUrl}/hook/${digest}`;
}
