/**
 * Bad input (issue "Run it for real, part 2"): a stack whose config breaks several rules;
 * `pulumi up` refuses it listing every problem and creates nothing.
 */
import type { Infra, Toolchain } from "../infra";
import { createStack } from "../infra/pulumi";
import { type Step, tail } from "../scenario";

export function badInput(t: Toolchain, infra: Infra): Step {
  return {
    name: "bad config: pulumi up refuses with every problem, creates nothing",
    run: async () => {
      const stack = await createStack(
        t,
        infra.runDir,
        "e2ebad",
        {
          "github:owner": infra.owner,
          "github:baseUrl": `${infra.standin.url}/`,
          "flux-platform:fluxVersion": "latest",
          "flux-platform:cluster": { provider: "kubeconfig", context: infra.context },
          "flux-platform:services": {
            Beetle: { image: "ghcr.io/stefanprodan/podinfo", tag: "latest" },
          },
        },
        { "github:token": infra.token },
        { KUBECONFIG: infra.kubeconfig },
      );
      const up = await stack.pulumi(["up", "--yes", "--skip-preview"]);
      const out = up.stdout + up.stderr;
      if (up.status === 0) throw new Error("pulumi up exited 0 on an invalid config");
      const expected = [
        "fluxVersion: `latest` is not an exact Flux 2.x version",
        "services.Beetle: `Beetle` is not a valid service name",
        "services.Beetle.tag: `latest` is not a pinned image tag",
      ];
      const missing = expected.filter((e) => !out.includes(e));
      if (missing.length > 0) throw new Error(`not reported: ${missing.join("; ")}\n${tail(out)}`);
      const exported = await stack.pulumi(["stack", "export"]);
      const resources =
        (JSON.parse(exported.stdout) as { deployment?: { resources?: { type: string }[] } })
          .deployment?.resources ?? [];
      const created = resources.filter((r) => r.type !== "pulumi:pulumi:Stack");
      if (created.length > 0) throw new Error(`created: ${created.map((r) => r.type).join(", ")}`);
      return `exit ${up.status}, ${expected.length} problems listed, 0 resources created`;
    },
  };
}
