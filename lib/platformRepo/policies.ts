/**
 * The platform repo's Kyverno policies (`infrastructure/policies/`): `POLICIES`, one CEL
 * check each over the app namespace's pods, and `validatingPolicy`, which writes one as a
 * Kyverno ValidatingPolicy. Written only where the stack turns Kyverno on.
 */

export interface Policy {
  name: string;
  title: string;
  message: string;
  /** CEL over the Pod (`object`); true means compliant. */
  expression: string;
}

/**
 * Kyverno ValidatingPolicies (CEL, `policies.kyverno.io/v1`) for the pods of the app
 * namespace. Not `ClusterPolicy`: Kyverno 1.17 deprecated it for removal in 1.20. Whether
 * a violation is denied or only reported comes from `${POLICY_ACTION}` (`Deny` where the stack's policyMode is `enforce`).
 */
export const POLICIES: readonly Policy[] = [
  {
    name: "disallow-latest-tag",
    title: "Pin images to a tag",
    message: "Images in ${APP_NAMESPACE} must name a tag (or digest) other than `latest`.",
    expression:
      "object.spec.containers.all(c, c.image.contains('@sha256:') || " +
      "(c.image.lastIndexOf(':') > c.image.lastIndexOf('/') && !c.image.endsWith(':latest')))",
  },
  {
    name: "require-requests-limits",
    title: "Require resource requests and a memory limit",
    message: "Containers in ${APP_NAMESPACE} must request cpu and memory and limit memory.",
    expression:
      "object.spec.containers.all(c, has(c.resources) && has(c.resources.requests) && " +
      "'cpu' in c.resources.requests && 'memory' in c.resources.requests && " +
      "has(c.resources.limits) && 'memory' in c.resources.limits)",
  },
  {
    name: "disallow-privilege-escalation",
    title: "Disallow privilege escalation",
    message:
      "Containers in ${APP_NAMESPACE} must set securityContext.allowPrivilegeEscalation: false.",
    expression:
      "object.spec.containers.all(c, has(c.securityContext) && " +
      "has(c.securityContext.allowPrivilegeEscalation) && " +
      "c.securityContext.allowPrivilegeEscalation == false)",
  },
];

export function validatingPolicy(p: Policy): object {
  return {
    apiVersion: "policies.kyverno.io/v1",
    kind: "ValidatingPolicy",
    metadata: {
      name: p.name,
      annotations: { "policies.kyverno.io/title": p.title },
    },
    spec: {
      validationActions: ["${POLICY_ACTION}"],
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [""],
            apiVersions: ["v1"],
            operations: ["CREATE", "UPDATE"],
            resources: ["pods"],
          },
        ],
        namespaceSelector: {
          matchLabels: { "kubernetes.io/metadata.name": "${APP_NAMESPACE}" },
        },
      },
      validations: [{ expression: p.expression, message: p.message }],
    },
  };
}
