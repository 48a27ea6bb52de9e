/**
 * The RepositoryFiles dynamic provider as the Pulumi CLI's Node host runs it: serialized
 * with Pulumi's closure serializer, loaded back from text (require-from-string, as the host
 * does), then check/diff/create/update against the GitHub stand-in.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NOTES, repositoryFilesProvider } from "../components/repositoryFiles";
import { gitOk } from "./github-standin/git";
import { startStandIn, type StandIn } from "./github-standin/server";

const requireFromString = require("require-from-string") as (src: string) => {
  handler: () => typeof repositoryFilesProvider;
};

type Provider = Required<typeof repositoryFilesProvider>;
const TOKEN = "ghp_standin_token";

/** A person committing in a clone. */
const DEV = ["-c", "user.name=dev", "-c", "user.email=dev@example.com"];

describe("RepositoryFiles dynamic provider, serialized as the Pulumi host loads it", function () {
  this.timeout(60_000);
  let standin: StandIn;
  let provider: Provider;
  let inputs: Parameters<Provider["create"]>[0];
  const head = async () =>
    (await gitOk(standin.repoDir("acme", "flux_developer"), ["rev-parse", "main"])).trim();
  const show = (p: string) =>
    gitOk(standin.repoDir("acme", "flux_developer"), ["show", `main:${p}`]);

  before(async () => {
    const text = await pulumi.runtime.serializeFunction(() => repositoryFilesProvider, {
      allowSecrets: true,
    });
    // The serialized text must not carry anything large: lib/github and the provider only.
    expect(text.text.length).to.be.lessThan(200_000);
    provider = requireFromString(text.text).handler() as Provider;
  });

  beforeEach(async () => {
    standin = await startStandIn({
      root: fs.mkdtempSync(path.join(os.tmpdir(), "standin-")),
      token: TOKEN,
    });
    inputs = {
      owner: "acme",
      repository: "flux_developer",
      branch: "main",
      baseUrl: standin.url,
      token: TOKEN,
      subject: "flux-platform: dev",
      files: {
        "beetle/dev/config.yaml": { mode: "scaffold", content: "logLevel: info\n" },
        "beetle/dev/kustomization.yaml": { mode: "sync", content: "kind: Kustomization\n" },
      },
    };
  });
  afterEach(() => standin.close());

  it("previews a repository that does not exist yet without failing", async () => {
    const checked = await provider.check({} as never, inputs);
    expect(checked.inputs).to.deep.equal(inputs);
  });

  it("creates in one commit, then finds nothing to do", async () => {
    await standin.createRepo("acme", "flux_developer");
    const before = await head();
    const created = await provider.create((await provider.check({} as never, inputs)).inputs!);
    expect(created.id).to.equal("acme/flux_developer#main");
    expect(created.outs!.head).to.equal(await head());
    expect(
      await gitOk(standin.repoDir("acme", "flux_developer"), [
        "rev-list",
        "--count",
        `${before}..main`,
      ]),
    ).to.equal("1\n");
    expect(created.outs!.owned).to.deep.equal({
      "beetle/dev/config.yaml": "scaffold",
      "beetle/dev/kustomization.yaml": "sync",
    });
    const checked = (await provider.check(inputs, inputs)).inputs!;
    const diff = await provider.diff(created.id, created.outs!, checked);
    expect(diff.changes).to.equal(false);
  });

  it("shows a hand edit as put back and a kept scaffold as kept, then repairs only the sync file", async () => {
    await standin.createRepo("acme", "flux_developer");
    const created = await provider.create(inputs);
    // Edit both files in the repository, as a person would.
    const dir = standin.repoDir("acme", "flux_developer");
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "clone-"));
    await gitOk(work, ["clone", "-q", dir, "."]);
    fs.writeFileSync(path.join(work, "beetle/dev/config.yaml"), "logLevel: debug\n");
    fs.writeFileSync(path.join(work, "beetle/dev/kustomization.yaml"), "edited\n");
    await gitOk(work, [...DEV, "commit", "-qam", "edit"]);
    await gitOk(work, ["push", "-q", "origin", "main"]);

    const template = {
      ...inputs,
      files: {
        ...inputs.files,
        "beetle/dev/config.yaml": { mode: "scaffold" as const, content: "logLevel: warn\n" },
      },
    };
    const checked = (await provider.check(inputs, template)).inputs!;
    expect(checked.files["beetle/dev/kustomization.yaml"].note).to.equal(NOTES.putBack);
    // The kept scaffold is marked, and carries no content (its owners', not the state's).
    expect(checked.files["beetle/dev/config.yaml"]).to.deep.equal({
      mode: "scaffold",
      note: NOTES.kept,
    });
    expect((await provider.diff(created.id, created.outs!, checked)).changes).to.equal(true);
    const updated = await provider.update(created.id, created.outs!, checked);
    expect(await show("beetle/dev/kustomization.yaml")).to.equal("kind: Kustomization\n");
    expect(await show("beetle/dev/config.yaml")).to.equal("logLevel: debug\n");
    // Still owned, so never written again: deleted by its owners, it stays deleted.
    expect(updated.outs!.owned).to.deep.equal(created.outs!.owned);
    await gitOk(work, ["pull", "-q", "origin", "main"]);
    await gitOk(work, ["rm", "-q", "beetle/dev/config.yaml"]);
    await gitOk(work, [...DEV, "commit", "-qm", "drop the config"]);
    await gitOk(work, ["push", "-q", "origin", "main"]);
    const again = (await provider.check(checked, template)).inputs!;
    expect(again.files["beetle/dev/config.yaml"]).to.deep.equal({
      mode: "scaffold",
      note: NOTES.kept,
    });
    expect((await provider.diff(created.id, updated.outs!, again)).changes).to.equal(false);
  });

  it("section file: previews the whole file it leaves, writes only its own block, then finds nothing to do", async () => {
    await standin.createRepo("acme", "flux_developer");
    const block = (env: string, recipient: string) =>
      `  # >>> flux-platform environment ${env}\n  - age: ${recipient}\n  # <<< flux-platform environment ${env}\n`;
    const template = (env: string, recipient: string) =>
      `creation_rules:\n${block(env, recipient)}`;
    const stack = (env: string, recipient: string): typeof inputs => ({
      ...inputs,
      subject: `flux-platform: ${env}`,
      files: { ".sops.yaml": { mode: "section", content: template(env, recipient) } },
    });
    const prd = stack("prd", "age1prd");
    await provider.create((await provider.check({} as never, prd)).inputs!);
    const dev = stack("dev", "age1dev");
    const both = template("prd", "age1prd") + block("dev", "age1dev");
    const checked = (await provider.check({} as never, dev)).inputs!;
    expect(checked.files[".sops.yaml"]).to.deep.equal({
      mode: "section",
      content: both,
      template: template("dev", "age1dev"),
    });
    const created = await provider.create(checked);
    expect(await show(".sops.yaml")).to.equal(both);
    expect(created.outs!.owned).to.deep.equal({ ".sops.yaml": "section" });
    const again = (await provider.check(checked, dev)).inputs!;
    expect(again.files[".sops.yaml"].content).to.equal(both);
    expect((await provider.diff(created.id, created.outs!, again)).changes).to.equal(false);

    // A hand edit of dev's block is put back; prd's block is prd's.
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "clone-"));
    await gitOk(work, ["clone", "-q", standin.repoDir("acme", "flux_developer"), "."]);
    const edited = both.replace("age1dev", "age1someone").replace("age1prd", "age1prd-rotated");
    fs.writeFileSync(path.join(work, ".sops.yaml"), edited);
    const id = ["-c", "user.name=dev", "-c", "user.email=dev@example.com"];
    await gitOk(work, [...id, "commit", "-qam", "edit"]);
    await gitOk(work, ["push", "-q", "origin", "main"]);
    const repaired = both.replace("age1prd", "age1prd-rotated");
    const next = (await provider.check(again, dev)).inputs!;
    expect(next.files[".sops.yaml"]).to.deep.include({ content: repaired, note: NOTES.putBack });
    expect((await provider.diff(created.id, created.outs!, next)).changes).to.equal(true);
    await provider.update(created.id, created.outs!, next);
    expect(await show(".sops.yaml")).to.equal(repaired);
  });

  it("asks for a replacement when the repository or branch changes", async () => {
    await standin.createRepo("acme", "flux_developer");
    const created = await provider.create(inputs);
    const diff = await provider.diff(created.id, created.outs!, { ...inputs, repository: "other" });
    expect(diff.replaces).to.deep.equal(["owner", "repository", "branch"]);
  });
});
