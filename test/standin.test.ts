/**
 * The GitHub stand-in's REST endpoints for the Pulumi GitHub provider (test/github-standin/
 * rest.ts), driven with Octokit in the order terraform-provider-github v6.13.0 calls them for
 * the program's Repository, BranchDefault, RepositoryDeployKey and getRepository; the Git
 * Data blob read the writer makes for section files; and the deploy keys' forced command
 * (e2e/infra/git-ssh-shell), run as sshd runs it; and the stand-in's seeded random fault injection.
 */
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { githubClient } from "../lib/github/api";
import { signAppJwt } from "./github-standin/apps";
import { gitOk, writeTree } from "./github-standin/git";
import { startStandIn, type FaultPlan, type StandIn } from "./github-standin/server";

const TOKEN = "ghp_standin_token";
const OWNER = "acme";
const REPO = "flux_platform";
const SHELL = path.resolve(__dirname, "../e2e/infra/git-ssh-shell");

interface Answer {
  status: number;
  data: Record<string, unknown> & { message?: string; errors?: Record<string, string>[] };
  headers: Record<string, string | number | undefined>;
}

/** One request; an HTTP error is an answer too (status, GitHub's error body). */
async function call(
  standin: StandIn,
  route: string,
  params: Record<string, unknown> = {},
): Promise<Answer> {
  const gh = githubClient({ token: TOKEN, baseUrl: standin.url }, { minWriteIntervalMs: 0 });
  try {
    const r = await gh.request(route, params);
    return { status: r.status, data: r.data as Answer["data"], headers: r.headers };
  } catch (err) {
    const e = err as { status?: number; response?: { data: unknown; headers: Answer["headers"] } };
    if (e.status === undefined) throw err;
    return {
      status: e.status,
      data: (e.response?.data ?? {}) as Answer["data"],
      headers: e.response?.headers ?? {},
    };
  }
}

