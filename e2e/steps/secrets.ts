/**
 * Secrets for service teams, end to end (issue "Secrets for service teams"): a developer
 * encrypts with the real `sops` CLI (built into the toolchain) as the developer repo's
 * SECRETS.md says, pushes to the stand-in, and the real kustomize-controller decrypts with
 * the key the stack made. Each step asserts what the API server, the commit statuses and
 * the bare repository's history show.
 */
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { SECRETS_TEMPLATE, SOPS_CONFIG, secretsPath } from "../../lib/developerRepo";
import type { Cluster, Infra, Toolchain } from "../infra";
import { run } from "../infra/procs";
import type { Stack } from "../infra/pulumi";
import { APP_NAMESPACE, developerCommit, kustomizationAt, pulumiOk, type Step } from "../scenario";

/** The second environment, once the lifecycle has brought it up. */
export interface SecondEnvironment {
  cluster?: Cluster;
  environment: string;
}

interface SecretObj {
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
}

const value = (label: string) => `${label}-${crypto.randomBytes(9).toString("hex")}`;

/** The Secret manifest a team writes (SECRETS.md step 2), names deliberately not sorted. */
const manifest = (name: string, pairs: Record<string, string>) =>
  [
    "apiVersion: v1",
    "kind: Secret",
    "metadata:",
    `  name: ${name}`,
    "stringData:",
    ...Object.entries(pairs).map(([k, v]) => `  ${k}: ${v}`),
    "",
  ].join("\n");

