/**
 * The Gateway API (issue "Run it for real, part 2"): the Gateway and routes the program
 * renders, checked by the real API server.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../../lib/config";
import { renderedTree, renderStack, writeTree } from "../../lib/render";
import { fluxBuild, type FluxKustomization } from "../../test/support/fluxBuild";
import type { KubeObject } from "../../test/support/models";
import type { Infra, Toolchain } from "../infra";
import { stackConfig, type Step } from "../scenario";

/**
 * Envoy Gateway's chart and images cannot be had here, so the e2e stacks run with the
 * Gateway off; this step renders the same stack with it on, builds the Gateway's and every
 * service's Kustomization as kustomize-controller would, and has the real API server, with
 * the Gateway API CRDs of the pinned module installed, accept them (server-side dry run:
 * schema and CEL validation, nothing stored).
 */
export function gatewayAccepted(t: Toolchain, infra: Infra): Step {
  return {
    name: "Gateway API: the rendered Gateway and every HTTPRoute are accepted by the API server",
    run: async () => {
      const dir = path.join(fs.realpathSync(t.crds), "gateway-api");
      const crds = fs.readdirSync(dir).flatMap((f) => ["-f", path.join(dir, f)]);
      const installed = await infra.kubectl(["apply", "--server-side", ...crds]);
      if (installed.status !== 0) throw new Error(`Gateway API CRDs: ${installed.stderr}`);
      await infra.kubectl([
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd",
        "-l",
        "gateway.networking.k8s.io/bundle-version",
      ]);
      const raw = stackConfig(infra, infra, "e2e", {
        "flux-platform:infrastructure": { kyverno: false, reloader: false, gateway: true },
        "flux-platform:commitStatus": false,
        // A receiver host under the ingress domain: its route and ReferenceGrant too.
        "flux-platform:webhookReceiverUrl": "http://flux-webhook.e2e.localhost",
      });
      const rendered = renderStack(loadConfig(raw, "e2e"));
      const out = fs.mkdtempSync(path.join(infra.runDir, "gateway-"));
      writeTree(out, renderedTree(rendered));
      const objects = rendered.clusterObjects
        .filter(
          (o) =>
            o.kind === "Kustomization" && /^(infrastructure-gateway|app-)/.test(o.metadata.name),
        )
        .flatMap((ks) =>
          fluxBuild(
            ks as unknown as FluxKustomization,
            path.join(out, rendered.config.platformRepo),
          ),
        )
        .concat(rendered.cluster.receivers as KubeObject[])
        .filter((o) => o.apiVersion.startsWith("gateway.networking.k8s.io/"));
      const file = path.join(out, "gateway-objects.yaml");
      fs.writeFileSync(file, objects.map((o) => JSON.stringify(o)).join("\n---\n"));
      const dry = await infra.kubectl(["apply", "--dry-run=server", "-f", file]);
      if (dry.status !== 0) throw new Error(`refused: ${dry.stderr}`);
      const routes = objects.filter((o) => o.kind === "HTTPRoute").length;
      const lines = dry.stdout.trim().split("\n");
      const grants = objects.filter((o) => o.kind === "ReferenceGrant").length;
      if (lines.length !== objects.length || routes !== 4 || grants !== 1) {
        throw new Error(
          `expected ${objects.length} objects with 4 routes and a ReferenceGrant, the API server answered:\n${dry.stdout}`,
        );
      }
      // The check has teeth: the same API server refuses a route the Gateway API forbids.
      const route = objects.find((o) => o.kind === "HTTPRoute")!;
      const broken = JSON.parse(JSON.stringify(route)) as { spec: { hostnames: string[] } };
      broken.spec.hostnames = ["Not_A_Host"];
      const bad = await infra.kubectl(
        ["apply", "--dry-run=server", "-f", "-"],
        JSON.stringify(broken),
      );
      if (bad.status === 0)
        throw new Error("the API server accepted an HTTPRoute with an invalid host name");
      return `${objects.length} objects (GatewayClass, Gateway, ${routes} HTTPRoutes incl. the webhook receiver's, its ReferenceGrant) accepted (server dry run); an invalid host name refused`;
    },
  };
}
