/**
 * Who may write what from the developer repo. Each service's config Kustomization
 * impersonates its own ServiceAccount (`flux-system/config-<service>`); one RoleBinding grants
 * one ClusterRole for ConfigMaps and Secrets, in the app namespace only, to the accounts of
 * `flux-system`; and one ValidatingAdmissionPolicy, enforced by the API server itself, refuses
 * every write by a config account other than to its own ConfigMap `<service>-config` and
 * Secret `<service>-secrets` in the app namespace.
 *
 * One policy for all services, not one per service: the allowed name is derived from the
 * account that makes the request (`system:serviceaccount:flux-system:config-<service>`),
 * so adding or removing a service changes no policy, and no service is ever left without
 * one while its objects are created or deleted. It needs no parameter objects and no
 * controller: `admissionregistration.k8s.io/v1`, GA since Kubernetes 1.30.
 */
import { LABELS, type K8sObject } from "../objects";
import type { PlatformConfig, ServiceConfig } from "../config";
import { FLUX_NAMESPACE, configAccountName, configMapName, secretsName } from "../names";

export const CONFIG_POLICY = "flux-platform-developer-config";
/** What every config account's user name starts with; the rest is the service's name. */
export const CONFIG_ACCOUNT_PREFIX = `system:serviceaccount:${FLUX_NAMESPACE}:${configAccountName("")}`;

/**
 * The ServiceAccount of one service's config Kustomization: its identity, from which the
 * policy below derives the one ConfigMap and Secret it may write. Its rights come from the one
 * RoleBinding of `configPolicy`, so a service adds one object here, not two.
 */
export function configAccount(s: ServiceConfig): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: configAccountName(s.name), namespace: FLUX_NAMESPACE, labels: LABELS },
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
 * The one RoleBinding of every config account: the shared ClusterRole (below), in the app
 * namespace only, to the group of `flux-system`'s accounts.
 *
 * One binding to the group instead of one per account (issue 22: a resource less per service,
 * 300 fewer at 300 services). A binding that listed the accounts would change with each added
 * or removed service, and on a removal its update would run before the service's Kustomization
 * is deleted, so Flux could no longer prune that service's ConfigMap as its account. What the
 * group also grants: the other accounts of `flux-system` (Flux's controllers, which already
 * hold cluster-admin, and whatever the platform team runs there) may write ConfigMaps and
 * Secrets in the app namespace. `flux-system` is the platform team's own; no tenant can make
 * an account there (the policy refuses a config account every write outside its two objects).
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
 * What every config account may do, granted only in the app namespace (by `configBinding`):
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
 * account's own `<service>-config` and `<service>-secrets`, in the API server itself.
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
 * The shared ClusterRole and its RoleBinding, the policy and its binding. It matches every write (create, update, delete) of any kind
 * in any namespace made by a config account, and allows only ConfigMap `<service>-config`
 * and Secret `<service>-secrets` in the app namespace, where `<service>` is the account's own. Always `Deny`, whatever
 * `policyMode` says: it is the boundary between teams, not a workload rule to audit.
 */
export function configPolicy(cfg: PlatformConfig): K8sObject[] {
  const prefix = CONFIG_ACCOUNT_PREFIX;
  return [
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
        // Only requests made by a service's config account.
        matchConditions: [
          {
            name: "config-account",
            expression: `request.userInfo.username.startsWith("${prefix}")`,
          },
        ],
        variables: [
          {
            name: "service",
            expression: `request.userInfo.username.substring(${prefix.length})`,
          },
          // The object's name as the request gives it (empty for a create with generateName).
          { name: "target", expression: "request.name" },
        ],
        validations: [
          {
            expression: [
              `request.resource.group == ""`,
              `request.namespace == "${cfg.appNamespace}"`,
              `((request.resource.resource == "configmaps" && variables.target == variables.service + "${configMapName("")}")` +
                ` || (request.resource.resource == "secrets" && variables.target == variables.service + "${secretsName("")}"))`,
            ].join(" && "),
            messageExpression: `"service " + variables.service + " may write only its own ConfigMap ${cfg.appNamespace}/" + variables.service + "${configMapName("")} and Secret ${cfg.appNamespace}/" + variables.service + "${secretsName("")}; refused: " + request.kind.kind + " " + (request.namespace == "" ? "" : request.namespace + "/") + variables.target`,
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
