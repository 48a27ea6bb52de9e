/**
 * Who may write what from the developer repo. Every service's config Kustomization
 * impersonates one ServiceAccount, `flux-system/flux-platform-developer-config`; one
 * RoleBinding grants one ClusterRole for ConfigMaps and Secrets, in the app namespace only, to
 * the accounts of `flux-system`; and one ValidatingAdmissionPolicy, enforced by the API server
 * itself, refuses every write by that account other than to the ConfigMap `<service>-config`
 * and Secret `<service>-secrets` in the app namespace of the service whose Kustomization makes it.
 *
 * Which service makes a write is read from the object, not from the account: kustomize-
 * controller labels every object it applies with its Kustomization,
 * `kustomize.toolkit.fluxcd.io/name: config-<service>` and `.../namespace: flux-system`,
 * overwriting whatever the developer repo wrote there (kustomize-controller v1.9.4
 * `reconcile`: `resourceManager.SetOwnerLabels` before every apply, so a prune finds them on
 * the stored object). So a team
 * cannot write as another: the name it may write follows from the Kustomization that applies
 * it, which the platform owns.
 *
 * One account for all services, not one per service (issue 22): an account per service named
 * the service in the request, but was one more Pulumi resource per service (300 at 300
 * services, a quarter of the stack and of its state's checkpoints) and had to outlive its
 * Kustomization on removal so Flux could still prune as it. The one account exists from the
 * platform's first up to its last. One policy for all services too: adding or removing a
 * service changes no policy, and no service is ever left without one while its objects are
 * created or deleted. It needs no parameter objects and no controller:
 * `admissionregistration.k8s.io/v1`, GA since Kubernetes 1.30.
 */
import { LABELS, type K8sObject } from "../objects";
import type { PlatformConfig } from "../config";
import {
  CONFIG_ACCOUNT,
  FLUX_NAMESPACE,
  configKustomizationName,
  configMapName,
  secretsName,
} from "../names";

export const CONFIG_POLICY = "flux-platform-developer-config";
/** The user name kustomize-controller applies a service's developer config as. */
export const CONFIG_USER = `system:serviceaccount:${FLUX_NAMESPACE}:${CONFIG_ACCOUNT}`;
/**
 * The user names of the per-service accounts (`config-<service>`) of stacks made before the
 * one account: the policy holds them to the same rule during the up that replaces them,
 * while a Kustomization not yet updated may still apply as one.
 */
export const LEGACY_CONFIG_USER_PREFIX = `system:serviceaccount:${FLUX_NAMESPACE}:${configKustomizationName("")}`;
/** The label kustomize-controller sets on every object to the Kustomization that applies it. */
export const OWNER_NAME_LABEL = "kustomize.toolkit.fluxcd.io/name";
export const OWNER_NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace";

/**
 * The ServiceAccount every service's config Kustomization impersonates. Its rights come from
 * the one RoleBinding of `configPolicy`; the policy there keeps each service to its own objects.
 */
export function configAccount(): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: CONFIG_ACCOUNT, namespace: FLUX_NAMESPACE, labels: LABELS },
  };
}

/**
 * The group every ServiceAccount of `flux-system` is in, whether it authenticates with its
 * token or, as kustomize-controller does, is impersonated by name: the API server adds the
 * account's groups to an impersonated `system:serviceaccount:<ns>:<name>` when the request
 * names none (k8s.io/apiserver `endpoints/filters/impersonation`).
 */
export const CONFIG_ACCOUNTS_GROUP = `system:serviceaccounts:${FLUX_NAMESPACE}`;

/**
 * The one RoleBinding of the config account: the shared ClusterRole (below), in the app
 * namespace only, to the group of `flux-system`'s accounts.
 *
 * The group, not the account: a stack made before the one account still has a Kustomization
 * applying as its per-service account until the up that moves it, and that apply keeps its
 * rights. What the group also grants: the other accounts of `flux-system` (Flux's controllers,
 * which already hold cluster-admin, and whatever the platform team runs there) may write
 * ConfigMaps and Secrets in the app namespace. `flux-system` is the platform team's own; no
 * tenant can make an account there (the policy refuses the config account every write outside
 * a service's two objects).
 */
export function configBinding(cfg: PlatformConfig): K8sObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: CONFIG_POLICY, namespace: cfg.appNamespace, labels: LABELS },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: CONFIG_POLICY },
    subjects: [
      { apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: CONFIG_ACCOUNTS_GROUP },
    ],
  };
}