/** A new ED25519 public key, `ssh-ed25519 <base64>`. */
function sshKey(): string {
  const { publicKey } = crypto.generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  const str = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from("ssh-ed25519")), str(raw)]).toString("base64")}`;
}

/** What go-github sends for the program's Repository (resourceGithubRepositoryObject). */
const createBody = {
  name: REPO,
  description: "Flux platform: clusters, infrastructure and apps",
  homepage: "",
  visibility: "private",
  has_issues: true,
  has_projects: false,
  has_wiki: false,
  has_discussions: false,
  is_template: false,
  auto_init: true,
  gitignore_template: "",
  license_template: "",
  allow_squash_merge: true,
  allow_merge_commit: true,
  allow_rebase_merge: true,
  allow_update_branch: false,
  allow_auto_merge: false,
  delete_branch_on_merge: true,
  squash_merge_commit_title: "COMMIT_OR_PR_TITLE",
  squash_merge_commit_message: "COMMIT_MESSAGES",
  merge_commit_title: "MERGE_MESSAGE",
  merge_commit_message: "PR_TITLE",
};
/** resourceGithubRepositoryUpdate's PATCH: the whole object without visibility. */
const { visibility: _visibility, ...updateBody } = {
  ...createBody,
  has_downloads: false,
  archived: false,
};

describe("GitHub stand-in: the REST endpoints of the Pulumi GitHub provider", function () {
  this.timeout(30_000);
  let root: string;
  let authorizedKeys: string;
  let standin: StandIn;
  const api = (route: string, params?: Record<string, unknown>) => call(standin, route, params);
  const dir = () => standin.repoDir(OWNER, REPO);
  const start = async () => {
    standin = await startStandIn({ root, token: TOKEN, authorizedKeysFile: authorizedKeys });
  };
  const keyLines = () => fs.readFileSync(authorizedKeys, "utf8").split("\n").filter(Boolean);
  const line = (repo: string, access: "ro" | "rw", key: string) =>
    `command="${SHELL} ${root} ${OWNER}/${repo} ${access}",restrict ${key}`;
  let created: Answer["data"];
  let keyId: number;
  const key1 = sshKey();
  const key2 = sshKey();

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "standin-rest-"));
    authorizedKeys = path.join(root, "..", `${path.basename(root)}-authorized_keys`);
    await start();
  });
  after(async () => {
    await standin.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(authorizedKeys, { force: true });
  });

  it("configure: GET /user names the token's account; GET /orgs/{owner} is a 404 for a user", async () => {
    const user = await api("GET /user");
    expect(user.status).to.equal(200);
    expect(user.data).to.include({ login: OWNER, type: "User", site_admin: false });
    expect(user.data.id).to.be.a("number");
    const org = await api(`GET /orgs/${OWNER}`);
    expect(org.status).to.equal(404);
    expect(org.data.message).to.equal("Not Found");
    // The stand-in writes the (empty) authorized_keys file when it starts.
    expect(fs.readFileSync(authorizedKeys, "utf8")).to.equal("");
  });

  it("data source getRepository: a repository that does not exist is a 404 Not Found", async () => {
    const r = await api(`GET /repos/${OWNER}/${REPO}`);
    expect(r.status).to.equal(404);
    expect(r.data.message).to.equal("Not Found");
  });

  it("create: POST /user/repos with auto_init makes the bare repository, one commit on main (201)", async () => {
    const r = await api("POST /user/repos", createBody);
    expect(r.status).to.equal(201);
    created = r.data;
    expect(r.data).to.include({
      name: REPO,
      full_name: `${OWNER}/${REPO}`,
      private: true,
      visibility: "private",
      default_branch: "main",
      description: createBody.description,
      has_issues: true,
      has_wiki: false,
      has_projects: false,
      delete_branch_on_merge: true,
      archived: false,
      fork: false,
      html_url: `${standin.url}/${OWNER}/${REPO}`,
    });
    expect(r.data.owner).to.include({ login: OWNER, type: "User" });
    expect(r.data.id).to.be.a("number");
    expect(r.data.node_id).to.be.a("string").and.not.equal("");
    expect(Date.parse(r.data.created_at as string)).to.be.closeTo(Date.now(), 60_000);
    expect((await gitOk(dir(), ["rev-list", "--count", "main"])).trim()).to.equal("1");
    expect(await gitOk(dir(), ["show", "main:README.md"])).to.equal(`# ${REPO}\n`);
    expect((await gitOk(dir(), ["symbolic-ref", "HEAD"])).trim()).to.equal("refs/heads/main");
    expect(fs.existsSync(path.join(root, OWNER, `${REPO}.json`))).to.equal(true);
  });

  it("create: PATCH with every setting (200), then PATCH with visibility is 422 'Visibility is already private.'", async () => {
    const r = await api(`PATCH /repos/${OWNER}/${REPO}`, updateBody);
    expect(r.status).to.equal(200);
    expect(r.data).to.include({ name: REPO, has_downloads: false, has_wiki: false });
    expect(r.headers.etag).to.match(/^W\/"[0-9a-f]{64}"$/);
    // The provider sends the visibility alone in a second PATCH and ignores exactly this 422.
    const again = await api(`PATCH /repos/${OWNER}/${REPO}`, {
      ...updateBody,
      visibility: "private",
    });
    expect(again.status).to.equal(422);
    expect(again.data.message).to.equal("Visibility is already private.");
  });

  it("read: GET reports what the provider sent (an import has no diff), with an ETag; If-None-Match is 304 until a change", async () => {
    const r = await api(`GET /repos/${OWNER}/${REPO}`);
    expect(r.status).to.equal(200);
    expect(r.data).to.include({
      id: created.id,
      node_id: created.node_id,
      created_at: created.created_at,
      description: createBody.description,
      homepage: null,
      visibility: "private",
      private: true,
      has_issues: true,
      has_projects: false,
      has_wiki: false,
      has_downloads: false,
      has_discussions: false,
      has_pages: false,
      is_template: false,
      allow_merge_commit: true,
      allow_squash_merge: true,
      allow_rebase_merge: true,
      allow_auto_merge: false,
      allow_update_branch: false,
      delete_branch_on_merge: true,
      squash_merge_commit_title: "COMMIT_OR_PR_TITLE",
      squash_merge_commit_message: "COMMIT_MESSAGES",
      merge_commit_title: "MERGE_MESSAGE",
      merge_commit_message: "PR_TITLE",
      archived: false,
      default_branch: "main",
      ssh_url: `git@127.0.0.1:${OWNER}/${REPO}.git`,
      license: null,
    });
    expect(r.data.topics).to.deep.equal([]);
    // security_and_analysis present: the provider then reads vulnerability-alerts.
    expect(r.data.security_and_analysis).to.deep.include({
      secret_scanning: { status: "disabled" },
    });
    const etag = r.headers.etag as string;
    const unchanged = await api(`GET /repos/${OWNER}/${REPO}`, {
      headers: { "if-none-match": etag },
    });
    expect(unchanged.status).to.equal(304);

    expect((await api(`GET /repos/${OWNER}/${REPO}/vulnerability-alerts`)).status).to.equal(404);
    expect((await api(`PUT /repos/${OWNER}/${REPO}/vulnerability-alerts`)).status).to.equal(204);
    expect((await api(`GET /repos/${OWNER}/${REPO}/vulnerability-alerts`)).status).to.equal(204);
    expect((await api(`DELETE /repos/${OWNER}/${REPO}/vulnerability-alerts`)).status).to.equal(204);
    expect((await api(`GET /repos/${OWNER}/${REPO}/vulnerability-alerts`)).status).to.equal(404);

    const topics = await api(`PUT /repos/${OWNER}/${REPO}/topics`, { names: ["gitops", "flux"] });
    expect(topics.status).to.equal(200);
    expect(topics.data.names).to.deep.equal(["gitops", "flux"]);
    const changed = await api(`GET /repos/${OWNER}/${REPO}`, {
      headers: { "if-none-match": etag },
    });
    expect(changed.status).to.equal(200);
    expect(changed.data.topics).to.deep.equal(["gitops", "flux"]);
    expect(changed.headers.etag).to.not.equal(etag);
    expect(
      (await api(`PUT /repos/${OWNER}/${REPO}/topics`, { names: ["Not a topic!"] })).status,
    ).to.equal(422);
    expect((await api(`PUT /repos/${OWNER}/${REPO}/topics`, { names: [] })).status).to.equal(200);
  });

  it("create when the name is taken (any case): 422 'Repository creation failed.' with GitHub's errors", async () => {
    for (const name of [REPO, REPO.toUpperCase()]) {
      const r = await api("POST /user/repos", { ...createBody, name });
      expect(r.status).to.equal(422);
      expect(r.data.message).to.equal("Repository creation failed.");
      expect(r.data.errors).to.deep.equal([
        {
          resource: "Repository",
          code: "custom",
          field: "name",
          message: "name already exists on this account",
        },
      ]);
    }
    // The control route shares the implementation.
    const control = await fetch(`${standin.url}/_standin/repos`, {
      method: "POST",
      body: JSON.stringify({ owner: OWNER, name: REPO }),
    });
    expect(control.status).to.equal(422);
    const bad = await api(`PATCH /repos/${OWNER}/${REPO}`, { has_wiki: "no" });
    expect(bad.status).to.equal(422);
    const internal = await api(`PATCH /repos/${OWNER}/${REPO}`, { visibility: "internal" });
    expect(internal.status).to.equal(422);
  });

  it("branch default with rename: the ref moves, HEAD follows, GET reports the new default_branch", async () => {
    const sha = (await gitOk(dir(), ["rev-parse", "main"])).trim();
    const before = await api(`GET /repos/${OWNER}/${REPO}`);
    expect(before.data.default_branch).to.equal("main");

    const renamed = await api(`POST /repos/${OWNER}/${REPO}/branches/main/rename`, {
      new_name: "trunk",
    });
    expect(renamed.status).to.equal(201);
    expect(renamed.data).to.include({ name: "trunk", protected: false });
    expect((renamed.data.commit as { sha: string }).sha).to.equal(sha);
    expect((await gitOk(dir(), ["rev-parse", "refs/heads/trunk"])).trim()).to.equal(sha);
    expect((await gitOk(dir(), ["for-each-ref", "refs/heads/main"])).trim()).to.equal("");
    expect((await gitOk(dir(), ["symbolic-ref", "HEAD"])).trim()).to.equal("refs/heads/trunk");
    // wait_for_rename polls this.
    expect((await api(`GET /repos/${OWNER}/${REPO}`)).data.default_branch).to.equal("trunk");
    const gone = await api(`GET /repos/${OWNER}/${REPO}/branches/main`);
    expect(gone.status).to.equal(404);
    expect(gone.data.message).to.equal("Branch not found");
    expect((await api(`GET /repos/${OWNER}/${REPO}/branches/trunk`)).status).to.equal(200);
    expect(
      (await api(`POST /repos/${OWNER}/${REPO}/branches/main/rename`, { new_name: "x" })).status,
    ).to.equal(404);

    // A branch that is not the default: HEAD stays.
    const ref = await api(`POST /repos/${OWNER}/${REPO}/git/refs`, {
      ref: "refs/heads/feature/x",
      sha,
    });
    expect(ref.status).to.equal(201);
    expect(
      (await api(`POST /repos/${OWNER}/${REPO}/branches/trunk/rename`, { new_name: "feature/x" }))
        .status,
    ).to.equal(422);
    const feature = await api(`POST /repos/${OWNER}/${REPO}/branches/feature%2Fx/rename`, {
      new_name: "feature/y",
    });
    expect(feature.status).to.equal(201);
    expect(feature.data.name).to.equal("feature/y");
    expect((await gitOk(dir(), ["symbolic-ref", "HEAD"])).trim()).to.equal("refs/heads/trunk");

    // Back to main, as the provider does for an auto_init branch that is not main.
    const back = await api(`POST /repos/${OWNER}/${REPO}/branches/trunk/rename`, {
      new_name: "main",
    });
    expect(back.status).to.equal(201);
    expect((await api(`GET /repos/${OWNER}/${REPO}`)).data.default_branch).to.equal("main");

    // Without rename the provider PATCHes default_branch: the branch must exist.
    const set = await api(`PATCH /repos/${OWNER}/${REPO}`, { default_branch: "feature/y" });
    expect(set.status).to.equal(200);
    expect(set.data.default_branch).to.equal("feature/y");
    expect((await gitOk(dir(), ["symbolic-ref", "HEAD"])).trim()).to.equal("refs/heads/feature/y");
    expect(
      (await api(`PATCH /repos/${OWNER}/${REPO}`, { default_branch: "nope" })).status,
    ).to.equal(422);
    await api(`PATCH /repos/${OWNER}/${REPO}`, { default_branch: "main" });
    expect((await gitOk(dir(), ["symbolic-ref", "HEAD"])).trim()).to.equal("refs/heads/main");
  });

  it("deploy key: POST (201, integer id, comment dropped), GET, and an authorized_keys line read-only to the repo", async () => {
    const r = await api(`POST /repos/${OWNER}/${REPO}/keys`, {
      key: `${key1} flux-dev@example\n`,
      title: "flux-dev",
      read_only: true,
    });
    expect(r.status).to.equal(201);
    expect(r.data).to.include({ key: key1, title: "flux-dev", read_only: true, verified: true });
    keyId = r.data.id as number;
    expect(Number.isInteger(keyId)).to.equal(true);

    const read = await api(`GET /repos/${OWNER}/${REPO}/keys/${keyId}`);
    expect(read.status).to.equal(200);
    expect(read.data).to.include({ id: keyId, key: key1, title: "flux-dev", read_only: true });
    const etag = read.headers.etag as string;
    expect(
      (
        await api(`GET /repos/${OWNER}/${REPO}/keys/${keyId}`, {
          headers: { "if-none-match": etag },
        })
      ).status,
    ).to.equal(304);
    expect(keyLines()).to.deep.equal([line(REPO, "ro", key1)]);
    expect(fs.statSync(authorizedKeys).mode & 0o777).to.equal(0o644);
  });

  it("deploy keys: unique ids across repositories, read/write honoured, a key used once, bad keys refused", async () => {
    // A repository made outside the provider (the control route), as `import` finds it.
    const made = await fetch(`${standin.url}/_standin/repos`, {
      method: "POST",
      body: JSON.stringify({ owner: OWNER, name: "flux_developer" }),
    });
    expect(made.status).to.equal(201);
    const imported = await api(`GET /repos/${OWNER}/flux_developer`);
    // GitHub's defaults for what the request left out.
    expect(imported.data).to.include({ has_wiki: true, has_projects: true, visibility: "private" });

    const rw = await api(`POST /repos/${OWNER}/flux_developer/keys`, {
      key: key2,
      title: "ci",
      read_only: false,
    });
    expect(rw.status).to.equal(201);
    expect(rw.data.read_only).to.equal(false);
    expect(rw.data.id).to.not.equal(keyId);
    expect(keyLines()).to.deep.equal([line("flux_developer", "rw", key2), line(REPO, "ro", key1)]);

    const list = await api(`GET /repos/${OWNER}/flux_developer/keys`);
    expect((list.data as unknown as { id: number }[]).map((k) => k.id)).to.deep.equal([rw.data.id]);
    const reused = await api(`POST /repos/${OWNER}/flux_developer/keys`, {
      key: key1,
      title: "again",
      read_only: true,
    });
    expect(reused.status).to.equal(422);
    expect(reused.data.errors?.[0].message).to.equal("key is already in use");
    for (const key of [
      "ssh-ed25519 bm90IGEga2V5",
      "not a key",
      key1.replace("ssh-ed25519", "ssh-rsa"),
    ]) {
      const bad = await api(`POST /repos/${OWNER}/${REPO}/keys`, { key, title: "x" });
      expect(bad.status, key).to.equal(422);
      expect(bad.data.errors?.[0].message).to.match(/^key is invalid/);
    }
    expect(
      (await api(`POST /repos/${OWNER}/missing/keys`, { key: sshKey(), title: "x" })).status,
    ).to.equal(404);
    expect((await api(`GET /repos/${OWNER}/flux_developer/keys/${keyId}`)).status).to.equal(404);
  });

  it("state survives a restart on the same root: ids, settings, default branch, keys", async () => {
    const before = (await api(`GET /repos/${OWNER}/${REPO}`)).data;
    const lines = keyLines();
    await standin.close();
    await start();
    const after = await api(`GET /repos/${OWNER}/${REPO}`);
    expect(after.status).to.equal(200);
    for (const field of ["id", "node_id", "created_at", "description", "default_branch"]) {
      expect(after.data[field], field).to.equal(before[field]);
    }
    expect(after.data).to.include({ has_wiki: false, delete_branch_on_merge: true });
    const key = await api(`GET /repos/${OWNER}/${REPO}/keys/${keyId}`);
    expect(key.data).to.include({ id: keyId, key: key1, read_only: true });
    expect(keyLines()).to.deep.equal(lines);
    const next = await api(`POST /repos/${OWNER}/${REPO}/keys`, {
      key: sshKey(),
      title: "flux-prd",
      read_only: true,
    });
    expect(next.data.id).to.be.greaterThan(keyId);
    expect((await api(`DELETE /repos/${OWNER}/${REPO}/keys/${next.data.id}`)).status).to.equal(204);
  });

  it("deploy key revoked: DELETE is 204, then GET and DELETE are 404 and its line is gone", async () => {
    expect((await api(`DELETE /repos/${OWNER}/${REPO}/keys/${keyId}`)).status).to.equal(204);
    expect((await api(`GET /repos/${OWNER}/${REPO}/keys/${keyId}`)).status).to.equal(404);
    expect((await api(`DELETE /repos/${OWNER}/${REPO}/keys/${keyId}`)).status).to.equal(404);
    expect(keyLines()).to.deep.equal([line("flux_developer", "rw", key2)]);
  });

  it("DELETE /repos/{o}/{r}: 204, the bare repository, its state and its keys are gone", async () => {
    const r = await api(`DELETE /repos/${OWNER}/flux_developer`);
    expect(r.status).to.equal(204);
    expect(fs.existsSync(standin.repoDir(OWNER, "flux_developer"))).to.equal(false);
    expect(fs.existsSync(path.join(root, OWNER, "flux_developer.json"))).to.equal(false);
    expect(fs.readFileSync(authorizedKeys, "utf8")).to.equal("");
    expect((await api(`GET /repos/${OWNER}/flux_developer`)).status).to.equal(404);
    expect((await api(`DELETE /repos/${OWNER}/flux_developer`)).status).to.equal(404);
  });

  it("organizations, when configured: GET /orgs/{org} 200, POST /orgs/{org}/repos, internal visibility", async () => {
    const orgRoot = fs.mkdtempSync(path.join(os.tmpdir(), "standin-org-"));
    const s = await startStandIn({ root: orgRoot, orgs: ["acme-org"] });
    try {
      const org = await call(s, "GET /orgs/acme-org");
      expect(org.status).to.equal(200);
      expect(org.data).to.include({ login: "acme-org", type: "Organization" });
      const r = await call(s, "POST /orgs/acme-org/repos", {
        name: "platform",
        visibility: "internal",
      });
      expect(r.status).to.equal(201);
      expect(r.data).to.include({ visibility: "internal", private: true, default_branch: "main" });
      expect(r.data.owner).to.include({ login: "acme-org", type: "Organization" });
      // No auto_init: an empty repository.
      expect((await gitOk(s.repoDir("acme-org", "platform"), ["for-each-ref"])).trim()).to.equal(
        "",
      );
      expect((await call(s, "POST /orgs/nope/repos", { name: "x" })).status).to.equal(404);
    } finally {
      await s.close();
      fs.rmSync(orgRoot, { recursive: true, force: true });
    }
  });
});

