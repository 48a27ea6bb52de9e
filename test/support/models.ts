/**
 * Schema validation of rendered objects with maintained typed models: kubernetes-models for
 * core kinds, @kubernetes-models/flux-cd for Flux kinds, @kubernetes-models/kyverno for
 * Kyverno policies, @kubernetes-models/gateway-api for the Gateway API. An object of a kind with no model here is an error, not a pass.
 */
type Model = new (data: never) => { validate(): void };

let MODELS: Record<string, Model> | undefined;

/**
 * Loads the models. The packages are ESM-only with an `import`-only exports map, so they
 * are loaded with `import()`; call this once in a `before()` hook.
 */
export async function loadModels(): Promise<void> {
  const [
    core,
    apps,
    rbac,
    source,
    kustomize,
    helm,
    kyverno,
    gateway,
    notification,
    receiver,
    admission,
    autoscaling,
    policy,
  ] = await Promise.all([
    import("kubernetes-models/v1"),
    import("kubernetes-models/apps/v1"),
    import("kubernetes-models/rbac.authorization.k8s.io/v1"),
    import("@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1"),
    import("@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1"),
    import("@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2"),
    import("@kubernetes-models/kyverno/policies.kyverno.io/v1"),
    import("@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1"),
    import("@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1beta3"),
    import("@kubernetes-models/flux-cd/notification.toolkit.fluxcd.io/v1"),
    import("kubernetes-models/admissionregistration.k8s.io/v1"),
    import("kubernetes-models/autoscaling/v2"),
    import("kubernetes-models/policy/v1"),
  ]);
  MODELS = {
    "v1/ConfigMap": core.ConfigMap,
    "v1/Namespace": core.Namespace,
    "v1/Secret": core.Secret,
    "v1/Service": core.Service,
    "v1/ServiceAccount": core.ServiceAccount,
    "apps/v1/Deployment": apps.Deployment,
    "rbac.authorization.k8s.io/v1/ClusterRole": rbac.ClusterRole,
    "rbac.authorization.k8s.io/v1/Role": rbac.Role,
    "rbac.authorization.k8s.io/v1/RoleBinding": rbac.RoleBinding,
    "source.toolkit.fluxcd.io/v1/GitRepository": source.GitRepository,
    "source.toolkit.fluxcd.io/v1/HelmRepository": source.HelmRepository,
    "kustomize.toolkit.fluxcd.io/v1/Kustomization": kustomize.Kustomization,
    "helm.toolkit.fluxcd.io/v2/HelmRelease": helm.HelmRelease,
    "policies.kyverno.io/v1/ValidatingPolicy": kyverno.ValidatingPolicy,
    "gateway.networking.k8s.io/v1/GatewayClass": gateway.GatewayClass,
    "gateway.networking.k8s.io/v1/Gateway": gateway.Gateway,
    "gateway.networking.k8s.io/v1/HTTPRoute": gateway.HTTPRoute,
    "gateway.networking.k8s.io/v1/ReferenceGrant": gateway.ReferenceGrant,
    "notification.toolkit.fluxcd.io/v1beta3/Provider": notification.Provider,
    "notification.toolkit.fluxcd.io/v1beta3/Alert": notification.Alert,
    "notification.toolkit.fluxcd.io/v1/Receiver": receiver.Receiver,
    "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy":
      admission.ValidatingAdmissionPolicy,
    "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding":
      admission.ValidatingAdmissionPolicyBinding,
    "autoscaling/v2/HorizontalPodAutoscaler": autoscaling.HorizontalPodAutoscaler,
    "policy/v1/PodDisruptionBudget": policy.PodDisruptionBudget,
  } as Record<string, Model>;
}

/** Kinds that live outside namespaces, among those the platform renders. */
export const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ValidatingPolicy",
  "GatewayClass",
  "ClusterRole",
  "ClusterRoleBinding",
  "ValidatingAdmissionPolicy",
  "ValidatingAdmissionPolicyBinding",
]);

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** Validates one object against its model. @throws naming the object and the schema error */
export function validateObject(obj: KubeObject): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  if (!MODELS) throw new Error("call loadModels() first");
  const model = MODELS[key];
  if (!model) throw new Error(`${key} ${obj.metadata?.name}: no schema model for this kind`);
  try {
    new model(obj as never).validate();
  } catch (err) {
    throw new Error(`${key} ${obj.metadata.name}: ${(err as Error).message}`);
  }
}
