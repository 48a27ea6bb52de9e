import * as pulumi from "@pulumi/pulumi";
import {
  rolloutVerdict,
  type KustomizationStatus,
  type RolloutVerdict,
} from "../lib/cluster/rollout";
import { inheritedDependsOn } from "./kube";

/**
 * The end of a `pulumi up` that changed a service's Kustomizations: waits until Flux has
 * reconciled every service Kustomization at its current generation, Ready or not, at most
 * `timeoutSeconds`, and reports which are not Ready and why (lib/cluster/rollout.ts says why this
 * and not the Kubernetes provider's wait). A tenant's broken config is reported by service
 * and Flux's reason in the up's output and does not fail the platform team's up.
 *
 * It reads the Kustomizations through the same kubeconfig and context as the Kubernetes
 * provider (the minikube profile's, or `$KUBECONFIG` / `~/.kube/config`). Changes only when
 * the services' Kustomizations do (`fingerprint`), so a no-op preview shows nothing.
 */
interface Inputs {
  context: string;
  /** The profile's kubeconfig (minikube; secret); unset: `$KUBECONFIG` or `~/.kube/config`. */
  kubeconfig?: string;
  namespace: string;
  kustomizations: string[];
  /** Changes when any service Kustomization's rendered object does. */
  fingerprint: string;
  timeoutSeconds: number;
  /** Between two reads. */
  pollSeconds: number;
}

interface Outputs extends Inputs {
  verdict: RolloutVerdict;
  waitedSeconds: number;
}

// Plain functions of their inputs, so the serialized provider captures only these and
// lib/cluster/rollout.ts (imported as its own file, not through lib/cluster/index.ts, so the
// serialized provider holds that one module).
async function listKustomizations(i: Inputs): Promise<KustomizationStatus[]> {
  // ESM-only package, `require`d when it runs (Node >= 22), as lib/github/api.ts does Octokit.
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  if (i.kubeconfig) kc.loadFromString(i.kubeconfig);
  else kc.loadFromDefault();
  kc.setCurrentContext(i.context);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({
    group: "kustomize.toolkit.fluxcd.io",
    version: "v1",
    namespace: i.namespace,
    plural: "kustomizations",
  })) as { items?: KustomizationStatus[] };
  return list.items ?? [];
}

async function waitSettled(i: Inputs): Promise<Outputs> {
  const started = Date.now();
  const deadline = started + i.timeoutSeconds * 1000;
  let verdict: RolloutVerdict = { ready: [], failed: {}, pending: [...i.kustomizations] };
  for (;;) {
    try {
      verdict = rolloutVerdict(await listKustomizations(i), i.kustomizations);
    } catch (err) {
      // An API server restarting under the up: read again until the bound.
      if (Date.now() >= deadline) throw err;
    }
    if (verdict.pending.length === 0 || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, i.pollSeconds * 1000));
  }
  return { ...i, verdict, waitedSeconds: Math.round((Date.now() - started) / 100) / 10 };
}

export const serviceRolloutProvider: pulumi.dynamic.ResourceProvider<Inputs, Outputs> = {
  async diff(_id: string, olds: Outputs, news: Inputs) {
    const changes =
      olds.fingerprint !== news.fingerprint ||
      olds.context !== news.context ||
      olds.kustomizations.join() !== news.kustomizations.join();
    return { changes };
  },
  async create(inputs: Inputs) {
    return { id: `${inputs.context}/${inputs.namespace}`, outs: await waitSettled(inputs) };
  },
  async update(_id: string, _olds: Outputs, news: Inputs) {
    return { outs: await waitSettled(news) };
  },
  async delete() {},
};

export interface ServiceRolloutArgs {
  readonly context: pulumi.Input<string>;
  readonly kubeconfig?: pulumi.Input<string>;
  readonly namespace: string;
  readonly kustomizations: string[];
  readonly fingerprint: string;
  readonly timeoutSeconds: number;
  readonly pollSeconds?: number;
}

/** The wait itself: a dynamic resource whose create and update read until settled. */
class RolloutWait extends pulumi.dynamic.Resource {
  declare public readonly verdict: pulumi.Output<RolloutVerdict>;
  declare public readonly waitedSeconds: pulumi.Output<number>;

  constructor(name: string, args: ServiceRolloutArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      serviceRolloutProvider,
      name,
      {
        ...args,
        ...(args.kubeconfig ? { kubeconfig: pulumi.secret(args.kubeconfig) } : {}),
        pollSeconds: args.pollSeconds ?? 2,
        verdict: undefined,
        waitedSeconds: undefined,
      },
      { ...opts, ...(args.kubeconfig ? { additionalSecretOutputs: ["kubeconfig"] } : {}) },
      "flux-platform",
      "RolloutWait",
    );
  }
}

/** Every service's Kustomizations reconciled, Ready or not, and what is not Ready, by service. */
export class ServiceRollout extends pulumi.ComponentResource {
  public readonly verdict: pulumi.Output<RolloutVerdict>;
  public readonly waitedSeconds: pulumi.Output<number>;

  constructor(name: string, args: ServiceRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:ServiceRollout", name, {}, opts);
    const wait = new RolloutWait(`${name}-wait`, args, {
      parent: this,
      dependsOn: inheritedDependsOn(opts),
    });
    this.verdict = wait.verdict;
    this.waitedSeconds = wait.waitedSeconds;
    this.registerOutputs({ verdict: this.verdict, waitedSeconds: this.waitedSeconds });
  }
}
