/**
 * The shell scripts the Cluster component hands to `@pulumi/command` for a minikube
 * profile. The profile and its settings come in as environment variables, never spliced
 * into the text, so no value can change what the script does. Tests run these exact
 * scripts against recording doubles of `minikube` and `kubectl`.
 */
import type { MinikubeCluster } from "./config";

/**
 * Create: leave a running profile as it is (a second `pulumi up`, or a profile the user
 * already had); otherwise start it, which also resumes a stopped or half-created profile.
 * `--keep-context` leaves the user's current kube context alone. minikube's own output goes
 * to stderr so nothing of it lands in state.
 */
export const CREATE_SCRIPT = `set -euo pipefail
if minikube status --profile "$PROFILE" >/dev/null 2>&1; then
  echo "minikube profile $PROFILE is already running; leaving it as it is" >&2
else
  minikube start --profile "$PROFILE" --driver "$DRIVER" --cpus "$CPUS" --memory "$MEMORY" \\
    --kubernetes-version "$KUBERNETES_VERSION" --keep-context >&2
fi
`;

/**
 * Update (only `kubernetesVersion` updates in place; every other setting replaces the
 * cluster): `minikube start` on an existing profile upgrades Kubernetes without recreating.
 */
export const UPDATE_SCRIPT = `set -euo pipefail
minikube start --profile "$PROFILE" --driver "$DRIVER" --cpus "$CPUS" --memory "$MEMORY" \\
  --kubernetes-version "$KUBERNETES_VERSION" --keep-context >&2
`;

/** Delete: succeeds when the profile is gone, whether this run or someone else removed it. */
export const DELETE_SCRIPT = `set -euo pipefail
if minikube delete --profile "$PROFILE" >&2; then
  exit 0
fi
if minikube profile list --output json 2>/dev/null | grep -q "\\"Name\\":\\"$PROFILE\\""; then
  echo "minikube could not delete profile $PROFILE" >&2
  exit 1
fi
echo "minikube profile $PROFILE is already gone" >&2
`;

/** The profile's own kubeconfig: its context only, never the user's current one. */
export const KUBECONFIG_SCRIPT = `set -euo pipefail
kubectl config view --minify --flatten --context "$PROFILE"
`;

/** Settings whose change needs a new cluster (minikube cannot resize or re-drive one). */
export function replaceTriggers(c: MinikubeCluster): string[] {
  return [c.profile, c.driver, String(c.cpus), String(c.memory)];
}

export function scriptEnvironment(c: MinikubeCluster): Record<string, string> {
  return {
    PROFILE: c.profile,
    DRIVER: c.driver,
    CPUS: String(c.cpus),
    MEMORY: `${c.memory}mb`,
    KUBERNETES_VERSION: c.kubernetesVersion,
  };
}
