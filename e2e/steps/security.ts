/**
 * What the developer repo may not do (issue "Run it for real, part 2"): deploy anything
 * (a Deployment, a RoleBinding), or touch another team's config; the API server refuses
 * both, Flux reports them on the commit, and nothing else changes.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_ACCOUNT } from "../../lib/names";
import type { Infra } from "../infra";
import {
  APP_NAMESPACE,
  commitStatus,
  kustomizationAt,
  servicesRunning,
  standinCommit,
  type Step,
} from "../scenario";

export function developerCannotDeploy(infra: Infra): Step {
  return {
    name: "the developer repo cannot deploy: refused, reported, nothing applied",
    run: async () => {
      const evil = [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: evil}",
        "spec:",
        "  selector: {matchLabels: {app: evil}}",
        "  template:",
        "    metadata: {labels: {app: evil}}",
        "    spec: {containers: [{name: c, image: 'busybox:1.36'}]}",
        "---",
        "apiVersion: rbac.authorization.k8s.io/v1",
        "kind: RoleBinding",
        "metadata: {name: evil}",
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}",
        "subjects: [{kind: ServiceAccount, name: default, namespace: apps}]",
        "",
      ].join("\n");
      const k = "beetle/e2e/kustomization.yaml";
      let original = "";
      const revision = await standinCommit(infra, "beetle: deploy something", (dir) => {
        fs.writeFileSync(path.join(dir, "beetle/e2e/evil.yaml"), evil);
        original = fs.readFileSync(path.join(dir, k), "utf8");
        fs.writeFileSync(path.join(dir, k), original + "resources:\n  - evil.yaml\n");
      });
      const cond = await kustomizationAt(infra, "config-beetle", revision, "False");
      if (!/forbidden/i.test(cond.message ?? ""))
        throw new Error(`not Ready, but: ${cond.message}`);
      const failed = await commitStatus(
        infra,
        "flux_developer",
        revision,
        "config-beetle",
        "failure",
      );
      const d = await infra.kubectl(["-n", APP_NAMESPACE, "get", "deployment", "evil"]);
      const rb = await infra.kubectl(["-n", APP_NAMESPACE, "get", "rolebinding", "evil"]);
      if (d.status === 0 || rb.status === 0)
        throw new Error("the developer's Deployment or RoleBinding was applied");
      await servicesRunning(infra, ["beetle"]);
      const back = await standinCommit(infra, "beetle: undo", (dir) => {
        fs.rmSync(path.join(dir, "beetle/e2e/evil.yaml"));
        fs.writeFileSync(path.join(dir, k), original);
      });
      await kustomizationAt(infra, "config-beetle", back, "True");
      return `refused (commit status ${failed}): ${(cond.message ?? "").split("\n")[0].slice(0, 120)}`;
    },
  };
}

/**
 * One team cannot touch another's config: a commit under `beetle/` that writes
 * `sonar-config` is refused by the API server (the admission policy allows what config-beetle
 * applies only `beetle-config` and `beetle-secrets`), `config-beetle` reports it, and sonar's
 * ConfigMap is unchanged. The policy is then asked directly as the config account, with the
 * labels kustomize-controller sets on config-beetle's objects, for a create of another name
 * (which RBAC cannot limit by name) and for the Secrets, and without them.
 */
export function otherTeamsConfig(infra: Infra): Step {
  return {
    name: "one team cannot touch another's config: refused by the API server, sonar unchanged",
    run: async () => {
      const sonar = () =>
        infra.kubectlJson<{ metadata: { resourceVersion: string }; data: Record<string, string> }>([
          "-n",
          APP_NAMESPACE,
          "get",
          "configmap",
          "sonar-config",
        ]);
      const before = await sonar();
      const k = "beetle/e2e/kustomization.yaml";
      let original = "";
      const revision = await standinCommit(infra, "beetle: change sonar's config", (dir) => {
        fs.writeFileSync(
          path.join(dir, "beetle/e2e/sonar.yaml"),
          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sonar-config}\ndata: {hijacked: 'true'}\n",
        );
        original = fs.readFileSync(path.join(dir, k), "utf8");
        fs.writeFileSync(path.join(dir, k), original + "resources:\n  - sonar.yaml\n");
      });
      const cond = await kustomizationAt(infra, "config-beetle", revision, "False");
      if (
        !/forbidden/i.test(cond.message ?? "") ||
        !(cond.message ?? "").includes("sonar-config")
      ) {
        throw new Error(`not Ready, but: ${cond.message}`);
      }
      const after = await sonar();
      if (
        after.metadata.resourceVersion !== before.metadata.resourceVersion ||
        after.data.hijacked
      ) {
        throw new Error("sonar's ConfigMap was changed");
      }
      // What RBAC cannot limit by name: a create of another name, asked as the config account
      // with the labels kustomize-controller puts on what config-beetle applies.
      const as = `system:serviceaccount:flux-system:${CONFIG_ACCOUNT}`;
      const write = (kind: string, name: string, owner?: string) =>
        infra.kubectl(
          ["apply", "--server-side", "--dry-run=server", `--as=${as}`, "-f", "-"],
          JSON.stringify({
            apiVersion: "v1",
            kind,
            metadata: {
              name,
              namespace: APP_NAMESPACE,
              ...(owner
                ? {
                    labels: {
                      "kustomize.toolkit.fluxcd.io/name": owner,
                      "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
                    },
                  }
                : {}),
            },
            data: {},
          }),
        );
      const create = await write("ConfigMap", "sonar-extra", "config-beetle");
      const expected = `service beetle may write only its own ConfigMap ${APP_NAMESPACE}/beetle-config and Secret ${APP_NAMESPACE}/beetle-secrets; refused: ConfigMap ${APP_NAMESPACE}/sonar-extra`;
      if (create.status === 0 || !create.stderr.includes(expected)) {
        throw new Error(`create as ${as}: exit ${create.status}: ${create.stderr}`);
      }
      // Its own Secret beetle-secrets may be written (team secrets); sonar's may not.
      const own = await write("Secret", "beetle-secrets", "config-beetle");
      if (own.status !== 0) throw new Error(`its own Secret was refused: ${own.stderr}`);
      const other = await write("Secret", "sonar-secrets", "config-beetle");
      if (
        other.status === 0 ||
        !other.stderr.includes(`refused: Secret ${APP_NAMESPACE}/sonar-secrets`)
      ) {
        throw new Error(`sonar's Secret as ${as}: exit ${other.status}: ${other.stderr}`);
      }
      // Not from a service's config Kustomization: a new object without the owner labels is
      // refused. (The policy reads the object as it would be stored: an apply without labels
      // to beetle-config keeps the labels kustomize-controller owns there, so it is beetle's.)
      const unowned = await write("ConfigMap", "sonar-extra");
      if (unowned.status === 0 || !unowned.stderr.includes("only a service's config-<service>")) {
        throw new Error(`an unlabelled write as ${as}: exit ${unowned.status}: ${unowned.stderr}`);
      }
      const back = await standinCommit(infra, "beetle: undo", (dir) => {
        fs.rmSync(path.join(dir, "beetle/e2e/sonar.yaml"));
        fs.writeFileSync(path.join(dir, k), original);
      });
      await kustomizationAt(infra, "config-beetle", back, "True");
      return `refused: ${(cond.message ?? "").split("\n")[0].slice(0, 110)}; sonar-config unchanged; the policy refused a create as ${CONFIG_ACCOUNT} labelled config-beetle: "${expected}"; its own Secret beetle-secrets allowed, sonar-secrets refused, an unlabelled write refused`;
    },
  };
}
