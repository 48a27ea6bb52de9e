/**
 * The repository writer against the local GitHub stand-in (test/github-standin): a real HTTP
 * server over real bare git repositories, recording every request.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { apiBaseUrl, githubClient } from "../lib/github/api";
import {
  gitBlobSha,
  ownedBy,
  planChanges,
  spliceSection,
  type DesiredFiles,
} from "../lib/github/plan";
import { readBranch, readSectionTexts, writeFiles, type RepoTarget } from "../lib/github/writer";
import { git, gitOk, writeTree } from "./github-standin/git";
import { startStandIn, type StandIn } from "./github-standin/server";

const TOKEN = "ghp_standin_token";
const T: RepoTarget = { owner: "acme", repo: "flux_platform", branch: "main" };

const ID = {
  GIT_AUTHOR_NAME: "someone",
  GIT_AUTHOR_EMAIL: "someone@example.com",
  GIT_COMMITTER_NAME: "someone",
  GIT_COMMITTER_EMAIL: "someone@example.com",
};

const sync = (content: string) => ({ mode: "sync" as const, content });

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a failure");
}
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

/** One environment's block of `.sops.yaml`, as each stack writes its own. */
const sopsBlock = (env: string, recipient: string, indent = "  ") =>
  `${indent}# >>> flux-platform environment ${env}\n` +
  `${indent}- path_regex: ${env}/.*\\.yaml$\n` +
  `${indent}  age: ${recipient}\n` +
  `${indent}# <<< flux-platform environment ${env}\n`;
/** `.sops.yaml` as one stack writes it when it is missing. */
const sopsFile = (env: string, recipient: string) =>
  `creation_rules:\n${sopsBlock(env, recipient)}`;
const section = (content: string) => ({ mode: "section" as const, content });

