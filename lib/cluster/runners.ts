/**
 * Where CI may run `pulumi preview` and `pulumi up` for a stack. A minikube profile lives on
 * one machine and dies with a GitHub-hosted runner while its state persists, so minikube
 * stacks run only on a self-hosted runner on the machine that runs minikube, registered
 * with the label below; kubeconfig stacks (EKS, GKE, AKS) run on GitHub-hosted runners.
 */
import type { ClusterConfig } from "../config";

/** Label of the self-hosted runner on the machine that runs the minikube profiles. */
export const MINIKUBE_RUNNER_LABEL = "flux-platform-minikube";
export const HOSTED_RUNNER = "ubuntu-latest";

export interface StackRunner {
  readonly stack: string;
  /** `runs-on` for the job. */
  readonly runner: string | readonly string[];
  /** Whether the job must write the KUBECONFIG_DATA secret to ~/.kube/config. */
  readonly kubeconfig: boolean;
}

export function stackRunner(stack: string, cluster: ClusterConfig): StackRunner {
  return cluster.provider === "minikube"
    ? { stack, runner: ["self-hosted", MINIKUBE_RUNNER_LABEL], kubeconfig: false }
    : { stack, runner: HOSTED_RUNNER, kubeconfig: true };
}
