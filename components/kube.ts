import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { K8sObject } from "../lib/cluster";
import { FIELD_MANAGER, SKIP_AWAIT } from "../lib/names";

/** How long Pulumi waits for a Flux object to report Ready. */
export const FLUX_WAIT = "15m";

/** Options every Kubernetes object of the platform is created with. */
export interface KubeOptions {
  readonly provider: k8s.Provider;
  /** The minikube profile: when it is deleted, its objects go with it and are not deleted one by one. */
  readonly deletedWith?: pulumi.Resource;
  /**
   * `true` on a cluster this stack did not create (kubeconfig): namespaces that already
   * exist (a `flux-system` made by hand, an app namespace of the team's) are adopted with a
   * server-side patch instead of failing with AlreadyExists; destroy leaves them in place.
   */
  readonly adoptNamespaces?: boolean;
}

/**
 * A namespace of the platform: created on a cluster of the stack's own; on an existing
 * cluster created or adopted with a server-side apply patch that takes ownership of the
 * fields it sets (`patchForce`), and left in place on destroy, since it may predate us.
 */
export function namespace(
  name: string,
  metadata: k8s.types.input.meta.v1.ObjectMeta,
  kube: KubeOptions,
  opts: pulumi.CustomResourceOptions,
): pulumi.CustomResource {
  const annotations = { ...metadata.annotations, ...FIELD_MANAGER };
  if (!kube.adoptNamespaces) {
    return new k8s.core.v1.Namespace(name, { metadata: { ...metadata, annotations } }, opts);
  }
  return new k8s.core.v1.NamespacePatch(
    name,
    { metadata: { ...metadata, annotations: { ...annotations, "pulumi.com/patchForce": "true" } } },
    opts,
  );
}

/**
 * A component's own `dependsOn`, for its children: Pulumi does not make a component's
 * children wait for what the component depends on, so each child is given it explicitly.
 */
export function inheritedDependsOn(opts?: pulumi.ResourceOptions): pulumi.Input<pulumi.Resource>[] {
  const d = opts?.dependsOn;
  if (d === undefined) return [];
  return Array.isArray(d) ? d : [d as pulumi.Input<pulumi.Resource>];
}

const skipsAwait = (metadata: K8sObject["metadata"]): boolean =>
  Object.entries(SKIP_AWAIT).every(([k, v]) => metadata.annotations?.[k] === v);

/** Pulumi name of a rendered object inside a component: `<component>-<kind>-<name>`. */
export const objectName = (component: string, obj: K8sObject): string =>
  `${component}-${obj.kind.toLowerCase()}-${obj.metadata.name}`;

/**
 * Creates one rendered object as it is, with the typed resource for core kinds and a
 * CustomResource for Flux kinds. `overrides` replaces top-level fields (key material).
 */
export function kubeObject(
  component: pulumi.ComponentResource,
  componentName: string,
  obj: K8sObject,
  kube: KubeOptions,
  opts: pulumi.CustomResourceOptions = {},
  overrides: Record<string, pulumi.Input<unknown>> = {},
): pulumi.CustomResource {
  const name = objectName(componentName, obj);
  const options: pulumi.CustomResourceOptions = {
    ...opts,
    parent: component,
    provider: kube.provider,
    deletedWith: kube.deletedWith,
  };
  const { apiVersion, kind, metadata: rendered, ...rest } = { ...obj, ...overrides } as K8sObject;
  const metadata = {
    ...rendered,
    annotations: { ...rendered.annotations, ...FIELD_MANAGER },
  };
  switch (`${apiVersion}/${kind}`) {
    case "v1/Namespace":
      return namespace(name, metadata as k8s.types.input.meta.v1.ObjectMeta, kube, options);
    case "v1/ServiceAccount":
      return new k8s.core.v1.ServiceAccount(name, { metadata }, options);
    case "v1/Secret":
      return new k8s.core.v1.Secret(
        name,
        { metadata, ...(rest as k8s.types.input.core.v1.Secret) },
        options,
      );
    case "rbac.authorization.k8s.io/v1/ClusterRole":
      return new k8s.rbac.v1.ClusterRole(
        name,
        { metadata, ...(rest as k8s.types.input.rbac.v1.ClusterRole) },
        options,
      );
    case "rbac.authorization.k8s.io/v1/RoleBinding":
      return new k8s.rbac.v1.RoleBinding(
        name,
        { metadata, ...(rest as unknown as k8s.types.input.rbac.v1.RoleBinding) },
        options,
      );
    case "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy":
      return new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
        name,
        {
          metadata,
          ...(rest as k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicy),
        },
        options,
      );
    case "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding":
      return new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
        name,
        {
          metadata,
          ...(rest as unknown as k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicyBinding),
        },
        options,
      );
    default:
      if (!/(\.(fluxcd|controlplane)\.io|gateway\.networking\.k8s\.io)\//.test(`${apiVersion}/`)) {
        throw new Error(`${name}: no resource type for ${apiVersion}/${kind}`);
      }
      // Flux objects annotated with pulumi.com/waitFor are awaited until Ready: allow for
      // the longest Flux timeout (the infrastructure Kustomization's 10m) plus retries. One
      // the provider never waits for (skipAwait: the services') gets none, which would only
      // be written into the state at every checkpoint.
      return new k8s.apiextensions.CustomResource(
        name,
        { apiVersion, kind, metadata, ...rest },
        skipsAwait(metadata)
          ? options
          : { customTimeouts: { create: FLUX_WAIT, update: FLUX_WAIT }, ...options },
      );
  }
}
