/**
 * The cluster (`cluster`): a minikube profile the program creates, or an existing cluster
 * reached through a kubeconfig context.
 */
import { z } from "zod";
import { dnsLabel, show, wholeNumber } from "./values";

export const MINIKUBE_DRIVERS = [
  "docker",
  "podman",
  "kvm2",
  "qemu2",
  "hyperkit",
  "hyperv",
  "virtualbox",
  "vfkit",
  "parallels",
  "vmware",
] as const;

export interface MinikubeCluster {
  readonly provider: "minikube";
  readonly profile: string;
  readonly driver: (typeof MINIKUBE_DRIVERS)[number];
  readonly cpus: number;
  /** MiB */
  readonly memory: number;
  readonly kubernetesVersion: string;
}

export interface KubeconfigCluster {
  readonly provider: "kubeconfig";
  readonly context: string;
}

export type ClusterConfig = MinikubeCluster | KubeconfigCluster;

/** The oldest Kubernetes minor the program supports (ValidatingAdmissionPolicy v1 is GA). */
export const MIN_KUBERNETES_MINOR = 30;

export const minikubeSchema = z.strictObject({
  provider: z.literal("minikube"),
  profile: dnsLabel("minikube profile").optional(),
  driver: z.enum(MINIKUBE_DRIVERS).default("docker"),
  cpus: wholeNumber(2, 64).default(2),
  memory: wholeNumber(2048, 262144, " MiB").default(4096),
  kubernetesVersion: z
    .string()
    .regex(/^v1\.\d+\.\d+$/, {
      error: (i) => `${show(i.input)} is not an exact Kubernetes version like \`v1.34.0\``,
    })
    // The config accounts' ValidatingAdmissionPolicy is admissionregistration.k8s.io/v1 (1.30).
    .refine((v) => Number(v.split(".")[1]) >= MIN_KUBERNETES_MINOR, {
      error: (i) =>
        `${show(i.input)} is older than Kubernetes v1.${MIN_KUBERNETES_MINOR}.0, the first with ValidatingAdmissionPolicy v1, which keeps each team to its own config`,
    })
    .default("v1.34.0"),
});

export const kubeconfigSchema = z.strictObject({
  provider: z.literal("kubeconfig"),
  context: z.string().min(1, { error: "must name a kubeconfig context" }),
});

export const clusterSchema = z.discriminatedUnion("provider", [minikubeSchema, kubeconfigSchema], {
  error: (i) =>
    i.code === "invalid_union" && i.note === "No matching discriminator"
      ? `provider ${show((i.input as { provider?: unknown })?.provider)} is unknown (allowed: minikube, kubeconfig)`
      : undefined,
});