describe("GitHub stand-in: GET /repos/{owner}/{repo}/git/blobs/{file_sha}", function () {
  this.timeout(30_000);
  let root: string;
  let standin: StandIn;
  /** Bytes that are not UTF-8 and long enough for several lines of base64. */
  const bytes = Buffer.concat([Buffer.from("creation_rules:\n".repeat(8)), Buffer.from([0xff, 0])]);
  let blob: string;
  let tree: string;
  const get = async (route: string, auth = `token ${TOKEN}`) => {
    const res = await fetch(`${standin.url}${route}`, { headers: { authorization: auth } });
    return { status: res.status, data: (await res.json()) as Record<string, unknown> };
  };
  /** An installation token of a new App on `acme/flux_platform` with these permissions. */
  const installationToken = async (id: number, permissions: Record<string, string>) => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const registered = await fetch(`${standin.url}/_standin/apps`, {
      method: "POST",
      body: JSON.stringify({
        id,
        slug: `reader-${id}`,
        owner: OWNER,
        publicKeyPem: publicKey.export({ type: "spki", format: "pem" }),
        permissions,
        repositories: [REPO],
      }),
    });
    const { installationId } = (await registered.json()) as { installationId: number };
    const minted = await fetch(`${standin.url}/app/installations/${installationId}/access_tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${signAppJwt(id, privateKey)}` },
    });
    expect(minted.status).to.equal(201);
    return `token ${((await minted.json()) as { token: string }).token}`;
  };

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "standin-blobs-"));
    standin = await startStandIn({ root, token: TOKEN });
    await standin.createRepo(OWNER, REPO);
    const dir = standin.repoDir(OWNER, REPO);
    tree = await writeTree(dir, undefined, [{ path: "f", mode: "100644", content: bytes }]);
    blob = (await gitOk(dir, ["rev-parse", `${tree}:f`])).trim();
  });
  after(async () => {
    await standin.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("answers GitHub's shape: base64 in lines of 60 characters, each ending in a line break", async () => {
    for (const prefix of ["", "/api/v3"]) {
      const r = await get(`${prefix}/repos/${OWNER}/${REPO}/git/blobs/${blob}`);
      expect(r.status).to.equal(200);
      expect(Object.keys(r.data).sort()).to.deep.equal([
        "content",
        "encoding",
        "node_id",
        "sha",
        "size",
        "url",
      ]);
      expect(r.data).to.include({
        sha: blob,
        size: bytes.length,
        encoding: "base64",
        url: `${standin.url}/repos/${OWNER}/${REPO}/git/blobs/${blob}`,
      });
      const content = r.data.content as string;
      const lines = content.split("\n");
      expect(lines.pop()).to.equal("");
      expect(lines.length).to.equal(Math.ceil((Math.ceil(bytes.length / 3) * 4) / 60));
      expect(lines.slice(0, -1).every((l) => l.length === 60)).to.equal(true);
      expect(Buffer.from(content, "base64").equals(bytes)).to.equal(true);
    }
  });

  it("is a 404 Not Found for a sha the repository does not have, or that is not a blob", async () => {
    expect((await get(`/repos/${OWNER}/${REPO}/git/blobs/${blob}`)).status).to.equal(200);
    for (const sha of ["1".repeat(40), tree, "not-a-sha"]) {
      const r = await get(`/repos/${OWNER}/${REPO}/git/blobs/${sha}`);
      expect([r.status, r.data.message], sha).to.deep.equal([404, "Not Found"]);
    }
    expect((await get(`/repos/${OWNER}/nope/git/blobs/${blob}`)).status).to.equal(404);
    // An empty repository: GitHub's 409, as on the other Git Data reads.
    await standin.createRepo(OWNER, "empty", { autoInit: false });
    const empty = await get(`/repos/${OWNER}/empty/git/blobs/${blob}`);
    expect([empty.status, empty.data.message]).to.deep.equal([409, "Git Repository is empty."]);
    expect((await get(`/repos/${OWNER}/${REPO}/git/blobs/${blob}`, "token wrong")).status).to.equal(
      401,
    );
  });

  it("takes an App installation token with contents read, and refuses one without it like the tree read", async () => {
    const reader = await installationToken(2001, { contents: "read", metadata: "read" });
    expect((await get(`/repos/${OWNER}/${REPO}/git/blobs/${blob}`, reader)).status).to.equal(200);
    const metadataOnly = await installationToken(2002, { metadata: "read" });
    for (const route of [`git/trees/${tree}`, `git/blobs/${blob}`]) {
      const r = await get(`/repos/${OWNER}/${REPO}/${route}`, metadataOnly);
      expect([r.status, r.data.message], route).to.deep.equal([
        403,
        "Resource not accessible by integration",
      ]);
    }
  });
});

