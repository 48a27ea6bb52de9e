/**
 * One rule for what a service or environment may be called (lib/names.ts), checked against
 * what the renderers really write: every reserved name is a path or object of the render.
 */
import { expect } from "chai";
import { loadConfig, type RawConfig } from "../lib/config";
import { RESERVED_ENVIRONMENT_NAMES, RESERVED_SERVICE_NAMES } from "../lib/names";
import { renderStack } from "../lib/render";
import { configProblems } from "./support/problems";

const svc = { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0", port: 9898 };
const base: RawConfig = {
  "github:owner": "acme",
  "flux-platform:webhookReceiverUrl": "https://flux-webhook.dev.localhost",
  "flux-platform:services": { beetle: svc },
};

const problems = configProblems;

describe("names a service or environment may take", () => {
  it("reserves exactly the names the renderers write beside the services' own", () => {
    const r = renderStack(loadConfig(base, "dev"));
    const platform = r.platformFiles.map((f) => f.path);
    const objects = r.clusterObjects.map(
      (o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`,
    );
    for (const name of Object.keys(RESERVED_SERVICE_NAMES)) {
      const asFolder = platform.some((p) => p.startsWith(`environments/dev/apps/${name}/`));
      const asRoute = objects.includes(`HTTPRoute/apps/${name}`);
      expect(asFolder || asRoute, name).to.equal(true);
    }
    for (const name of Object.keys(RESERVED_ENVIRONMENT_NAMES)) {
      expect(
        r.developerFiles.some((f) => f.path === `beetle/${name}/config.yaml`),
        name,
      ).to.equal(true);
    }
  });

  for (const [name, what] of [
    ["base", "the platform repo's shared folder apps/base/"],
    ["components", "the platform repo's folder apps/components/ (the route component)"],
    ["flux-webhook-receiver", "the webhook receiver's HTTPRoute flux-webhook-receiver"],
  ]) {
    it(`refuses a service called ${name}, saying what it collides with`, () => {
      const p = problems({ ...base, "flux-platform:services": { [name]: svc, beetle: svc } });
      expect(p).to.have.length(1);
      expect(p[0]).to.match(
        new RegExp(`^services\\.${name}: \`${name}\` is reserved: it collides with`),
      );
      expect(p[0]).to.contain(what);
      expect(p[0]).to.contain("choose another service name");
    });
  }

  it("refuses an environment called base, which would share every service's base config", () => {
    const p = problems({ ...base, "flux-platform:environment": "base" });
    expect(p).to.deep.equal([
      "environment: `base` is reserved: it collides with every service's shared folder <service>/base/ in the developer repo; choose another environment name",
    ]);
  });

  it("refuses a routed service whose host name is the webhook receiver's", () => {
    const p = problems({ ...base, "flux-platform:services": { "flux-webhook": svc } });
    expect(p).to.deep.equal([
      "services.flux-webhook: its host name `flux-webhook.dev.localhost` is the webhook receiver's (`webhookReceiverUrl`), which the platform routes on the same Gateway; rename the service, move the receiver to another host, or set `ingress: false`",
    ]);
    expect(
      problems({
        ...base,
        "flux-platform:services": { "flux-webhook": { ...svc, ingress: false } },
      }),
    ).to.deep.equal([]);
  });

  it("keeps names that only look alike (basement, base-api, prod)", () => {
    expect(
      problems({
        ...base,
        "flux-platform:environment": "prod",
        "flux-platform:services": { basement: svc, "base-api": svc },
      }),
    ).to.deep.equal([]);
  });
});
