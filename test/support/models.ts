/**
 * Schema validation of rendered objects with maintained typed models: kubernetes-models for
 * core kinds, @kubernetes-models/flux-cd for Flux kinds, @kubernetes-models/kyverno for
 * Kyverno policies. An object of a kind with no model here is an error, not a pass.
 */
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Role, RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { GitRepository, HelmRepository } from "@kubernetes-models/flux-cd/source.toolkit.fluxcd.io/v1";
import { Kustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1";
import { HelmRelease } from "@kubernetes-models/flux-cd/helm.toolkit.fluxcd.io/v2";
import { ClusterPolicy } from "@kubernetes-models/kyverno/kyverno.io/v1";

type Model = new (data: never) => { validate(): void };

const MODELS: Record<string, Model> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "source.toolkit.fluxcd.io/v1/GitRepository": GitRepository,
  "source.toolkit.fluxcd.io/v1/HelmRepository": HelmRepository,
  "kustomize.toolkit.fluxcd.io/v1/Kustomization": Kustomization,
  "helm.toolkit.fluxcd.io/v2/HelmRelease": HelmRelease,
  "kyverno.io/v1/ClusterPolicy": ClusterPolicy,
};

/** Kinds that live outside namespaces, among those the platform renders. */
export const CLUSTER_SCOPED = new Set(["Namespace", "ClusterPolicy", "ClusterRole", "ClusterRoleBinding"]);

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Validates one object against its model. @throws naming the object and the schema error */
export function validateObject(obj: KubeObject): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const model = MODELS[key];
  if (!model) throw new Error(`${key} ${obj.metadata?.name}: no schema model for this kind`);
  try {
    new model(obj as never).validate();
  } catch (err) {
    throw new Error(`${key} ${obj.metadata.name}: ${(err as Error).message}`);
  }
}