describe("e2e/infra/git-ssh-shell: the deploy keys' forced command", function () {
  this.timeout(30_000);
  let root: string;
  let sha: string;
  const env = (extra: Record<string, string>) => {
    const e: Record<string, string | undefined> = { ...process.env, ...extra };
    delete e.GIT_PROTOCOL; // protocol v0: the refs are advertised at once
    return e;
  };
  /** Runs the shell as sshd does: argv from the command= string, the client's request in env. */
  const shell = (request: string | undefined, access: "ro" | "rw", repo = `${OWNER}/${REPO}`) =>
    spawnSync(SHELL, [root, repo, access], {
      env: env(request === undefined ? {} : { SSH_ORIGINAL_COMMAND: request }),
      input: "0000", // flush: the client wants nothing
      encoding: "utf8",
    });

  before(async () => {
    // A space in the root: the authorized_keys command must quote it.
    root = fs.mkdtempSync(path.join(os.tmpdir(), "standin shell-"));
    const s = await startStandIn({ root });
    await s.createRepo(OWNER, REPO);
    sha = (await gitOk(s.repoDir(OWNER, REPO), ["rev-parse", "main"])).trim();
    await s.close();
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it("runs git-upload-pack on the key's repository for both path forms git sends", () => {
    for (const request of [
      `git-upload-pack '/${OWNER}/${REPO}'`,
      `git-upload-pack '${OWNER}/${REPO}.git'`,
      `git upload-pack '/${OWNER}/${REPO}.git/'`,
      `git-upload-pack /${OWNER}/${REPO}`,
      `git-upload-pack '/ACME/${REPO}'`,
    ]) {
      const r = shell(request, "ro");
      expect(r.status, `${request}: ${r.stderr}`).to.equal(0);
      expect(r.stdout, request).to.contain(`${sha} refs/heads/main`);
    }
    const archive = shell(`git-upload-archive '/${OWNER}/${REPO}'`, "ro");
    expect(archive.stderr).to.not.contain("ERROR");
  });

  it("allows git-receive-pack only with rw", () => {
    const rw = shell(`git-receive-pack '/${OWNER}/${REPO}'`, "rw");
    expect(rw.status, rw.stderr).to.equal(0);
    expect(rw.stdout).to.contain(`${sha} refs/heads/main`);
    const ro = shell(`git-receive-pack '/${OWNER}/${REPO}'`, "ro");
    expect(ro.status).to.equal(1);
    expect(ro.stdout).to.equal("");
    expect(ro.stderr).to.equal(
      "ERROR: The key you are authenticating with has been marked as read only.\n",
    );
  });

  it("refuses other repositories, other commands and a shell (exit 1, a message on stderr)", () => {
    const cases: [string | undefined, RegExp][] = [
      [`git-upload-pack '/${OWNER}/other'`, /Repository not found/],
      [`git-upload-pack '/${OWNER}/${REPO}/../other'`, /Repository not found/],
      [`git-upload-pack '/other/${REPO}'`, /Repository not found/],
      [`git-upload-pack '/${OWNER}/${REPO}'; touch /tmp/pwned`, /Command not allowed/],
      [`git-upload-pack "$(id)"`, /Command not allowed/],
      ["ls -la", /Command not allowed/],
      ["git-upload-pack", /Command not allowed/],
      [undefined, /successfully authenticated, but this key has no shell access/],
    ];
    for (const [request, message] of cases) {
      const r = shell(request, "rw");
      expect(r.status, String(request)).to.equal(1);
      expect(r.stdout, String(request)).to.equal("");
      expect(r.stderr, String(request)).to.match(message);
    }
    const missing = shell(`git-upload-pack '/${OWNER}/gone'`, "ro", `${OWNER}/gone`);
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.contain("Repository not found.");
  });

  it("clones and pushes through the command= string of an authorized_keys line (sh -c, as sshd runs it)", async () => {
    const s = await startStandIn({
      root,
      authorizedKeysFile: path.join(root, "authorized_keys"),
    });
    const key = sshKey();
    let ro: string;
    let rw: string;
    try {
      for (const [readOnly, k] of [
        [true, key],
        [false, sshKey()],
      ] as const) {
        const r = await call(s, `POST /repos/${OWNER}/${REPO}/keys`, {
          key: k,
          title: "t",
          read_only: readOnly,
        });
        expect(r.status).to.equal(201);
      }
      const lines = fs.readFileSync(path.join(root, "authorized_keys"), "utf8").trim().split("\n");
      const command = (l: string) =>
        /^command="((?:[^"\\]|\\")*)",restrict /.exec(l)![1].replace(/\\"/g, '"');
      [ro, rw] = lines.map(command);
      expect(lines[0].endsWith(`restrict ${key}`)).to.equal(true);
      expect(ro).to.contain(`'${root}'`);
    } finally {
      await s.close();
    }
    // A stand-in for ssh: runs the forced command with the request, as sshd would.
    const fakeSsh = path.join(root, "fake-ssh");
    fs.writeFileSync(
      fakeSsh,
      '#!/usr/bin/env bash\nexport SSH_ORIGINAL_COMMAND="${@: -1}"\nexec sh -c "$FORCED_COMMAND"\n',
      { mode: 0o755 },
    );
    const gitEnv = (forced: string) =>
      env({ GIT_SSH_COMMAND: `'${fakeSsh}'`, GIT_SSH_VARIANT: "simple", FORCED_COMMAND: forced });
    const work = path.join(root, "work");
    const clone = spawnSync("git", ["clone", `git@standin:${OWNER}/${REPO}.git`, work], {
      env: gitEnv(ro),
      encoding: "utf8",
    });
    expect(clone.status, clone.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(work, "README.md"), "utf8")).to.equal(`# ${REPO}\n`);
    const commit = spawnSync(
      "git",
      ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--allow-empty", "-m", "x"],
      { cwd: work, encoding: "utf8" },
    );
    expect(commit.status, commit.stderr).to.equal(0);
    const url = `ssh://git@standin/${OWNER}/${REPO}`;
    const refused = spawnSync("git", ["push", url, "HEAD:main"], {
      cwd: work,
      env: gitEnv(ro),
      encoding: "utf8",
    });
    expect(refused.status).to.not.equal(0);
    expect(refused.stderr).to.contain("marked as read only");
    const pushed = spawnSync("git", ["push", url, "HEAD:main"], {
      cwd: work,
      env: gitEnv(rw),
      encoding: "utf8",
    });
    expect(pushed.status, pushed.stderr).to.equal(0);
    const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: work, encoding: "utf8" });
    const bare = path.join(root, OWNER, `${REPO}.git`);
    expect((await gitOk(bare, ["rev-parse", "main"])).trim()).to.equal(head.stdout.trim());
  });
});

