/**
 * The repository writer against the local GitHub stand-in (test/github-standin): a real HTTP
 * server over real bare git repositories, recording every request.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { apiBaseUrl, githubClient } from "../lib/github/api";
import { gitBlobSha, ownedBy, planChanges, type DesiredFiles } from "../lib/github/plan";
import { readBranch, writeFiles, type RepoTarget } from "../lib/github/writer";
import { gitOk } from "./github-standin/git";
import { startStandIn, type StandIn } from "./github-standin/server";

const TOKEN = "ghp_standin_token";
const T: RepoTarget = { owner: "acme", repo: "flux_platform", branch: "main" };

const sync = (content: string) => ({ mode: "sync" as const, content });
const scaffold = (content: string) => ({ mode: "scaffold" as const, content });

describe("repository writer: plan (pure)", () => {
  it("computes git's blob SHA", () => {
    // `printf 'hello\n' | git hash-object --stdin`
    expect(gitBlobSha("hello\n")).to.equal("ce013625030ba8dba906f756967f9e9ca394464a");
  });

  it("puts back sync files, writes scaffold files once, deletes only sync files it owned", () => {
    const desired: DesiredFiles = { a: sync("A"), s: scaffold("S"), gone: scaffold("G") };
    const live = new Map([
      ["a", gitBlobSha("hand edit")],
      ["old", gitBlobSha("x")],
      ["theirs", gitBlobSha("y")],
      ["s", gitBlobSha("edited by the team")],
    ]);
    const owned = { old: "sync", theirs: undefined, gone: "scaffold" } as never;
    expect(planChanges(desired, live, owned)).to.deep.equal([
      { kind: "update", path: "a", content: "A" },
      { kind: "delete", path: "old" },
    ]);
  });
});

describe("repository writer against the GitHub stand-in", () => {
  let standin: StandIn;
  let dir: string;
  const gh = () => githubClient({ token: TOKEN, baseUrl: standin.url }, { minWriteIntervalMs: 0 });
  const writes = () => standin.requests.filter((r) => r.method !== "GET");
  const commits = async () => Number((await gitOk(dir, ["rev-list", "--count", "main"])).trim());
  const show = (p: string) => gitOk(dir, ["show", `main:${p}`]);
  const files: DesiredFiles = {
    "environments/dev/apps/beetle/kustomization.yaml": sync("beetle: 1\n"),
    "environments/dev/apps/sonar/kustomization.yaml": sync("sonar: 1\n"),
    "beetle/dev/config.yaml": scaffold("logLevel: info\n"),
  };

  beforeEach(async () => {
    standin = await startStandIn({
      root: fs.mkdtempSync(path.join(os.tmpdir(), "standin-")),
      token: TOKEN,
    });
    await standin.createRepo(T.owner, T.repo);
    dir = standin.repoDir(T.owner, T.repo);
    standin.requests.length = 0;
  });
  afterEach(() => standin.close());

  it("addresses GitHub Enterprise Server under /api/v3, like the GitHub provider", () => {
    expect(apiBaseUrl(undefined)).to.equal("https://api.github.com");
    expect(apiBaseUrl("https://api.github.com/")).to.equal("https://api.github.com");
    expect(apiBaseUrl("https://ghe.example.com/")).to.equal("https://ghe.example.com/api/v3");
    expect(apiBaseUrl("https://ghe.example.com/api/v3/")).to.equal(
      "https://ghe.example.com/api/v3",
    );
  });

  it("first write: every file in ONE commit, through the /api/v3 paths", async () => {
    const r = await writeFiles(gh(), T, files, {}, "flux-platform: dev");
    expect(r.changes.map((c) => c.kind)).to.deep.equal(["add", "add", "add"]);
    expect(await commits()).to.equal(2);
    expect(await show("environments/dev/apps/beetle/kustomization.yaml")).to.equal("beetle: 1\n");
    expect(await show("README.md")).to.equal("# flux_platform\n");
    expect(standin.requests.every((q) => q.enterprise)).to.equal(true);
    expect(writes().map((w) => `${w.method} ${w.path} ${w.status}`)).to.deep.equal([
      "POST /repos/acme/flux_platform/git/trees 201",
      "POST /repos/acme/flux_platform/git/commits 201",
      "PATCH /repos/acme/flux_platform/git/refs/heads/main 200",
    ]);
    const head = (await gitOk(dir, ["rev-parse", "main"])).trim();
    expect(r.commit).to.equal(head);
    const message = await gitOk(dir, ["log", "-1", "--format=%an%n%B", "main"]);
    expect(message).to.contain("flux-platform\nflux-platform: dev\n\nadd beetle/dev/config.yaml");
  });

  it("no-op: nothing changed, no commit and no write", async () => {
    await writeFiles(gh(), T, files, {}, "first");
    standin.requests.length = 0;
    const r = await writeFiles(gh(), T, files, ownedBy(files), "second");
    expect(r.commit).to.equal(undefined);
    expect(await commits()).to.equal(2);
    expect(writes()).to.deep.equal([]);
    expect(standin.requests.map((q) => q.method)).to.deep.equal(["GET", "GET", "GET"]);
  });

  it("one changed file: one commit that carries only that file", async () => {
    await writeFiles(gh(), T, files, {}, "first");
    standin.requests.length = 0;
    const changed = {
      ...files,
      "environments/dev/apps/sonar/kustomization.yaml": sync("sonar: 2\n"),
    };
    await writeFiles(gh(), T, changed, ownedBy(files), "second");
    expect(await commits()).to.equal(3);
    expect(await gitOk(dir, ["diff", "--name-only", "main~1", "main"])).to.equal(
      "environments/dev/apps/sonar/kustomization.yaml\n",
    );
    const trees = writes().filter((w) => w.path.endsWith("/git/trees"));
    expect(trees.map((t) => t.treePaths)).to.deep.equal([
      ["environments/dev/apps/sonar/kustomization.yaml"],
    ]);
  });

  it("keeps a developer's edit of a scaffold file, puts back a hand edit of a sync file", async () => {
    await writeFiles(gh(), T, files, {}, "first");
    // Someone commits on main through the API, as a developer or a hand edit would.
    const base = await readBranch(gh(), T);
    const client = gh();
    const tree = await client.request("POST /repos/{owner}/{repo}/git/trees", {
      owner: T.owner,
      repo: T.repo,
      base_tree: base.tree,
      tree: [
        {
          path: "beetle/dev/config.yaml",
          mode: "100644",
          type: "blob",
          content: "logLevel: debug\n",
        },
        {
          path: "environments/dev/apps/beetle/kustomization.yaml",
          mode: "100644",
          type: "blob",
          content: "hand edit\n",
        },
      ],
    });
    const commit = await client.request("POST /repos/{owner}/{repo}/git/commits", {
      owner: T.owner,
      repo: T.repo,
      message: "developer edit",
      tree: tree.data.sha,
      parents: [base.commit],
    });
    await client.request("PATCH /repos/{owner}/{repo}/git/refs/{ref}", {
      owner: T.owner,
      repo: T.repo,
      ref: "heads/main",
      sha: commit.data.sha,
    });

    const r = await writeFiles(gh(), T, files, ownedBy(files), "third");
    expect(r.changes).to.deep.equal([
      {
        kind: "update",
        path: "environments/dev/apps/beetle/kustomization.yaml",
        content: "beetle: 1\n",
      },
    ]);
    expect(await show("beetle/dev/config.yaml")).to.equal("logLevel: debug\n");
    expect(await show("environments/dev/apps/beetle/kustomization.yaml")).to.equal("beetle: 1\n");
  });

  it("re-up after destroy (nothing owned yet): sync files overwritten, scaffold files kept", async () => {
    await writeFiles(gh(), T, files, {}, "first");
    const edited = { ...files, "beetle/dev/config.yaml": scaffold("something else\n") };
    const stale = {
      ...edited,
      "environments/dev/apps/beetle/kustomization.yaml": sync("beetle: 2\n"),
    };
    const r = await writeFiles(gh(), T, stale, {}, "after destroy");
    expect(r.changes.map((c) => `${c.kind} ${c.path}`)).to.deep.equal([
      "update environments/dev/apps/beetle/kustomization.yaml",
    ]);
    expect(await show("beetle/dev/config.yaml")).to.equal("logLevel: info\n");
  });

  it("deletes a file that left the render in the same commit, leaves undeclared files alone", async () => {
    await writeFiles(gh(), T, files, {}, "first");
    const fewer = { ...files };
    delete (fewer as Record<string, unknown>)["environments/dev/apps/sonar/kustomization.yaml"];
    fewer["environments/dev/apps/tiger/kustomization.yaml"] = sync("tiger: 1\n");
    await writeFiles(gh(), T, fewer, ownedBy(files), "second");
    expect(await commits()).to.equal(3);
    expect(await gitOk(dir, ["diff", "--name-status", "main~1", "main"])).to.equal(
      "D\tenvironments/dev/apps/sonar/kustomization.yaml\nA\tenvironments/dev/apps/tiger/kustomization.yaml\n",
    );
    expect(await show("README.md")).to.equal("# flux_platform\n");
  });

  it("waits out a 403 secondary rate limit for its retry-after, then succeeds", async () => {
    standin.addFault({
      method: "POST",
      path: "/git/trees$",
      status: 403,
      message: "",
      retryAfter: 1,
      times: 1,
    });
    const started = Date.now();
    await writeFiles(gh(), T, files, {}, "first");
    expect(Date.now() - started).to.be.at.least(1000);
    expect(
      standin.requests.filter((q) => q.path.endsWith("/git/trees")).map((q) => q.status),
    ).to.deep.equal([403, 201]);
    expect(await commits()).to.equal(2);
  });

  it("two stacks writing the same repository at once lose nothing", async () => {
    const dev: DesiredFiles = { "environments/dev/apps/a/k.yaml": sync("dev\n") };
    const prd: DesiredFiles = { "environments/prd/apps/a/k.yaml": sync("prd\n") };
    const [a, b] = await Promise.all([
      writeFiles(gh(), T, dev, {}, "dev"),
      writeFiles(gh(), T, prd, {}, "prd"),
    ]);
    expect(await show("environments/dev/apps/a/k.yaml")).to.equal("dev\n");
    expect(await show("environments/prd/apps/a/k.yaml")).to.equal("prd\n");
    expect(await commits()).to.equal(3);
    expect(a.retries + b.retries).to.equal(1);
    expect(standin.requests.filter((q) => q.status === 422)).to.have.length(1);
  });

  it("refuses a wrong token (401), and reports a missing branch naming the repository", async () => {
    const bad = githubClient({ token: "wrong", baseUrl: standin.url }, { minWriteIntervalMs: 0 });
    let err: unknown;
    try {
      await writeFiles(bad, T, files, {}, "x");
    } catch (e) {
      err = e;
    }
    expect((err as { status?: number }).status).to.equal(401);
    let missing: unknown;
    try {
      await readBranch(gh(), { ...T, branch: "nope" });
    } catch (e) {
      missing = e;
    }
    expect(String(missing)).to.contain("acme/flux_platform: branch nope does not exist");
  });
});
