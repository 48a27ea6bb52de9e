/**
 * The wait after the services' Kustomizations (lib/cluster/rollout.ts, components/serviceRollout.ts):
 * settled means Ready True or False for the current generation; DependencyNotReady counts as
 * failed only behind a failed dependency; the provider polls until settled or its bound.
 */
import { expect } from "chai";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { serviceRolloutProvider } from "../components/serviceRollout";
import {
  fingerprint,
  rolloutVerdict,
  rolloutWarnings,
  type KustomizationStatus,
} from "../lib/cluster";

type Ready = { status: string; reason?: string; message?: string; observedGeneration?: number };

function ks(
  name: string,
  generation: number,
  ready?: Ready,
  dependsOn: string[] = [],
): KustomizationStatus {
  return {
    metadata: { name, generation },
    spec: { dependsOn: dependsOn.map((n) => ({ name: n })) },
    status: ready ? { conditions: [{ type: "Ready", ...ready }] } : {},
  };
}

describe("rollout verdict: when a service's Kustomizations count as reconciled", () => {
  const names = ["config-a", "app-a", "config-b", "app-b"];

  it("Ready at the current generation is ready; the previous generation's Ready is pending", () => {
    const v = rolloutVerdict(
      [
        ks("config-a", 2, { status: "True", observedGeneration: 2 }),
        ks("app-a", 3, { status: "True", observedGeneration: 2 }, ["config-a"]),
        ks("config-b", 1, { status: "Unknown", reason: "Progressing", observedGeneration: 1 }),
      ],
      names,
    );
    expect(v).to.deep.equal({
      ready: ["config-a"],
      failed: {},
      pending: ["app-a", "config-b", "app-b"],
    });
  });

  it("a failure at the current generation is failed with Flux's reason, on one line", () => {
    const v = rolloutVerdict(
      [
        ks("config-a", 4, {
          status: "False",
          reason: "BuildFailed",
          message: "kustomize build failed:\n  missing.yaml: no such file",
          observedGeneration: 4,
        }),
      ],
      ["config-a"],
    );
    expect(v.failed).to.deep.equal({
      "config-a": "BuildFailed: kustomize build failed: missing.yaml: no such file",
    });
  });

  it("DependencyNotReady: failed behind a failed dependency, pending behind one still going", () => {
    const broken = ks("config-a", 1, {
      status: "False",
      reason: "BuildFailed",
      message: "x",
      observedGeneration: 1,
    });
    const waiting = (n: string, dep: string) =>
      ks(
        n,
        1,
        {
          status: "False",
          reason: "DependencyNotReady",
          message: "dependency not ready",
          observedGeneration: 1,
        },
        [dep],
      );
    const v = rolloutVerdict(
      [
        broken,
        waiting("app-a", "config-a"),
        ks("config-b", 1, { status: "Unknown", observedGeneration: 1 }),
        waiting("app-b", "config-b"),
      ],
      names,
    );
    expect(v.failed["app-a"]).to.equal("DependencyNotReady: config-a is not Ready");
    expect(v.pending).to.deep.equal(["config-b", "app-b"]);
  });

  it("warnings name the service and the reason", () => {
    const w = rolloutWarnings(
      { ready: [], failed: { "config-a": "BuildFailed: x" }, pending: ["app-b"] },
      (k) => k.split("-")[1],
      480,
    );
    expect(w).to.deep.equal([
      "service a: config-a is not Ready (BuildFailed: x)",
      "service b: app-b is still reconciling after 480s; see flux get kustomizations",
    ]);
  });

  it("the fingerprint moves with any service's Kustomization, not otherwise", () => {
    const s = [{ config: { a: 1 }, app: { b: 1 } }];
    expect(fingerprint(s)).to.equal(fingerprint([{ config: { a: 1 }, app: { b: 1 } }]));
    expect(fingerprint(s)).to.not.equal(fingerprint([{ config: { a: 2 }, app: { b: 1 } }]));
  });
});

describe("rollout wait: reads the Kustomizations until settled", () => {
  let server: http.Server;
  let url: string;
  let answers: KustomizationStatus[][];
  let reads: number;
  before(async () => {
    server = http.createServer((req, res) => {
      reads++;
      if (
        req.url?.startsWith(
          "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations",
        )
      ) {
        const items = answers[Math.min(reads - 1, answers.length - 1)];
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            apiVersion: "kustomize.toolkit.fluxcd.io/v1",
            kind: "KustomizationList",
            items,
          }),
        );
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  beforeEach(() => (reads = 0));

  const kubeconfig = () =>
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: url, "insecure-skip-tls-verify": true } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
      "current-context": "ctx",
    });
  const inputs = (timeoutSeconds: number) => ({
    context: "ctx",
    kubeconfig: kubeconfig(),
    namespace: "flux-system",
    kustomizations: ["config-a", "app-a"],
    fingerprint: "f1",
    timeoutSeconds,
    pollSeconds: 0.05,
  });

  it("polls until both are settled and reports the failure (the up does not fail)", async () => {
    const failed = {
      status: "False",
      reason: "BuildFailed",
      message: "bad",
      observedGeneration: 1,
    };
    answers = [
      [ks("config-a", 1, { status: "Unknown", observedGeneration: 1 })],
      [ks("config-a", 1, failed), ks("app-a", 1)],
      [
        ks("config-a", 1, failed),
        ks("app-a", 1, { status: "False", reason: "DependencyNotReady", observedGeneration: 1 }, [
          "config-a",
        ]),
      ],
    ];
    const r = await serviceRolloutProvider.create!(inputs(30));
    expect(reads).to.equal(3);
    expect(r.outs!.verdict).to.deep.equal({
      ready: [],
      failed: {
        "config-a": "BuildFailed: bad",
        "app-a": "DependencyNotReady: config-a is not Ready",
      },
      pending: [],
    });
  });

  it("stops at its bound with what is still pending", async () => {
    answers = [
      [
        ks("config-a", 1, { status: "True", observedGeneration: 1 }),
        ks("app-a", 2, { status: "True", observedGeneration: 1 }),
      ],
    ];
    const r = await serviceRolloutProvider.create!(inputs(0.3));
    expect(r.outs!.verdict.pending).to.deep.equal(["app-a"]);
    expect(r.outs!.waitedSeconds).to.be.at.least(0.3);
    expect(reads).to.be.greaterThan(2);
  });

  it("changes only with the fingerprint, the context or the list", async () => {
    const olds = {
      ...inputs(1),
      verdict: { ready: [], failed: {}, pending: [] },
      waitedSeconds: 0,
    };
    expect(
      (await serviceRolloutProvider.diff!("x", olds, { ...inputs(1), kubeconfig: "other" }))
        .changes,
    ).to.equal(false);
    expect(
      (await serviceRolloutProvider.diff!("x", olds, { ...inputs(1), fingerprint: "f2" })).changes,
    ).to.equal(true);
  });
});