/** What a client saw over a fresh connection: an answer, or the socket error instead. */
type Seen =
  | { status: number; headers: http.IncomingHttpHeaders; data: Record<string, unknown> }
  | { error: string };

/** One request over its own connection (no keep-alive, no retries), as plain HTTP. */
function rawRequest(
  base: string,
  method: string,
  p: string,
  opts: { body?: unknown; auth?: string; timeoutMs?: number } = {},
): Promise<Seen> {
  return new Promise((resolve) => {
    const req = http.request(`${base}${p}`, {
      method,
      agent: false,
      headers: {
        authorization: opts.auth ?? `token ${TOKEN}`,
        ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      },
    });
    if (opts.timeoutMs !== undefined) {
      req.setTimeout(opts.timeoutMs, () => req.destroy(new Error("client timeout")));
    }
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          data: (/json/.test(res.headers["content-type"] ?? "")
            ? JSON.parse(text)
            : { text }) as Record<string, unknown>,
        });
      });
    });
    req.end(opts.body !== undefined ? JSON.stringify(opts.body) : undefined);
  });
}

const statusOf = (s: Seen) => ("status" in s ? s.status : 0);

describe("GitHub stand-in: seeded random fault injection (chaos)", function () {
  this.timeout(60_000);
  let root: string;
  let standin: StandIn;
  const REF = `/repos/${OWNER}/${REPO}/git/refs/heads/main`;
  const READ = `/repos/${OWNER}/${REPO}/git/ref/heads/main`;
  const dir = () => standin.repoDir(OWNER, REPO);
  const head = async () => (await gitOk(dir(), ["rev-parse", "refs/heads/main"])).trim();
  let k = 0;
  /** A new commit on top of main, not on any branch yet. */
  const child = async () => {
    const parent = await head();
    k++;
    const tree = await writeTree(dir(), `${parent}^{tree}`, [
      { path: `f${k}`, mode: "100644", content: `${k}\n` },
    ]);
    const env = {
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
    };
    return (await gitOk(dir(), ["commit-tree", tree, "-p", parent, "-m", `c${k}`], { env })).trim();
  };
  const send = (method: string, p: string, opts?: Parameters<typeof rawRequest>[3]) =>
    rawRequest(standin.url, method, p, opts);
  const patchRef = async (opts: { timeoutMs?: number } = {}) => {
    const sha = await child();
    return { sha, seen: await send("PATCH", REF, { body: { sha }, ...opts }) };
  };
  const lastRequest = () => standin.requests[standin.requests.length - 1];

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "standin-chaos-"));
    standin = await startStandIn({ root, token: TOKEN });
    await standin.createRepo(OWNER, REPO);
  });
  afterEach(() => standin.setChaos(undefined));
  after(async () => {
    await standin.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("the same seed and the same requests give the same faults; another seed gives others", async () => {
    const rates = { error: 0.2, secondaryLimit: 0.2, dropBefore: 0.1, dropAfter: 0.1 };
    const run = async (seed: number) => {
      standin.setChaos({ seed, rates });
      const seen: number[] = [];
      for (let i = 0; i < 30; i++) seen.push(statusOf(await send("GET", READ)));
      return { seen, stats: standin.chaos(), requests: standin.requests.slice(-30) };
    };
    const a = await run(1234);
    const b = await run(1234);
    const c = await run(99);
    expect(b.seen).to.deep.equal(a.seen);
    expect(b.stats.log).to.deep.equal(a.stats.log);
    expect(c.seen).to.not.deep.equal(a.seen);
    // Each kind of the plan was drawn, and what the client saw is what the log says.
    for (const kind of Object.keys(rates)) {
      expect(a.stats.injected[kind as keyof typeof rates], kind).to.be.greaterThan(0);
    }
    expect(a.stats.log).to.have.length(Object.values(a.stats.injected).reduce((x, y) => x + y, 0));
    const byN = new Map(a.stats.log.map((e) => [e.n, e]));
    a.seen.forEach((status, i) => {
      const e = byN.get(i + 1);
      expect(status, `request ${i + 1}`).to.equal(e ? e.status : 200);
      expect(a.requests[i].status, `request ${i + 1}`).to.equal(status);
      expect(a.requests[i].fault, `request ${i + 1}`).to.equal(e?.kind);
      if (e) expect(e).to.include({ method: "GET", path: READ });
    });
  });

  it("error: 500, 502 or 503 with GitHub's body, and the request is not carried out", async () => {
    standin.setChaos({ seed: 5, rates: { error: 1 }, methods: ["PATCH"] });
    const before = await head();
    const statuses = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const { seen } = await patchRef();
      if (!("status" in seen)) expect.fail(`no answer: ${seen.error}`);
      statuses.add(seen.status);
      expect(seen.headers["content-type"]).to.match(/^application\/json/);
      expect(seen.data).to.deep.equal({
        message: { 500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable" }[
          seen.status
        ],
      });
      expect(lastRequest()).to.include({ method: "PATCH", status: seen.status, fault: "error" });
    }
    expect([...statuses].every((s) => [500, 502, 503].includes(s))).to.equal(true);
    expect(statuses.size).to.be.greaterThan(1);
    expect(await head()).to.equal(before);
  });

  it("secondaryLimit: 403 or 429, GitHub's message and documentation_url, retry-after 1; not carried out", async () => {
    standin.setChaos({ seed: 8, rates: { secondaryLimit: 1 }, methods: ["PATCH"] });
    const before = await head();
    const statuses = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const { seen } = await patchRef();
      if (!("status" in seen)) expect.fail(`no answer: ${seen.error}`);
      statuses.add(seen.status);
      expect(seen.headers["retry-after"]).to.equal("1");
      expect(seen.data.message).to.match(/^You have exceeded a secondary rate limit\./);
      // go-github's AbuseRateLimitError is recognized by this suffix.
      expect(seen.data.documentation_url).to.equal(
        "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
      );
      expect(String(seen.data.documentation_url).endsWith("secondary-rate-limits")).to.equal(true);
      expect(lastRequest()).to.include({ status: seen.status, fault: "secondaryLimit" });
    }
    expect([...statuses].sort()).to.deep.equal([403, 429]);
    expect(await head()).to.equal(before);
  });

  it("dropBefore: the connection is destroyed without an answer and the ref did not move", async () => {
    standin.setChaos({ seed: 1, rates: { dropBefore: 1 }, methods: ["PATCH"] });
    const before = await head();
    const { seen } = await patchRef();
    expect(seen).to.have.property("error").that.is.a("string");
    expect(await head()).to.equal(before);
    expect(lastRequest()).to.include({
      method: "PATCH",
      path: REF,
      status: 0,
      fault: "dropBefore",
    });
    expect(standin.chaos().log).to.deep.equal([
      { n: 1, method: "PATCH", path: REF, kind: "dropBefore", status: 0 },
    ]);
  });

  it("dropAfter: the write happens (a ref moves, a key is added), then the connection is destroyed", async () => {
    standin.setChaos({ seed: 1, rates: { dropAfter: 1 }, methods: ["PATCH", "POST"] });
    const { sha, seen } = await patchRef();
    expect(seen).to.have.property("error").that.is.a("string");
    expect(await head()).to.equal(sha);
    expect(lastRequest()).to.include({ method: "PATCH", status: 0, fault: "dropAfter" });
    const key = sshKey();
    const added = await send("POST", `/repos/${OWNER}/${REPO}/keys`, {
      body: { title: "dropped", key, read_only: true },
    });
    expect(added).to.have.property("error");
    const keys = await send("GET", `/repos/${OWNER}/${REPO}/keys`);
    expect(keys).to.have.property("status", 200);
    const listed = (keys as { data: unknown }).data as { key: string; title: string }[];
    expect(listed.map((x) => x.key)).to.include(key);
    expect(standin.chaos().log.map((e) => [e.n, e.kind, e.status, e.carriedOut])).to.deep.equal([
      [1, "dropAfter", 0, 200],
      [2, "dropAfter", 0, 201],
    ]);
  });

  it("slow: the answer comes after slowMs; a client that gives up sooner sees none, yet the write happened", async () => {
    standin.setChaos({ seed: 1, rates: { slow: 1 }, slowMs: 300, methods: ["PATCH"] });
    let t = Date.now();
    const first = await patchRef();
    expect(Date.now() - t).to.be.at.least(290);
    expect(first.seen).to.have.property("status", 200);
    expect(await head()).to.equal(first.sha);
    t = Date.now();
    const second = await patchRef({ timeoutMs: 100 });
    expect(second.seen).to.deep.equal({ error: "client timeout" });
    expect(Date.now() - t).to.be.below(290);
    expect(await head()).to.equal(second.sha);
    // The held answer of the closed connection is not sent; the stand-in goes on answering.
    await new Promise((r) => setTimeout(r, 350));
    standin.setChaos(undefined);
    expect(await send("GET", READ)).to.have.property("status", 200);
    expect(standin.chaos().log.map((e) => [e.n, e.kind, e.status])).to.deep.equal([
      [1, "slow", 200],
      [2, "slow", 200],
    ]);
    expect(standin.requests.filter((r) => r.fault === "slow")).to.have.length(2);
  });

  it("rates of 0, chaos off, other methods and paths, and non-API requests get no fault and do not draw", async () => {
    standin.setChaos({ seed: 3, rates: { error: 0, slow: 0, dropBefore: 0 } });
    for (let i = 0; i < 10; i++) expect(statusOf(await send("GET", READ))).to.equal(200);
    expect(standin.chaos().log).to.deep.equal([]);
    expect(Object.values(standin.chaos().injected)).to.deep.equal([0, 0, 0, 0, 0]);

    standin.setChaos({ seed: 3, rates: { error: 1 } });
    // A refused token (401), the control routes, GET /meta and git smart HTTP: untouched.
    expect(statusOf(await send("GET", READ, { auth: "token wrong" }))).to.equal(401);
    expect(statusOf(await send("GET", "/_standin/requests"))).to.equal(200);
    expect(statusOf(await send("GET", "/meta"))).to.equal(200);
    const basic = `Basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`;
    const refs = `/${OWNER}/${REPO}.git/info/refs?service=git-upload-pack`;
    expect(statusOf(await send("GET", refs, { auth: basic }))).to.equal(200);
    expect(standin.chaos().log).to.deep.equal([]);
    // The first API request draws first, and gets the fault.
    expect(statusOf(await send("GET", `/api/v3${READ}`))).to.be.oneOf([500, 502, 503]);
    expect(standin.chaos().log.map((e) => [e.n, e.path])).to.deep.equal([[1, READ]]);

    standin.setChaos(undefined);
    expect(statusOf(await send("GET", READ))).to.equal(200);
    expect(standin.chaos().log).to.have.length(1); // kept after chaos is off

    // Only matching requests draw: the GETs and the other PATCH path do not count.
    standin.setChaos({ seed: 3, rates: { error: 1 }, methods: ["patch"], path: "/git/refs/" });
    expect(statusOf(await send("GET", READ))).to.equal(200);
    expect(statusOf(await send("PATCH", `/repos/${OWNER}/${REPO}`, { body: {} }))).to.equal(200);
    expect(statusOf((await patchRef()).seen)).to.be.oneOf([500, 502, 503]);
    expect(standin.chaos().log.map((e) => [e.n, e.method, e.path])).to.deep.equal([
      [1, "PATCH", REF],
    ]);
  });

  it("a plan's limit: the first N matching requests get faults, then they pass (and draw no more)", async () => {
    standin.setChaos({ seed: 3, rates: { error: 1 }, methods: ["PATCH"], limit: 2 });
    const seen = [];
    for (let i = 0; i < 4; i++) {
      seen.push(statusOf(await send("PATCH", `/repos/${OWNER}/${REPO}`, { body: {} })));
    }
    expect(seen.slice(2)).to.deep.equal([200, 200]);
    expect(standin.chaos().log.map((e) => e.n)).to.deep.equal([1, 2]);
    expect(() => standin.setChaos({ seed: 1, rates: {}, limit: -1 })).to.throw(
      /"limit" must be a whole number of faults/,
    );
  });

  it("refuses a plan whose rates add up to more than 1, or one it cannot read, and keeps the plan it has", async () => {
    const tooMuch = { seed: 1, rates: { error: 0.6, slow: 0.5 } };
    expect(() => standin.setChaos(tooMuch)).to.throw(/rates add up to 1\.1, more than 1/);
    let failed: unknown;
    await startStandIn({ root: path.join(root, "other"), faults: tooMuch }).catch(
      (err: unknown) => (failed = err),
    );
    expect(String(failed)).to.match(/more than 1/);
    // Decimal shares that add up to exactly 1 are accepted.
    standin.setChaos({ seed: 1, rates: { error: 0.1, secondaryLimit: 0.2, slow: 0.7 } });
    const kept = standin.chaos().plan;
    const post = async (plan: unknown) => {
      const res = await fetch(`${standin.url}/_standin/chaos`, {
        method: "POST",
        body: JSON.stringify(plan),
      });
      return { status: res.status, data: (await res.json()) as { message: string } };
    };
    const refused = await post(tooMuch);
    expect(refused.status).to.equal(422);
    expect(refused.data.message).to.match(/^fault plan: the rates add up to 1\.1, more than 1/);
    for (const bad of [
      { seed: 1, rates: { timeout: 0.1 } },
      { seed: "1", rates: {} },
      { seed: 1, rates: { error: -0.1 } },
      { seed: 1, rates: {}, path: "(" },
    ]) {
      expect((await post(bad)).status, JSON.stringify(bad)).to.equal(422);
    }
    expect(standin.chaos().plan).to.deep.equal(kept);
  });

  it("switches with the faults option, setChaos and the control routes (POST, GET, DELETE)", async () => {
    const plan: FaultPlan = { seed: 11, rates: { error: 1 }, path: "^/user$" };
    const other = await startStandIn({ root: path.join(root, "with-option"), faults: plan });
    try {
      expect(other.chaos().plan).to.deep.include({ seed: 11, path: "^/user$", slowMs: 30_000 });
      expect(statusOf(await rawRequest(other.url, "GET", "/user"))).to.be.oneOf([500, 502, 503]);
    } finally {
      await other.close();
    }

    const control = async (method: string, body?: unknown) => {
      const res = await fetch(`${standin.url}/_standin/chaos`, {
        method,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, data: (text ? JSON.parse(text) : undefined) as unknown };
    };
    expect(await control("GET")).to.deep.include({ status: 200 });
    expect(((await control("GET")).data as { plan: unknown }).plan).to.equal(null);
    const set = await control("POST", { ...plan, methods: ["get"] });
    expect(set.status).to.equal(201);
    expect(set.data).to.deep.equal({
      plan: { ...plan, methods: ["GET"], slowMs: 30_000 },
      injected: { error: 0, secondaryLimit: 0, dropBefore: 0, dropAfter: 0, slow: 0 },
      log: [],
    });
    const faulted = statusOf(await send("GET", "/user"));
    expect(faulted).to.be.oneOf([500, 502, 503]);
    const stats = (await control("GET")).data as { injected: { error: number }; log: unknown[] };
    expect(stats.injected.error).to.equal(1);
    expect(stats.log).to.deep.equal([
      { n: 1, method: "GET", path: "/user", kind: "error", status: faulted },
    ]);
    expect((await control("DELETE")).status).to.equal(204);
    expect(statusOf(await send("GET", "/user"))).to.equal(200);
    expect(((await control("GET")).data as { plan: unknown }).plan).to.equal(null);
  });

  it("CLI: --faults sets the plan, STANDIN_LOG_FAULTS=1 logs each fault on stderr; a bad plan exits 2", async () => {
    const server = path.join(__dirname, "github-standin/server.ts");
    const tsx = require.resolve("tsx/cli");
    const cliRoot = path.join(root, "cli");
    const plan = JSON.stringify({ seed: 2, rates: { secondaryLimit: 1 }, methods: ["GET"] });
    const bad = spawnSync(
      process.execPath,
      [tsx, server, "--root", cliRoot, "--faults", '{"seed":1,"rates":{"error":0.7,"slow":0.5}}'],
      { encoding: "utf8" },
    );
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/^--faults: fault plan: the rates add up to 1\.2, more than 1/m);

    const child = spawn(process.execPath, [tsx, server, "--root", cliRoot, "--faults", plan], {
      env: { ...process.env, STANDIN_LOG_FAULTS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let stderr = "";
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          out += c.toString();
          if (out.includes("\n")) resolve(out.split("\n")[0]);
        });
        child.on("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      });
      const seen = await rawRequest(url, "GET", "/user");
      expect(statusOf(seen)).to.be.oneOf([403, 429]);
      const stats = (await (await fetch(`${url}/_standin/chaos`)).json()) as {
        plan: unknown;
        injected: { secondaryLimit: number };
      };
      expect(stats.plan).to.deep.equal({ ...(JSON.parse(plan) as object), slowMs: 30_000 });
      expect(stats.injected.secondaryLimit).to.equal(1);
      for (let i = 0; i < 50 && !stderr.includes("\n"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(stderr).to.equal(`standin fault #1 secondaryLimit GET /user -> ${statusOf(seen)}\n`);
    } finally {
      child.kill();
    }
  });
});
