import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { ClusterConfig } from "../lib/config";
import {
  CREATE_SCRIPT,
  DELETE_SCRIPT,
  KUBECONFIG_SCRIPT,
  UPDATE_SCRIPT,
  kubeconfigProblem,
  replaceTriggers,
  scriptEnvironment,
} from "../lib/cluster";

/**
 * A RunError (printed without a stack trace) whose message stays the one line it was made
 * with. The SDK prefixes the message of an error that rejects an input it serializes
 * (`error serializing property "kubeconfig": ...`, once per property on the way), by
 * assigning to `message`; the line must stay what the user reads first.
 */
export function oneLineError(line: string): pulumi.RunError {
  const err = new pulumi.RunError(line);
  Object.defineProperty(err, "message", { get: () => line, set: () => undefined });
  return err;
}

export interface ClusterArgs {
  /** `minikube`: a profile this stack creates and deletes; `kubeconfig`: an existing context. */
  readonly cluster: ClusterConfig;
}

/**
 * The environment's Kubernetes cluster and the provider every Kubernetes resource uses.
 * minikube profiles are driven through `@pulumi/command`; an existing cluster (EKS, GKE,
 * AKS, ...) is reached through its kubeconfig context and is never created or deleted.
 */
export class Cluster extends pulumi.ComponentResource {
  /** The kube context the platform lives in: the minikube profile or the configured context. */
  public readonly kubeContext: pulumi.Output<string>;
  /** Provider for every Kubernetes resource of the stack. */
  public readonly provider: k8s.Provider;
  /** The minikube profile resource, so Kubernetes deletes can be skipped when it goes. */
  public readonly minikube?: command.local.Command;
  /** The profile's kubeconfig (minikube only), secret everywhere. */
  public readonly kubeconfig?: pulumi.Output<string>;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:Cluster", name, {}, opts);
    const c = args.cluster;

    if (c.provider === "minikube") {
      this.minikube = new command.local.Command(
        `${name}-minikube`,
        {
          interpreter: ["/bin/bash", "-c"],
          create: CREATE_SCRIPT,
          update: UPDATE_SCRIPT,
          delete: DELETE_SCRIPT,
          environment: scriptEnvironment(c),
          triggers: replaceTriggers(c),
        },
        // A replaced profile has the same name: delete the old one first, or its delete
        // would wipe the new cluster.
        { parent: this, deleteBeforeReplace: true },
      );
      // Read on every run (not stored once at create): the API server address of a minikube
      // profile changes when it restarts. The read starts nothing (a preview must not) and
      // stops the program on a stopped or missing profile with one line saying what to do.
      //
      // Keyed on the profile's stdout, not its id: in a create preview the command plugin
      // answers with an id (pulumi-command 1.2.1 makes a unique hex id even when it runs
      // nothing) but leaves every output unknown, and the profile does not exist yet, so the
      // read must not run. Once the profile is in the state (a no-op preview, a stopped or
      // deleted profile) or its create ran (in `pulumi up`), stdout is known: the mark the
      // create script prints, which the read uses to tell "deleted" from "never created".
      const kubeconfig = command.local.runOutput(
        {
          interpreter: ["/bin/bash", "-c"],
          command: KUBECONFIG_SCRIPT,
          environment: this.minikube.stdout.apply((created) => ({
            ...scriptEnvironment(c),
            STACK: pulumi.getStack(),
            CREATED: created.trim(),
          })),
          // The 1.x invoke logs stdout unless told not to: it is the kubeconfig.
          logging: command.local.Logging.None,
        },
        { parent: this },
      );
      this.kubeconfig = pulumi.secret(
        kubeconfig.apply((r) => {
          const problem = kubeconfigProblem(c.profile, r.stdout, r.stderr);
          // A RunError is printed as its message alone: the one line is what the user sees.
          if (problem) throw oneLineError(problem);
          return r.stdout;
        }),
      );
      this.kubeContext = pulumi.output(c.profile);
      this.provider = new k8s.Provider(
        `${name}-k8s`,
        {
          kubeconfig: this.kubeconfig,
          context: c.profile,
          // A restart gives the API server a new port, so the kubeconfig changes; without
          // this the provider, and every object under it, would be replaced (create first:
          // AlreadyExists). Only a new profile (a replaced Command has a new id) is a new
          // cluster. No deleteUnreachable: a stopped profile must never empty the state.
          clusterIdentifier: pulumi.interpolate`minikube/${c.profile}/${this.minikube.id}`,
        },
        { parent: this },
      );
    } else {
      this.kubeContext = pulumi.output(c.context);
      // No kubeconfig given: the provider reads $KUBECONFIG or ~/.kube/config, as kubectl does.
      // A rotated API endpoint or credential in that file is an update; another context is
      // another cluster.
      this.provider = new k8s.Provider(
        `${name}-k8s`,
        { context: c.context, clusterIdentifier: `kubeconfig/${c.context}` },
        { parent: this },
      );
    }

    this.registerOutputs({ kubeContext: this.kubeContext, kubeconfig: this.kubeconfig });
  }
}