/**
 * What the config account may do, granted only in the app namespace (by `configBinding`):
 * what kustomize-controller needs to apply (server-side apply: get, patch; create for a new
 * object), health-check (get, list, watch) and prune (delete) ConfigMaps and Secrets.
 *
 * One ClusterRole for all services, not a Role per service naming the service's objects:
 * 100 fewer resources at 100 services. What it gives up is a second, RBAC, refusal of an
 * update or delete of another team's object: the policy below refuses those alone now.
 * RBAC limits reads by name only
 * for `get` (a `list`, which kustomize-controller needs, returns every object anyway) and
 * cannot limit `create` by name at all, so the boundary between teams was always the
 * admission policy below: it refuses every write (create, update, patch, delete) but to the
 * applying service's own `<service>-config` and `<service>-secrets`, in the API server itself.
 */
export function configRole(): K8sObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: CONFIG_POLICY, labels: LABELS },
    rules: [
      {
        apiGroups: [""],
        resources: ["configmaps", "secrets"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      },
    ],
  };
}

/**
 * The account, the shared ClusterRole and its RoleBinding, the policy and its binding. The
 * policy matches every write (create, update, delete) of any kind in any namespace made as the
 * config account, and allows only ConfigMap `<service>-config` and Secret `<service>-secrets`
 * in the app namespace, where `<service>` is that of the Kustomization `config-<service>` in
 * `flux-system` that kustomize-controller labelled the object with. Always `Deny`, whatever
 * `policyMode` says: it is the boundary between teams, not a workload rule to audit.
 */
export function configPolicy(cfg: PlatformConfig): K8sObject[] {
  const owner = configKustomizationName("");
  const has = (label: string) => `"${label}" in variables.labels`;
  return [
    configAccount(),
    configRole(),
    configBinding(cfg),
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: CONFIG_POLICY, labels: LABELS },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ["*"],
              apiVersions: ["*"],
              resources: ["*"],
              operations: ["CREATE", "UPDATE", "DELETE"],
              scope: "*",
            },
          ],
        },
        // Only requests made as the config account (or a per-service one of an older stack).
        matchConditions: [
          {
            name: "config-account",
            expression: `request.userInfo.username == "${CONFIG_USER}" || request.userInfo.username.startsWith("${LEGACY_CONFIG_USER_PREFIX}")`,
          },
        ],
        variables: [
          // The object as written, or as it was for a delete (prune), and its labels.
          { name: "applied", expression: `request.operation == "DELETE" ? oldObject : object` },
          {
            name: "labels",
            expression: `has(variables.applied.metadata.labels) ? variables.applied.metadata.labels : {}`,
          },
          // The service whose config Kustomization applies it; empty when none does.
          {
            name: "service",
            expression: `${has(OWNER_NAMESPACE_LABEL)} && variables.labels["${OWNER_NAMESPACE_LABEL}"] == "${FLUX_NAMESPACE}" && ${has(OWNER_NAME_LABEL)} && variables.labels["${OWNER_NAME_LABEL}"].startsWith("${owner}") ? variables.labels["${OWNER_NAME_LABEL}"].substring(${owner.length}) : ""`,
          },
          // The object's name as the request gives it (empty for a create with generateName).
          { name: "target", expression: "request.name" },
        ],
        validations: [
          {
            expression: [
              `variables.service != ""`,
              `request.resource.group == ""`,
              `request.namespace == "${cfg.appNamespace}"`,
              `((request.resource.resource == "configmaps" && variables.target == variables.service + "${configMapName("")}")` +
                ` || (request.resource.resource == "secrets" && variables.target == variables.service + "${secretsName("")}"))`,
            ].join(" && "),
            messageExpression: `(variables.service == "" ? "only a service's ${owner}<service> Kustomization may write as ${CONFIG_ACCOUNT} (label ${OWNER_NAME_LABEL})" : "service " + variables.service + " may write only its own ConfigMap ${cfg.appNamespace}/" + variables.service + "${configMapName("")} and Secret ${cfg.appNamespace}/" + variables.service + "${secretsName("")}") + "; refused: " + request.kind.kind + " " + (request.namespace == "" ? "" : request.namespace + "/") + variables.target`,
            reason: "Forbidden",
          },
        ],
      },
    },
    {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: CONFIG_POLICY, labels: LABELS },
      spec: { policyName: CONFIG_POLICY, validationActions: ["Deny"] },
    },
  ];
}