export function secretsSteps(t: Toolchain, infra: Infra, dev: Stack, second: SecondEnvironment) {
  const env = "e2e";
  const bare = infra.standin.repoDir(infra.owner, "flux_developer");
  const sops = path.join(t.bin, "sops");
  /** `sops --encrypt --in-place <file>` from the clone's root, as SECRETS.md says. */
  const encrypt = (dir: string, file: string) =>
    execFileSync(sops, ["--encrypt", "--in-place", file], {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
  const commit = (message: string, edit: (dir: string) => void) =>
    developerCommit(bare, infra.runDir, message, edit);
  /** A team's folder from the template, with `pairs` in it, encrypted unless `clear`. */
  const writeSecrets = (
    dir: string,
    service: string,
    environment: string,
    name: string,
    pairs: Record<string, string>,
    clear = false,
  ) => {
    const folder = path.dirname(path.join(dir, secretsPath(service, environment)));
    fs.rmSync(folder, { recursive: true, force: true });
    fs.cpSync(path.join(dir, SECRETS_TEMPLATE), folder, { recursive: true });
    fs.writeFileSync(path.join(dir, secretsPath(service, environment)), manifest(name, pairs));
    if (!clear) encrypt(dir, secretsPath(service, environment));
  };
  const secret = (c: Cluster, name: string) =>
    c.kubectlJson<SecretObj>(["-n", APP_NAMESPACE, "get", "secret", name]);
  const decoded = (s: SecretObj) =>
    Object.fromEntries(
      Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
    );
  /** The commit status config-<service> left on `sha`: state and description. */
  const statusOf = async (sha: string, kustomization: string) => {
    const r = await fetch(
      `${infra.standin.url}/api/v3/repos/${infra.owner}/flux_developer/commits/${sha}/statuses`,
      { headers: { authorization: `token ${infra.token}` } },
    );
    const list = (await r.json()) as { state: string; context: string; description: string }[];
    return list.find((x) => x.context.includes(kustomization));
  };
  /**
   * Waits for Ready=False at `sha` with `reason` in the Kustomization's message, and on dev's
   * cluster for the failure status on the commit. notification-controller's GitHub provider
   * writes Flux's reason there (`build failed`), not the message (internal/notifier/util.go
   * formatNameAndDescription); the message is the Kustomization's.
   */
  const refused = async (c: Cluster, kustomization: string, sha: string, reason: RegExp) => {
    const cond = await kustomizationAt(c, kustomization, sha, "False");
    if (!reason.test(cond.message ?? "")) throw new Error(`not Ready, but: ${cond.message}`);
    let status = "";
    if (c === infra) {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const s = await statusOf(sha, kustomization);
        if (s?.state === "failure") {
          status = `status failure "${s.description}"`;
          break;
        }
        if (Date.now() > deadline)
          throw new Error(`no failure status on ${sha.slice(0, 8)}: ${s?.state}`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    const message = (cond.message ?? "").replace(/\s+/g, " ");
    const at = message.search(reason);
    return `${status}; ${cond.reason}: ...${message.slice(Math.max(0, at - 40), at + 80)}...`;
  };

  let first: Record<string, string> = {};
  let current: Record<string, string> = {};

  const steps: Step[] = [
    {
      name: "secrets: an encrypted secret becomes beetle-secrets; Git holds only ciphertext",
      run: async () => {
        // Not in name order: the MAC must survive kustomize's reordering.
        first = { ZETA_TOKEN: value("zeta"), API_KEY: value("api"), DB_PASSWORD: value("db") };
        let sopsRules = "";
        const sha = await commit("beetle: first secrets", (dir) => {
          sopsRules = fs.readFileSync(path.join(dir, SOPS_CONFIG), "utf8");
          writeSecrets(dir, "beetle", env, "beetle-secrets", first);
        });
        await kustomizationAt(infra, "config-beetle", sha, "True");
        const s = await secret(infra, "beetle-secrets");
        const got = decoded(s);
        if (
          JSON.stringify(got) !== JSON.stringify(Object.fromEntries(Object.entries(first).sort()))
        )
          throw new Error(
            `beetle-secrets holds ${JSON.stringify(Object.keys(got))}, not the values committed`,
          );
        if (s.metadata.annotations?.["kustomize.toolkit.fluxcd.io/substitute"] !== "disabled")
          throw new Error("beetle-secrets has no substitute: disabled annotation");
        const status = await statusOf(sha, "config-beetle");
        // Every version of every file in the bare repository: no value in clear.
        const history = await run("git", ["-C", bare, "log", "--all", "-p", "--no-color"]);
        const leaked = Object.values(first).filter((v) => history.stdout.includes(v));
        if (leaked.length > 0)
          throw new Error(`the history holds ${leaked.length} value(s) in clear`);
        const ciphertexts = (history.stdout.match(/ENC\[AES256_GCM/g) ?? []).length;
        current = first;
        return `3 values decrypted by kustomize-controller into ${APP_NAMESPACE}/beetle-secrets; commit status ${status?.state}; git log --all -p: 0 values in clear, ${ciphertexts} ENC[...] lines; .sops.yaml had ${(sopsRules.match(/# >>> /g) ?? []).length} environment block(s)`;
      },
    },
    {
      name: "secrets: a changed secret is applied again",
      run: async () => {
        const before = await secret(infra, "beetle-secrets");
        const next = { ...first, DB_PASSWORD: value("db2") };
        delete (next as Record<string, string>).ZETA_TOKEN;
        const sha = await commit("beetle: rotate the database password", (dir) =>
          writeSecrets(dir, "beetle", env, "beetle-secrets", next),
        );
        await kustomizationAt(infra, "config-beetle", sha, "True");
        const after = await secret(infra, "beetle-secrets");
        const got = decoded(after);
        if (got.DB_PASSWORD !== next.DB_PASSWORD || "ZETA_TOKEN" in got)
          throw new Error(`beetle-secrets is ${JSON.stringify(Object.keys(got))}`);
        if (after.metadata.resourceVersion === before.metadata.resourceVersion)
          throw new Error("beetle-secrets was not updated");
        current = next;
        return "DB_PASSWORD changed, ZETA_TOKEN removed, in the cluster at the commit";
      },
    },
    {
      name: "secrets: a clear-text file is refused, a failure status on the commit, nothing applied",
      run: async () => {
        const before = await secret(infra, "beetle-secrets");
        const sha = await commit("beetle: secrets, forgot to encrypt", (dir) =>
          writeSecrets(dir, "beetle", env, "beetle-secrets", { DB_PASSWORD: value("clear") }, true),
        );
        const reason = await refused(infra, "config-beetle", sha, /sops\.mac. is missing/);
        const after = await secret(infra, "beetle-secrets");
        if (after.metadata.resourceVersion !== before.metadata.resourceVersion)
          throw new Error("beetle-secrets changed");
        return `Ready=False, ${reason}; beetle-secrets unchanged`;
      },
    },
    {
      name: "secrets: one team's folder cannot write another team's Secret",
      run: async () => {
        const before = await secret(infra, "beetle-secrets");
        const sha = await commit("sonar: write beetle's secrets", (dir) => {
          writeSecrets(dir, "beetle", env, "beetle-secrets", current);
          writeSecrets(dir, "sonar", env, "beetle-secrets", { DB_PASSWORD: value("hijack") });
        });
        await kustomizationAt(infra, "config-beetle", sha, "True");
        const reason = await refused(
          infra,
          "config-sonar",
          sha,
          /config-sonar" cannot \w+ resource "secrets"|refused: Secret [\w-]+\/beetle-secrets/,
        );
        const after = await secret(infra, "beetle-secrets");
        if (decoded(after).DB_PASSWORD !== current.DB_PASSWORD)
          throw new Error("beetle-secrets was overwritten");
        if (after.metadata.resourceVersion !== before.metadata.resourceVersion)
          throw new Error("beetle-secrets changed");
        const back = await commit("sonar: undo", (dir) =>
          fs.rmSync(path.join(dir, "sonar", env, "secrets"), { recursive: true }),
        );
        await kustomizationAt(infra, "config-sonar", back, "True");
        return `config-sonar refused (${reason}); beetle-secrets unchanged`;
      },
    },
  ];

  const rotation: Step = {
    name: "secrets: key rotation keeps the old key until the files are re-encrypted",
    run: async () => {
      const sopsAge = () =>
        infra.kubectlJson<{ data: Record<string, string> }>([
          "-n",
          "flux-system",
          "get",
          "secret",
          "sops-age",
        ]);
      const set = await dev.pulumi(["config", "set", "flux-platform:secretsKeyGeneration", "2"]);
      if (set.status !== 0) throw new Error(set.stderr);
      const seconds = await pulumiOk(dev, ["up", "--yes", "--skip-preview"]);
      const keys = Object.keys((await sopsAge()).data).sort();
      if (JSON.stringify(keys) !== JSON.stringify([`${env}-g1.agekey`, `${env}-g2.agekey`]))
        throw new Error(`sops-age holds ${keys.join(", ")}`);
      const out = await dev.pulumi(["stack", "output", "secretsRecipient"]);
      const recipient = out.stdout.trim();
      const old = Buffer.from((await sopsAge()).data[`${env}-g1.agekey`], "base64").toString();
      // The file encrypted to generation 1 still decrypts: the old key is kept.
      const touch = await commit("beetle: unrelated change after the key bump", (dir) =>
        fs.appendFileSync(path.join(dir, "beetle", env, "config.yaml"), "# after the bump\n"),
      );
      await kustomizationAt(infra, "config-beetle", touch, "True");
      if (decoded(await secret(infra, "beetle-secrets")).DB_PASSWORD !== current.DB_PASSWORD)
        throw new Error("beetle-secrets lost its value after the bump");
      // README's step: sops updatekeys with the old identity, against the new .sops.yaml.
      let rules = "";
      let wrapped = "";
      const sha = await commit("beetle: re-encrypt secrets to key generation 2", (dir) => {
        rules = fs.readFileSync(path.join(dir, SOPS_CONFIG), "utf8");
        execFileSync(sops, ["updatekeys", "-y", secretsPath("beetle", env)], {
          cwd: dir,
          env: { ...process.env, SOPS_AGE_KEY: old },
          stdio: ["ignore", "pipe", "pipe"],
        });
        wrapped = fs.readFileSync(path.join(dir, secretsPath("beetle", env)), "utf8");
      });
      if (!rules.includes(`age: ${recipient}`))
        throw new Error(`.sops.yaml does not name the new recipient ${recipient}`);
      if (!wrapped.includes(`recipient: ${recipient}`))
        throw new Error("the re-encrypted file is not for the new recipient");
      await kustomizationAt(infra, "config-beetle", sha, "True");
      const after = await secret(infra, "beetle-secrets");
      if (decoded(after).DB_PASSWORD !== current.DB_PASSWORD)
        throw new Error("beetle-secrets lost its value after re-encryption");
      return `up in ${seconds.toFixed(1)}s: sops-age holds g1 and g2; .sops.yaml names g2's recipient; the g1 file still applied; sops updatekeys with g1's identity re-wrapped it for g2 and Flux applied it`;
    },
  };

  const acrossEnvironments: Step = {
    name: "secrets: each environment's key reads only its own files",
    run: async () => {
      const prd = second.cluster;
      if (!prd) throw new Error("no second environment");
      const penv = second.environment;
      let blocks = 0;
      // prd's file, encrypted by the rule for prd's folder; then the same file in dev's folder,
      // and dev's file in prd's folder.
      const sha = await commit(
        "beetle: prd secrets, and each environment's file swapped",
        (dir) => {
          blocks = (fs.readFileSync(path.join(dir, SOPS_CONFIG), "utf8").match(/# >>> /g) ?? [])
            .length;
          writeSecrets(dir, "beetle", penv, "beetle-secrets", { DB_PASSWORD: value("prd") });
          const prdFile = fs.readFileSync(path.join(dir, secretsPath("beetle", penv)));
          const devFile = fs.readFileSync(path.join(dir, secretsPath("beetle", env)));
          fs.writeFileSync(path.join(dir, secretsPath("beetle", env)), prdFile);
          fs.writeFileSync(path.join(dir, secretsPath("beetle", penv)), devFile);
        },
      );
      if (blocks !== 2) throw new Error(`.sops.yaml holds ${blocks} environment blocks, not 2`);
      const noKey = /(no identity|identity did not) match(ed)? any of the recipients/;
      const devReason = await refused(infra, "config-beetle", sha, noKey);
      const prdReason = await refused(prd, "config-beetle", sha, noKey);
      const back = await commit("beetle: each environment's own file again", (dir) => {
        writeSecrets(dir, "beetle", env, "beetle-secrets", current);
        fs.rmSync(path.join(dir, "beetle", penv, "secrets"), { recursive: true });
      });
      await kustomizationAt(infra, "config-beetle", back, "True");
      await kustomizationAt(prd, "config-beetle", back, "True");
      return `.sops.yaml: 2 blocks (one per stack); dev refused prd's file (${devReason}); prd refused dev's (${prdReason})`;
    },
  };

  return { steps: [...steps, rotation], acrossEnvironments };
}