describe("repository writer: section files (pure)", () => {
  const dev = sopsFile("dev", "age1dev");

  it("a missing file is the stack's content as it is", () => {
    expect(spliceSection(undefined, dev)).to.equal(dev);
  });

  it("replaces only its own block: another stack's block and hand-written lines stay byte for byte", () => {
    // CRLF, a person's comments, prd's block first, dev's indented differently, no final newline.
    const head = "# edited by hand\r\ncreation_rules:\n" + sopsBlock("prd", "age1prd");
    const middle = "  # keep this note\n";
    const tail = "  - path_regex: shared/.*\n    age: age1team";
    const live = head + middle + sopsBlock("dev", "age1old", "    ") + tail;
    expect(spliceSection(live, dev)).to.equal(head + middle + sopsBlock("dev", "age1dev") + tail);
    // Its own block, as it is, is no change.
    const same = head + middle + sopsBlock("dev", "age1dev") + tail;
    expect(spliceSection(same, dev)).to.equal(same);
  });

  it("appends its block when the file has none, after a line break, once", () => {
    const prd = sopsFile("prd", "age1prd");
    const both = prd + sopsBlock("dev", "age1dev");
    expect(spliceSection(prd, dev)).to.equal(both);
    expect(spliceSection(prd.replace(/\n$/, ""), dev)).to.equal(both);
    expect(spliceSection(both, dev)).to.equal(both);
    expect(spliceSection("", dev)).to.equal(sopsBlock("dev", "age1dev"));
  });

  it("refuses a broken block of its id in the file, naming the id, and leaves other ids' alone", () => {
    const open = "  # >>> flux-platform environment dev\n";
    const close = "  # <<< flux-platform environment dev\n";
    const prd = sopsBlock("prd", "age1prd");
    for (const live of [
      `creation_rules:\n${open}  - age: x\n`, // opened, never closed
      `creation_rules:\n${close}  - age: x\n`, // closed, never opened
      `creation_rules:\n${close}${open}`, // in the wrong order
      `creation_rules:\n${open}${open}${close}`, // opened twice
      `creation_rules:\n${open}${prd}${close}`, // prd's block inside it
    ]) {
      expect(() => spliceSection(live, dev), live).to.throw(
        /block "flux-platform environment dev" is broken .* must be fixed by hand/,
      );
    }
    // prd's broken block is not dev's to repair, nor a reason to refuse its own.
    const theirs = `creation_rules:\n  # >>> flux-platform environment prd\n`;
    expect(spliceSection(theirs, dev)).to.equal(theirs + sopsBlock("dev", "age1dev"));
  });

  it("refuses content without exactly one well-formed block, saying what is wrong", () => {
    const open = "# >>> a\n";
    for (const [content, said] of [
      ["creation_rules: []\n", /no opening "# >>> <id>" line/],
      [`${open}x: 1\n`, /block "a" needs one closing "# <<< a" line/],
      [`${open}x: 1\n# <<< b\n`, /block "a" needs one closing "# <<< a" line/],
      [`# <<< a\n${open}`, /block "a" needs one closing "# <<< a" line/],
      [`${open}# <<< a\n# >>> b\n# <<< b\n`, /one block, not several \("a", "b"\)/],
      ["# >>> \n# <<< \n", /opening "# >>> " line has no id/],
    ] as const) {
      expect(() => spliceSection(undefined, content), content).to.throw(said);
      expect(() => spliceSection("x: 1\n", content), content).to.throw(said);
    }
  });

  it("plans a section file on its text: no update when equal, its block put back, never deleted", () => {
    const path = ".sops.yaml";
    const desired: DesiredFiles = { [path]: section(dev) };
    const both = sopsFile("prd", "age1prd") + sopsBlock("dev", "age1dev");
    const tree = (text: string) => new Map([[path, gitBlobSha(text)]]);
    const text = (t: string) => new Map([[path, t]]);
    expect(planChanges(desired, new Map(), {})).to.deep.equal([
      { kind: "add", path, content: dev },
    ]);
    expect(planChanges(desired, tree(both), ownedBy(desired), text(both))).to.deep.equal([]);
    const edited = both.replace("age: age1dev", "age: age1someone");
    expect(planChanges(desired, tree(edited), ownedBy(desired), text(edited))).to.deep.equal([
      { kind: "update", path, content: both },
    ]);
    // Left the render: prd's block still lives in it.
    expect(planChanges({}, tree(both), ownedBy(desired), text(both))).to.deep.equal([]);
    // Its text must be read, and be the blob the tree names.
    expect(() => planChanges(desired, tree(both), {})).to.throw(
      ".sops.yaml: a section file on the branch, but its text was not read",
    );
    expect(() => planChanges(desired, tree(both), {}, text(edited))).to.throw(
      `.sops.yaml: the text read is not the blob ${gitBlobSha(both)} the branch holds`,
    );
    const broken = "  # >>> flux-platform environment dev\n";
    expect(() => planChanges(desired, tree(broken), {}, text(broken))).to.throw(
      /^\.sops\.yaml: the file's block "flux-platform environment dev" is broken/,
    );
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

  describe("transient failures (issue: faults)", () => {
    const fast = () =>
      githubClient(
        { token: TOKEN, baseUrl: standin.url },
        { minWriteIntervalMs: 0, retryAfterBaseMs: 10 },
      );

    it("retries a 502 on an idempotent call and commits once", async () => {
      standin.addFault({
        method: "POST",
        path: "/git/trees$",
        status: 502,
        message: "Server Error",
        times: 2,
      });
      await writeFiles(fast(), T, files, {}, "first");
      expect(
        standin.requests.filter((q) => q.path.endsWith("/git/trees")).map((q) => q.status),
      ).to.deep.equal([502, 502, 201]);
      expect(await commits()).to.equal(2);
    });

    it("gives up after 4 attempts with one line naming the call, the status and the attempts", async () => {
      standin.addFault({
        method: "GET",
        path: "/git/ref/",
        status: 503,
        message: "Service Unavailable",
        times: 10,
      });
      const err = await failure(writeFiles(fast(), T, files, {}, "first"));
      expect(String(err)).to.match(
        /GitHub GET \/repos\/acme\/flux_platform\/git\/ref\/heads%2Fmain: 503 Service Unavailable \(gave up after 4 attempts\)/,
      );
      expect(String(err)).to.not.contain("\n");
      expect(standin.requests.filter((q) => q.path.includes("/git/ref/"))).to.have.length(4);
      expect(await commits()).to.equal(1);
    });

    it("gives an answer that never comes a deadline per attempt, then gives up naming the call", async () => {
      const slow = githubClient(
        { token: TOKEN, baseUrl: standin.url },
        { minWriteIntervalMs: 0, retryAfterBaseMs: 10, timeoutMs: 200 },
      );
      standin.setChaos({
        seed: 1,
        rates: { slow: 1 },
        slowMs: 2000,
        methods: ["GET"],
        path: "/git/ref/",
      });
      const started = Date.now();
      const err = await failure(writeFiles(slow, T, files, {}, "first"));
      standin.setChaos(undefined);
      expect(String(err)).to.match(
        /GitHub GET \/repos\/acme\/flux_platform\/git\/ref\/heads%2Fmain: no answer \(.*\) \(gave up after 4 attempts\)/,
      );
      // 4 attempts of 200 ms and the retries' waits, far from 4 answers of 2 s.
      expect(Date.now() - started).to.be.below(4000);
      expect(standin.chaos().injected.slow).to.equal(4);
    });

    it("never repeats the Contents API's first commit blindly: reads the branch, sends again only while it is empty", async () => {
      const empty = { owner: "acme", repo: "faulty-empty", branch: "main" };
      await standin.createRepo(empty.owner, empty.repo, { autoInit: false });
      standin.addFault({
        method: "PUT",
        path: "/contents/",
        status: 502,
        message: "Server Error",
        times: 1,
      });
      await writeFiles(fast(), empty, files, {}, "first");
      const puts = standin.requests.filter((q) => q.method === "PUT").map((q) => q.status);
      // One 502 (no retry by plugin-retry), a read that finds the repository still empty, one more PUT.
      expect(puts).to.deep.equal([502, 201]);
      const d = standin.repoDir(empty.owner, empty.repo);
      expect(await gitOk(d, ["rev-list", "--count", "main"])).to.equal("2\n");
    });
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
  /** Another writer commits `p` on main straight in the bare repository. */
  const moveMain = async (p: string, content: string) => {
    const head = (await gitOk(dir, ["rev-parse", "main"])).trim();
    const tree = await writeTree(dir, `${head}^{tree}`, [{ path: p, mode: "100644", content }]);
    const args = ["commit-tree", tree, "-p", head, "-m", `someone else: ${p}`];
    const c = (await gitOk(dir, args, { env: ID })).trim();
    await gitOk(dir, ["update-ref", "refs/heads/main", c, head]);
  };
  const count = (method: string, suffix: string | RegExp) =>
    standin.requests.filter(
      (q) =>
        q.method === method &&
        (typeof suffix === "string" ? q.path.endsWith(suffix) : suffix.test(q.path)),
    );

  for (const [kind, said] of [
    ["protection", "Protected branch update failed for refs/heads/main."],
    ["ruleset", "Repository rule violations found: Changes must be made through a pull request."],
  ] as const) {
    it(`a branch that refuses direct updates (${kind}): one commit attempted, no retry, one line saying what to allow`, async () => {
      standin.protectBranch(T.owner, T.repo, T.branch, kind);
      const err = await failure(writeFiles(gh(), T, files, {}, "flux-platform: dev"));
      expect(err.message).to.not.contain("\n");
      expect(err.message).to.contain("acme/flux_platform: GitHub refused to move branch main");
      expect(err.message).to.contain(said);
      expect(err.message).to.contain("allow the token's user/App to bypass");
      expect(err.message).to.contain(
        "or lift the protection or ruleset from the branch the platform writes (main)",
      );
      expect(count("POST", "/git/commits")).to.have.length(1);
      expect(count("PATCH", "/git/refs/heads/main").map((q) => q.status)).to.deep.equal([422]);
      // The ref read after the 422 showed it unmoved: no second plan.
      expect(count("GET", "/git/ref/heads/main")).to.have.length(2);
      expect(await commits()).to.equal(1);
    });
  }

  it("a real race (the branch moves between plan and update) is planned again and loses nothing", async () => {
    const client = gh();
    let moved = false;
    client.hook.before("request", async (o) => {
      if (o.method === "PATCH" && !moved) {
        moved = true;
        await moveMain("someone/else.yaml", "theirs\n");
      }
    });
    const r = await writeFiles(client, T, files, {}, "flux-platform: dev");
    expect(r.retries).to.equal(1);
    expect(await show("someone/else.yaml")).to.equal("theirs\n");
    expect(await show("environments/dev/apps/beetle/kustomization.yaml")).to.equal("beetle: 1\n");
    expect(await commits()).to.equal(3); // README, theirs, ours
    expect(count("POST", "/git/commits")).to.have.length(2);
    expect(count("PATCH", "/git/refs/heads/main").map((q) => q.status)).to.deep.equal([422, 200]);
    // The read after the 422 named the new head: planned on it without reading the ref again.
    expect(count("GET", "/git/ref/heads/main")).to.have.length(2);
  });

  it("a branch that keeps moving: gives up after maxAttempts, saying how many times it moved", async () => {
    const client = gh();
    let n = 0;
    client.hook.before("request", async (o) => {
      if (o.method === "PATCH") await moveMain(`someone/${n++}.yaml`, "x\n");
    });
    const err = await failure(writeFiles(client, T, files, {}, "dev", { maxAttempts: 3 }));
    expect(err.message).to.contain("acme/flux_platform: branch main kept moving: it moved 3 times");
    expect(err.message).to.contain("Update is not a fast forward");
    expect(count("POST", "/git/commits")).to.have.length(3);
    expect(count("PATCH", "/git/refs/heads/main").map((q) => q.status)).to.deep.equal([
      422, 422, 422,
    ]);
  });

  it("a brand-new repository not readable yet (404 twice): waits with backoff, then writes", async () => {
    const fresh: RepoTarget = { ...T, repo: "fresh" };
    await standin.createRepo(fresh.owner, fresh.repo, { invisibleRefReads: 2 });
    standin.requests.length = 0;
    const waits: number[] = [];
    const sleep = (ms: number) => (waits.push(ms), Promise.resolve());
    const r = await writeFiles(gh(), fresh, files, {}, "flux-platform: dev", { sleep });
    expect(r.commit).to.be.a("string");
    expect(waits).to.deep.equal([250, 500]);
    expect(count("GET", "/git/ref/heads/main").map((q) => q.status)).to.deep.equal([404, 404, 200]);
    const bare = standin.repoDir(fresh.owner, fresh.repo);
    expect(await gitOk(bare, ["show", "main:beetle/dev/config.yaml"])).to.equal("logLevel: info\n");
  });

  it("a branch that never appears: fails after the bounded wait with the missing-branch line", async () => {
    const fresh: RepoTarget = { ...T, repo: "fresh" };
    await standin.createRepo(fresh.owner, fresh.repo, { invisibleRefReads: 1_000 });
    standin.requests.length = 0;
    const waits: number[] = [];
    const sleep = (ms: number) => (waits.push(ms), Promise.resolve());
    const err = await failure(writeFiles(gh(), fresh, files, {}, "dev", { sleep }));
    expect(err.message).to.equal(
      "acme/fresh: branch main does not exist (or the token cannot read it); waited 30 s for it to appear",
    );
    expect(waits.reduce((a, b) => a + b, 0)).to.equal(30_000);
    expect(count("GET", "/git/ref/heads/main")).to.have.length(waits.length + 1);
    expect(writes()).to.deep.equal([]);
  });

  it("an adopted EMPTY repository: one Contents API commit (the first file), then one tree commit", async () => {
    const empty: RepoTarget = { ...T, repo: "adopted" };
    await standin.createRepo(empty.owner, empty.repo, { autoInit: false });
    const bare = standin.repoDir(empty.owner, empty.repo);
    standin.requests.length = 0;
    // A preview reads it as a branch that does not exist yet (every file an add).
    expect(String(await failure(readBranch(gh(), empty)))).to.contain(
      "acme/adopted: branch main does not exist: the repository is empty",
    );
    standin.requests.length = 0;
    const r = await writeFiles(gh(), empty, files, {}, "flux-platform: dev");
    expect(r.changes.map((c) => `${c.kind} ${c.path}`)).to.deep.equal([
      "add beetle/dev/config.yaml",
      "add environments/dev/apps/beetle/kustomization.yaml",
      "add environments/dev/apps/sonar/kustomization.yaml",
    ]);
    expect(writes().map((w) => `${w.method} ${w.path} ${w.status}`)).to.deep.equal([
      "PUT /repos/acme/adopted/contents/beetle/dev/config.yaml 201",
      "POST /repos/acme/adopted/git/trees 201",
      "POST /repos/acme/adopted/git/commits 201",
      "PATCH /repos/acme/adopted/git/refs/heads/main 200",
    ]);
    expect(count("GET", "/git/ref/heads/main").map((q) => q.status)).to.deep.equal([409]);
    expect((await gitOk(bare, ["rev-list", "--count", "main"])).trim()).to.equal("2");
    expect(await gitOk(bare, ["ls-tree", "-r", "--name-only", "main~1"])).to.equal(
      "beetle/dev/config.yaml\n",
    );
    expect(
      await gitOk(bare, ["show", "main:environments/dev/apps/sonar/kustomization.yaml"]),
    ).to.equal("sonar: 1\n");
    expect(r.commit).to.equal((await gitOk(bare, ["rev-parse", "main"])).trim());
    // The next up is a no-op on it.
    standin.requests.length = 0;
    const again = await writeFiles(gh(), empty, files, ownedBy(files), "second");
    expect(again.commit).to.equal(undefined);
    expect(writes()).to.deep.equal([]);
  });

  it("an adopted empty repository and one file: the Contents API commit is the only one", async () => {
    const empty: RepoTarget = { ...T, repo: "adopted" };
    await standin.createRepo(empty.owner, empty.repo, { autoInit: false });
    standin.requests.length = 0;
    const one: DesiredFiles = { "a/b.yaml": sync("b\n") };
    const r = await writeFiles(gh(), empty, one, {}, "flux-platform: dev");
    expect(writes().map((w) => `${w.method} ${w.path} ${w.status}`)).to.deep.equal([
      "PUT /repos/acme/adopted/contents/a/b.yaml 201",
    ]);
    const bare = standin.repoDir(empty.owner, empty.repo);
    expect(r.commit).to.equal((await gitOk(bare, ["rev-parse", "main"])).trim());
    expect(r.changes).to.deep.equal([{ kind: "add", path: "a/b.yaml", content: "b\n" }]);
  });

  it("an empty repository whose branch refuses direct pushes: one line, nothing written", async () => {
    const empty: RepoTarget = { ...T, repo: "adopted" };
    await standin.createRepo(empty.owner, empty.repo, { autoInit: false });
    standin.protectBranch(empty.owner, empty.repo, "main", "ruleset");
    const err = await failure(writeFiles(gh(), empty, files, {}, "dev"));
    expect(err.message).to.not.contain("\n");
    expect(err.message).to.contain(
      "acme/adopted: the repository is empty and GitHub refused its first commit on main",
    );
    expect(err.message).to.contain("allow the token's user/App to bypass");
    const bare = standin.repoDir(empty.owner, empty.repo);
    expect((await gitOk(bare, ["for-each-ref"])).trim()).to.equal("");
  });

  const SOPS = ".sops.yaml";
  const devSops: DesiredFiles = { [SOPS]: section(sopsFile("dev", "age1dev")) };
  const prdSops: DesiredFiles = { [SOPS]: section(sopsFile("prd", "age1prd")) };
  const blobReads = () => count("GET", /\/git\/blobs\/[0-9a-f]{40}$/);

  it("section: two stacks write their own block of one file in turn; the same again is no commit", async () => {
    await writeFiles(gh(), T, devSops, {}, "flux-platform: dev");
    expect(await show(SOPS)).to.equal(sopsFile("dev", "age1dev"));
    const prd = await writeFiles(gh(), T, prdSops, {}, "flux-platform: prd");
    expect(prd.changes.map((c) => `${c.kind} ${c.path}`)).to.deep.equal([`update ${SOPS}`]);
    const both = sopsFile("dev", "age1dev") + sopsBlock("prd", "age1prd");
    expect(await show(SOPS)).to.equal(both);
    expect(await commits()).to.equal(3);

    standin.requests.length = 0;
    for (const [desired, env] of [
      [devSops, "dev"],
      [prdSops, "prd"],
    ] as const) {
      const again = await writeFiles(gh(), T, desired, ownedBy(desired), `flux-platform: ${env}`);
      expect(again.commit, env).to.equal(undefined);
    }
    expect(writes()).to.deep.equal([]);
    expect(blobReads().map((q) => q.status)).to.deep.equal([200, 200]);
    expect(await commits()).to.equal(3);

    // dev's new recipient changes dev's block only; dev leaving the render deletes nothing.
    const rotated: DesiredFiles = { [SOPS]: section(sopsFile("dev", "age1new")) };
    await writeFiles(gh(), T, rotated, ownedBy(devSops), "flux-platform: dev");
    expect(await show(SOPS)).to.equal(sopsFile("dev", "age1new") + sopsBlock("prd", "age1prd"));
    expect((await writeFiles(gh(), T, {}, ownedBy(rotated), "dev")).commit).to.equal(undefined);
    expect(await commits()).to.equal(4);
  });

  it("section: the branch moves under the write (another stack's block): read again, both kept", async () => {
    await writeFiles(gh(), T, devSops, {}, "flux-platform: dev");
    const client = gh();
    let moved = false;
    client.hook.before("request", async (o) => {
      if (o.method === "PATCH" && !moved) {
        moved = true;
        const live = await readBranch(gh(), T);
        const texts = await readSectionTexts(gh(), T, prdSops, live.files);
        await moveMain(SOPS, spliceSection(texts.get(SOPS), prdSops[SOPS].content));
      }
    });
    const rotated: DesiredFiles = { [SOPS]: section(sopsFile("dev", "age1new")) };
    const r = await writeFiles(client, T, rotated, ownedBy(devSops), "flux-platform: dev");
    expect(r.retries).to.equal(1);
    expect(await show(SOPS)).to.equal(sopsFile("dev", "age1new") + sopsBlock("prd", "age1prd"));
  });

  it("section: an adopted empty repository gets it by the Contents API, read back, then the rest", async () => {
    const empty: RepoTarget = { ...T, repo: "adopted" };
    await standin.createRepo(empty.owner, empty.repo, { autoInit: false });
    standin.requests.length = 0;
    const desired = { ...devSops, "a/b.yaml": sync("b\n") };
    const r = await writeFiles(gh(), empty, desired, {}, "flux-platform: dev");
    expect(r.changes.map((c) => `${c.kind} ${c.path}`)).to.deep.equal([
      `add ${SOPS}`,
      "add a/b.yaml",
    ]);
    expect(writes().map((w) => `${w.method} ${w.path} ${w.status}`)).to.deep.equal([
      `PUT /repos/acme/adopted/contents/${SOPS} 201`,
      "POST /repos/acme/adopted/git/trees 201",
      "POST /repos/acme/adopted/git/commits 201",
      "PATCH /repos/acme/adopted/git/refs/heads/main 200",
    ]);
    expect(blobReads().map((q) => q.status)).to.deep.equal([200]);
    const bare = standin.repoDir(empty.owner, empty.repo);
    expect(await gitOk(bare, ["show", `main:${SOPS}`])).to.equal(sopsFile("dev", "age1dev"));
  });
});

/** The parts of the stand-in's answers these tests read. */
interface Answer {
  message?: string;
  status?: string;
  protected?: boolean;
  default_branch?: string;
  commit: { sha: string; message: string; parents: { sha: string }[]; tree: { sha: string } };
  content: { path: string; sha: string };
}

describe("GitHub stand-in: protected branches, empty repositories", () => {
  let standin: StandIn;
  let work: string;
  const call = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${standin.url}${route}`, {
      method,
      headers: { authorization: `token ${TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, data: (text ? JSON.parse(text) : {}) as Answer };
  };
  const url = (repo: string) =>
    `${standin.url.replace("://", `://x-access-token:${TOKEN}@`)}/acme/${repo}.git`;

  beforeEach(async () => {
    standin = await startStandIn({
      root: fs.mkdtempSync(path.join(os.tmpdir(), "standin-")),
      token: TOKEN,
    });
    work = fs.mkdtempSync(path.join(os.tmpdir(), "standin-work-"));
  });
  afterEach(() => standin.close());

  it("a protected branch: PATCH (even forced) is 422 with GitHub's message, git push is refused", async () => {
    await standin.createRepo("acme", "p");
    const bare = standin.repoDir("acme", "p");
    const head = (await gitOk(bare, ["rev-parse", "main"])).trim();
    const clone = path.join(work, "p");
    await gitOk(work, ["clone", "-q", url("p"), clone]);
    fs.writeFileSync(path.join(clone, "x.txt"), "x\n");
    await gitOk(clone, ["add", "x.txt"]);
    await gitOk(clone, ["commit", "-q", "-m", "x"], { env: ID });
    const next = (await gitOk(clone, ["rev-parse", "HEAD"])).trim();
    await gitOk(clone, ["push", "-q", "origin", "HEAD:side"]); // the commit is on GitHub
    for (const [kind, message, code] of [
      ["protection", "Protected branch update failed for refs/heads/main.", "GH006"],
      [
        "ruleset",
        "Repository rule violations found\n\nChanges must be made through a pull request.",
        "GH013",
      ],
    ] as const) {
      const set = await fetch(`${standin.url}/_standin/protect`, {
        method: "POST",
        body: JSON.stringify({ owner: "acme", repo: "p", branch: "main", kind }),
      });
      expect(set.status).to.equal(204);
      for (const force of [false, true]) {
        const r = await call("PATCH", "/repos/acme/p/git/refs/heads/main", { sha: next, force });
        expect(r.status).to.equal(422);
        expect(r.data.message).to.equal(message);
      }
      const pushed = await git(clone, ["push", "origin", "HEAD:main"]);
      expect(pushed.code).to.not.equal(0);
      expect(pushed.stderr).to.contain(`${code}: `);
      expect((await call("GET", "/repos/acme/p/branches/main")).data.protected).to.equal(true);
    }
    expect((await gitOk(bare, ["rev-parse", "main"])).trim()).to.equal(head);
    // Other branches are not protected.
    const side = await call("PATCH", "/repos/acme/p/git/refs/heads/side", {
      sha: head,
      force: true,
    });
    expect(side.status).to.equal(200);
  });

  it("an empty repository: 409 'Git Repository is empty.' on the Git Data API until a Contents PUT makes the first commit", async () => {
    await standin.createRepo("acme", "e", { autoInit: false });
    const bare = standin.repoDir("acme", "e");
    for (const [method, route, body] of [
      ["GET", "/repos/acme/e/git/ref/heads/main", undefined],
      ["GET", `/repos/acme/e/git/trees/main`, undefined],
      ["GET", `/repos/acme/e/git/commits/${"a".repeat(40)}`, undefined],
      ["POST", "/repos/acme/e/git/trees", { tree: [{ path: "a", mode: "100644", content: "a" }] }],
      ["POST", "/repos/acme/e/git/commits", { message: "m", tree: "b".repeat(40) }],
      ["POST", "/repos/acme/e/git/refs", { ref: "refs/heads/main", sha: "c".repeat(40) }],
      ["PATCH", "/repos/acme/e/git/refs/heads/main", { sha: "c".repeat(40) }],
    ] as const) {
      const r = await call(method, route, body);
      expect(r.status, `${method} ${route}`).to.equal(409);
      expect(r.data).to.include({ message: "Git Repository is empty.", status: "409" });
    }
    const content = Buffer.from("hello\n").toString("base64");
    const put = await call("PUT", "/repos/acme/e/contents/docs%2Fa.md", {
      message: "first",
      content,
      branch: "trunk",
    });
    expect(put.status).to.equal(201);
    const sha = (await gitOk(bare, ["rev-parse", "trunk"])).trim();
    expect(put.data.commit).to.include({ sha, message: "first" });
    expect(put.data.commit.parents).to.deep.equal([]);
    expect(put.data.content).to.include({ path: "docs/a.md", sha: gitBlobSha("hello\n") });
    expect(put.data.commit.tree.sha).to.equal(
      (await gitOk(bare, ["rev-parse", "trunk^{tree}"])).trim(),
    );
    // The first branch is the default one; the Git Data API works now.
    expect((await call("GET", "/repos/acme/e")).data.default_branch).to.equal("trunk");
    expect((await call("GET", "/repos/acme/e/git/ref/heads/trunk")).status).to.equal(200);
    expect((await call("GET", "/repos/acme/e/git/ref/heads/main")).status).to.equal(404);
    // The Contents API does not overwrite a file without its sha, nor with a stale one.
    const again = { message: "again", content, branch: "trunk" };
    expect((await call("PUT", "/repos/acme/e/contents/docs/a.md", again)).status).to.equal(422);
    const stale = await call("PUT", "/repos/acme/e/contents/docs/a.md", {
      ...again,
      sha: "d".repeat(40),
    });
    expect(stale.status).to.equal(409);
    const update = await call("PUT", "/repos/acme/e/contents/docs/a.md", {
      ...again,
      sha: gitBlobSha("hello\n"),
    });
    expect(update.status).to.equal(200);
    expect(update.data.commit.parents.map((p) => p.sha)).to.deep.equal([sha]);
  });
});
