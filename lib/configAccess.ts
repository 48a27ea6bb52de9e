/**
 * Who may write what from the developer repo. Each service's config Kustomization
 * impersonates its own ServiceAccount (`flux-system/config-<service>`), whose Role reaches
 * only that service's ConfigMap and Secret; and because RBAC cannot limit `create` by name,
 * one ValidatingAdmissionPolicy, enforced by the API server itself, refuses every write by a
 * config account other than to its own ConfigMap `<service>-config` and Secret
 * `<service>-secrets` in the app namespace.
 *
 * One policy for all services, not one per service: the allowed name is derived from the
 * account that makes the request (`system:serviceaccount:flux-system:config-<service>`),
 * so adding or removing a service changes no policy, and no service is ever left without
 * one while its objects are created or deleted. It needs no parameter objects and no
 * controller: `admissionregistration.k8s.io/v1`, GA since Kubernetes 1.30.
 */
import type { K8sObject } from "./clusterObjects";
import type { PlatformConfig, ServiceConfig } from "./config";
import { FLUX_NAMESPACE, configAccountName, configMapName, secretsName } from "./names";

const LABELS = { "app.kubernetes.io/part-of": "flux-platform" };
export const CONFIG_POLICY = "flux-platform-developer-config";
/** What every config account's user name starts with; the rest is the service's name. */
export const CONFIG_ACCOUNT_PREFIX = `system:serviceaccount:${FLUX_NAMESPACE}:${configAccountName("")}`;

/**
 * The ServiceAccount, Role and RoleBinding of one service's config Kustomization: just what
 * kustomize-controller needs to apply (server-side apply: get, patch; create for a new
 * object), health-check (get, list, watch) and prune (delete) `<service>-config` and
 * `<service>-secrets` (built from the team's encrypted `secrets/` Component).
 * `create` and `list`/`watch` cannot be limited by name in RBAC: the policy below refuses
 * a create of any other object, and listing reads, never writes.
 */
export function configAccount(cfg: PlatformConfig, s: ServiceConfig): K8sObject[] {
  const name = configAccountName(s.name);
  return [
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name, namespace: FLUX_NAMESPACE, labels: LABELS },
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name, namespace: cfg.appNamespace, labels: LABELS },
      rules: [
        {
          apiGroups: [""],
          resources: ["configmaps"],
          resourceNames: [configMapName(s.name)],
          verbs: ["get", "update", "patch", "delete"],
        },
        { apiGroups: [""], resources: ["configmaps"], verbs: ["create", "list", "watch"] },
        {
          apiGroups: [""],
          resources: ["secrets"],
          resourceNames: [secretsName(s.name)],
          verbs: ["get", "update", "patch", "delete"],
        },
        { apiGroups: [""], resources: ["secrets"], verbs: ["create", "list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name, namespace: cfg.appNamespace, labels: LABELS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: FLUX_NAMESPACE }],
    },
  ];
}

/**
 * The policy and its binding. It matches every write (create, update, delete) of any kind
 * in any namespace made by a config account, and allows only ConfigMap `<service>-config`
 * and Secret `<service>-secrets` in the app namespace, where `<service>` is the account's own. Always `Deny`, whatever
 * `policyMode` says: it is the boundary between teams, not a workload rule to audit.
 */
export function configPolicy(cfg: PlatformConfig): K8sObject[] {
  const prefix = CONFIG_ACCOUNT_PREFIX;
  return [
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
