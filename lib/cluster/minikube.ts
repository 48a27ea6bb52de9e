/**
 * The shell scripts the Cluster component hands to `@pulumi/command` for a minikube
 * profile. The profile and its settings come in as environment variables, never spliced
 * into the text, so no value can change what the script does. Tests run these exact
 * scripts against recording doubles of `minikube` and `kubectl`.
 */
import type { MinikubeCluster } from "../config";

/**
 * What the profile Command prints on stdout once its create or update ran: the mark that
 * this stack made (or adopted) the profile. The kubeconfig read gets it back as `CREATED`,
 * so a missing profile is told apart: deleted outside Pulumi, or never created by the stack.
 */
export const CREATED_MARK = "created";

/**
 * minikube's metrics-server addon is off by default, and without it a HorizontalPodAutoscaler
 * never scales (it reads CPU from the metrics API) while Flux still reports the HPA Ready.
 * It is turned on for every profile (a few MiB), so a service can be autoscaled at any time.
 */
const ADDONS = `minikube addons enable metrics-server --profile "$PROFILE" >&2`;

/**
 * Create: leave a running profile as it is (a second `pulumi up`, or a profile the user
 * already had); otherwise start it, which also resumes a stopped or half-created profile.
 * `--keep-context` leaves the user's current kube context alone. minikube's own output goes
 * to stderr: the Command keeps both streams in the state (as `stdout` and `stderr`, in
 * clear), and minikube prints no credential; stdout is only the created mark.
 */
export const CREATE_SCRIPT = `set -euo pipefail
if minikube status --profile "$PROFILE" >/dev/null 2>&1; then
  echo "minikube profile $PROFILE is already running; leaving it as it is" >&2
else
  minikube start --profile "$PROFILE" --driver "$DRIVER" --cpus "$CPUS" --memory "$MEMORY" \\
    --kubernetes-version "$KUBERNETES_VERSION" --keep-context >&2
fi
${ADDONS}
echo ${CREATED_MARK}
`;

/**
 * Update (only `kubernetesVersion` updates in place; every other setting replaces the
 * cluster): `minikube start` on an existing profile upgrades Kubernetes without recreating.
 */
export const UPDATE_SCRIPT = `set -euo pipefail
minikube start --profile "$PROFILE" --driver "$DRIVER" --cpus "$CPUS" --memory "$MEMORY" \\
  --kubernetes-version "$KUBERNETES_VERSION" --keep-context >&2
${ADDONS}
echo ${CREATED_MARK}
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

/**
 * Exit codes of `minikube status`: 0 running; 85 the profile does not exist; anything else
 * (a bit set per stopped host, kubelet, API server: 7 after `minikube stop` or a reboot)
 * means it exists but is not running.
 */
export const MINIKUBE_STATUS_GONE = 85;

/**
 * The profile's own kubeconfig, read on every run once the profile Command is in the state
 * (never in a create preview: the profile does not exist yet). It never starts anything (a
 * preview must not) and never falls back to another cluster. It exits 0 whatever it finds:
 * on a stopped, deleted or never created profile, or a kubectl that prints nothing, stdout
 * is empty and the last stderr line is one `flux-platform:` line saying what to do, which
 * the program raises as the run's only error (a failing script would bury it under the
 * script's text and a stack trace). Only the kubeconfig reaches stdout; the caller keeps it
 * secret.
 */
export const KUBECONFIG_SCRIPT = `set -uo pipefail
status=0
minikube status --profile "$PROFILE" >/dev/null 2>&1 || status=$?
if [ "$status" -eq ${MINIKUBE_STATUS_GONE} ] && [ "\${CREATED:-}" = ${CREATED_MARK} ]; then
  echo "flux-platform: minikube profile $PROFILE was deleted outside Pulumi, and stack $STACK still holds what was in it; create it again with: minikube start -p $PROFILE --driver $DRIVER --cpus $CPUS --memory $MEMORY --kubernetes-version $KUBERNETES_VERSION, then run: pulumi refresh --run-program --yes --stack $STACK and pulumi up --stack $STACK" >&2
  exit 0
elif [ "$status" -eq ${MINIKUBE_STATUS_GONE} ]; then
  echo "flux-platform: minikube profile $PROFILE does not exist: stack $STACK has not created it yet; run: pulumi up --stack $STACK (it creates the profile)" >&2
  exit 0
elif [ "$status" -ne 0 ]; then
  echo "flux-platform: minikube profile $PROFILE is not running; start it with: minikube start -p $PROFILE" >&2
  exit 0
fi
if ! kubeconfig="$(kubectl config view --minify --flatten --context "$PROFILE")" || [ -z "$kubeconfig" ]; then
  echo "flux-platform: could not read the kubeconfig of minikube profile $PROFILE (kubectl config view --context $PROFILE failed or printed nothing)" >&2
  exit 0
fi
printf '%s\\n' "$kubeconfig"
`;

/**
 * Why the kubeconfig read gave nothing to use, or `undefined` when it did: the script's own
 * `flux-platform:` line, else a check of what it printed. An empty kubeconfig would make
 * the Kubernetes provider fall back to the user's own kubeconfig, and so to whatever cluster
 * is current there.
 */
export function kubeconfigProblem(
  profile: string,
  stdout: string | undefined,
  stderr = "",
): string | undefined {
  const told = stderr
    .split("\n")
    .filter((l) => l.startsWith("flux-platform: "))
    .pop();
  if (told) return told;
  if (stdout && /^apiVersion:/m.test(stdout) && stdout.includes(`current-context: ${profile}`)) {
    return undefined;
  }
  return `flux-platform: reading the kubeconfig of minikube profile ${profile} gave no kubeconfig for that profile; check: kubectl config view --minify --context ${profile}`;
}

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
