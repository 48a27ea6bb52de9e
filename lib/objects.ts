/**
 * The primitives every renderer shares: the type of a Kubernetes object as the renderers
 * write it, and the label on everything the platform applies or commits.
 */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

/** On every object the stack applies. */
export const LABELS = { "app.kubernetes.io/part-of": "flux-platform" };
