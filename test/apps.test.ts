/**
 * GitHub Apps on the GitHub stand-in (test/github-standin/apps.ts, smarthttp.ts), driven as
 * their clients drive GitHub: fluxcd/pkg's githubapp (source-controller v1.9.4,
 * notification-controller v1.9.3) signs a JWT, finds the installation of its owner, mints an
 * installation token and clones with it over smart HTTP or posts commit statuses with it;
 * terraform-provider-github v6.13.0's github_app_installation_repository grants and revokes
 * a repository with the user's token. The clones and pushes are the real git CLI.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { gitOk } from "./github-standin/git";
import { startStandIn, type StandIn } from "./github-standin/server";

const TOKEN = "ghp_standin_user_token";
const APP_ID = 1001;
const SLUG = "flux-platform";
/** GitHub's answers to a bad JWT, verbatim. */
const EXPIRED =
  "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
const ISSUED_AT =
  "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
const TOO_FAR = "'Expiration time' claim ('exp') is too far in the future";

interface Answer {
  status: number;
  data: Record<string, unknown> & { message?: string };
  headers: Headers;
}

/** A JWT as fluxcd/pkg githubapp createJWT signs it (iat 30s back, 2 minutes), or as given. */
function jwt(
  key: crypto.KeyObject,
  claims: { iss?: string | number; iat?: number; exp?: number } = {},
): string {
  const t = Math.floor(Date.now() / 1000);
  const iat = claims.iat ?? t - 30;
  const body = { iat, exp: claims.exp ?? iat + 120, iss: claims.iss ?? String(APP_ID) };
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const data = `${enc({ alg: "RS256", typ: "JWT" })}.${enc(body)}`;
  return `${data}.${crypto.sign("RSA-SHA256", Buffer.from(data), key).toString("base64url")}`;
}

/** The git CLI, asynchronously (the stand-in answers in this process), never prompting. */
function run(
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "git",
      args,
      {
        cwd,
        env: {
          ...process.env,
          GIT_TERMINAL_PROMPT: "0",
          GIT_CONFIG_NOSYSTEM: "1",
          GIT_CONFIG_GLOBAL: "/dev/null",
          GIT_ASKPASS: "",
          SSH_ASKPASS: "",
          GIT_AUTHOR_NAME: "t",
          GIT_AUTHOR_EMAIL: "t@example.com",
          GIT_COMMITTER_NAME: "t",
          GIT_COMMITTER_EMAIL: "t@example.com",
        },
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A pkt-line (git's wire format). */
const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, "0") + s;

describe("GitHub stand-in: GitHub Apps, installation tokens and git over smart HTTP", function () {
  this.timeout(60_000);
  let root: string;
  let work: string;
  let standin: StandIn;
  let installationId: number;
  let installationToken: string;
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const host = () => standin.url.replace(/^http:\/\//, "");
  const cloneUrl = (repo: string, auth?: string) =>
    `http://${auth ? `${auth}@` : ""}${host()}/${repo}`;

  async function api(
    method: string,
    route: string,
    auth?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await fetch(`${standin.url}${route}`, {
      method,
      headers: {
        accept: "application/vnd.github+json",
        ...(auth ? { authorization: auth } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const data = (text ? JSON.parse(text) : {}) as Answer["data"];
    return { status: res.status, data, headers: res.headers };
  }
  const user = `token ${TOKEN}`;
  const bearer = (t: string) => `Bearer ${t}`;
  const register = async (app: Record<string, unknown>) => {
    const r = await api("POST", "/_standin/apps", undefined, app);
    expect(r.status, JSON.stringify(r.data)).to.equal(201);
    return r.data as { id: number; installationId: number };
  };
  const mint = async (id: number, key: crypto.KeyObject = privateKey, iss?: number) => {
    const r = await api(
      "POST",
      `/app/installations/${id}/access_tokens`,
      bearer(jwt(key, { iss })),
    );
    expect(r.status, JSON.stringify(r.data)).to.equal(201);
    return String(r.data.token);
  };
  const repoId = async (repo: string) => Number((await api("GET", `/repos/${repo}`, user)).data.id);
  const clone = async (url: string, extra: string[] = []) => {
    const dest = fs.mkdtempSync(path.join(work, "clone-"));
    return { dest, ...(await run([...extra, "clone", "--quiet", url, dest], work)) };
  };

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "standin-apps-"));
    work = fs.mkdtempSync(path.join(os.tmpdir(), "standin-apps-work-"));
    standin = await startStandIn({ root, token: TOKEN, orgs: ["acme-org"] });
    await standin.createRepo("acme", "granted");
    await standin.createRepo("acme", "other");
    await standin.createRepo("acme", "open", { settings: { visibility: "public" } });
    await standin.createRepo("acme-org", "platform");
    await standin.createRepo("acme-org", "second");
    ({ installationId } = await register({
      id: APP_ID,
      slug: SLUG,
      owner: "acme",
      publicKeyPem,
      repositories: ["granted"],
    }));
  });
  after(async () => {
    await standin.close();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("finds the owner's installation and mints a token as fluxcd/pkg githubapp does", async () => {
    const token = bearer(jwt(privateKey));
    // getInstallationID: the owner as an organization first (acme is a user: 404), then as a user.
    expect((await api("GET", "/orgs/acme/installation", token)).status).to.equal(404);
    for (const prefix of ["", "/api/v3"]) {
      const found = await api("GET", `${prefix}/users/acme/installation`, token);
      expect(found.status).to.equal(200);
      expect(found.data).to.include({
        id: installationId,
        app_id: APP_ID,
        app_slug: SLUG,
        target_type: "User",
        repository_selection: "selected",
      });
      expect((found.data.account as { login: string }).login).to.equal("acme");
    }
    // createInstallationToken, through githubAppBaseURL's /api/v3 (GitHub Enterprise Server);
    // go-github encodes fluxcd/pkg's nil options as the body `null`.
    const minted = await api(
      "POST",
      `/api/v3/app/installations/${installationId}/access_tokens`,
      token,
      null,
    );
    expect(minted.status).to.equal(201);
    expect(minted.data.token).to.match(/^ghs_[A-Za-z0-9]{36}$/);
    const expires = Date.parse(String(minted.data.expires_at));
    expect(expires - Date.now()).to.be.within(3590_000, 3600_000);
    expect(minted.data.permissions).to.deep.equal({
      contents: "read",
      metadata: "read",
      statuses: "write",
    });
    expect(minted.data.repository_selection).to.equal("selected");
    installationToken = String(minted.data.token);
    // The App itself (notification-controller's slug reflection) and its installations.
    expect((await api("GET", "/app", token)).data).to.include({ id: APP_ID, slug: SLUG });
    const list = await api("GET", "/app/installations", token);
    expect((list.data as unknown as { id: number }[]).map((i) => i.id)).to.deep.equal([
      installationId,
    ]);
  });

  it("refuses JWTs as GitHub does: expired, issued in the future, too long, wrong key or App", async () => {
    const t = Math.floor(Date.now() / 1000);
    const tokenRoute = `/app/installations/${installationId}/access_tokens`;
    const post = async (auth?: string) => api("POST", tokenRoute, auth);
    const refused = async (auth: string | undefined, status: number, message: string) => {
      const r = await post(auth);
      expect([r.status, r.data.message]).to.deep.equal([status, message]);
    };
    await refused(bearer(jwt(privateKey, { iat: t - 700, exp: t - 10 })), 401, EXPIRED);
    await refused(bearer(jwt(privateKey, { iat: t + 120 })), 401, ISSUED_AT);
    await refused(bearer(jwt(privateKey, { iat: t - 30, exp: t + 1200 })), 401, TOO_FAR);
    const other = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    await refused(bearer(jwt(other)), 401, "A JSON web token could not be decoded");
    await refused(bearer(jwt(privateKey, { iss: 999 })), 404, "Integration not found");
    await refused(undefined, 401, "A JSON web token could not be decoded");
    await refused(user, 401, "A JSON web token could not be decoded");
    // Within the minute of drift GitHub allows, and `iss` as a number: taken.
    expect((await post(bearer(jwt(privateKey, { iat: t + 30 })))).status).to.equal(201);
    expect((await post(bearer(jwt(privateKey, { iss: APP_ID })))).status).to.equal(201);
    // A JWT is for the App routes only; an installation of another App is not this App's.
    expect((await api("GET", "/repos/acme/granted", bearer(jwt(privateKey)))).status).to.equal(401);
    const otherKey = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const second = await register({
      id: 1002,
      slug: "second-app",
      owner: "acme",
      publicKeyPem: otherKey.publicKey.export({ type: "spki", format: "pem" }),
    });
    expect(
      (
        await api(
          "POST",
          `/app/installations/${second.installationId}/access_tokens`,
          bearer(jwt(privateKey)),
        )
      ).status,
    ).to.equal(404);
  });

  it("clones a granted repository over smart HTTP with x-access-token and the installation token", async () => {
    for (const [repo, extra] of [
      ["acme/granted.git", []], // git's protocol v2
      ["acme/granted", ["-c", "protocol.version=0"]], // go-git's v0, the path without .git
    ] as const) {
      const r = await clone(cloneUrl(repo, `x-access-token:${installationToken}`), [...extra]);
      expect(r.code, r.stderr).to.equal(0);
      expect(fs.readFileSync(path.join(r.dest, "README.md"), "utf8")).to.equal("# granted\n");
      const head = (await run(["rev-parse", "HEAD"], r.dest)).stdout.trim();
      expect(head).to.equal(
        (await gitOk(standin.repoDir("acme", "granted"), ["rev-parse", "main"])).trim(),
      );
    }
    const logged = standin.requests.filter((q) => q.path === "/acme/granted.git/info/refs");
    expect(logged.map((q) => q.status)).to.include(200);
  });

  it("refuses a clone without access: not granted (404), no or bad credentials (401)", async () => {
    const hidden = await clone(cloneUrl("acme/other.git", `x-access-token:${installationToken}`));
    expect(hidden.code).to.equal(128);
    expect(hidden.stderr).to.match(/remote: Repository not found\./);
    expect(hidden.stderr).to.match(/repository '.*acme\/other\.git\/' not found/);
    const missing = await clone(
      cloneUrl("acme/nothing.git", `x-access-token:${installationToken}`),
    );
    expect(missing.code).to.equal(128);
    expect(missing.stderr).to.match(/not found/);

    standin.requests.length = 0;
    const anonymous = await clone(cloneUrl("acme/granted.git"));
    expect(anonymous.code).to.equal(128);
    expect(anonymous.stderr).to.match(/could not read Username/);
    expect(standin.requests.map((q) => q.status)).to.deep.equal([401]);
    const bad = await clone(cloneUrl("acme/granted.git", `x-access-token:ghs_${"x".repeat(36)}`));
    expect(bad.code).to.equal(128);
    expect(bad.stderr).to.match(/Authentication failed/);
    const res = await fetch(`${standin.url}/acme/granted.git/info/refs?service=git-upload-pack`);
    expect(res.status).to.equal(401);
    expect(res.headers.get("www-authenticate")).to.equal('Basic realm="GitHub"');
    // A public repository is read by anyone; the user's token reads every repository.
    expect((await clone(cloneUrl("acme/open.git"))).code).to.equal(0);
    expect((await clone(cloneUrl("acme/other.git", `x-access-token:${TOKEN}`))).code).to.equal(0);
  });

  it("refuses a push with an installation token (403) and takes one with the user's token", async () => {
    const r = await clone(cloneUrl("acme/granted.git", `x-access-token:${installationToken}`));
    expect(r.code, r.stderr).to.equal(0);
    fs.writeFileSync(path.join(r.dest, "a.txt"), "a\n");
    await run(["add", "a.txt"], r.dest);
    expect((await run(["commit", "-q", "-m", "a"], r.dest)).code).to.equal(0);
    const refused = await run(["push", "-q", "origin", "HEAD:main"], r.dest);
    expect(refused.code).to.equal(128);
    expect(refused.stderr).to.include(`Permission to acme/granted.git denied to ${SLUG}[bot].`);
    expect(refused.stderr).to.match(/403/);
    const bare = standin.repoDir("acme", "granted");
    const before = (await gitOk(bare, ["rev-parse", "main"])).trim();
    const url = cloneUrl("acme/granted.git", `x-access-token:${TOKEN}`);
    const pushed = await run(["push", "-q", url, "HEAD:main"], r.dest);
    expect(pushed.code, pushed.stderr).to.equal(0);
    const after = (await gitOk(bare, ["rev-parse", "main"])).trim();
    expect(after).to.not.equal(before);
    expect(after).to.equal((await run(["rev-parse", "HEAD"], r.dest)).stdout.trim());
  });

  it("streams a large pack both ways and inflates a gzip request body", async () => {
    const r = await clone(cloneUrl("acme/granted.git", `x-access-token:${TOKEN}`));
    expect(r.code, r.stderr).to.equal(0);
    const blob = crypto.randomBytes(12 << 20); // incompressible: a 12 MiB pack, chunked
    fs.writeFileSync(path.join(r.dest, "big.bin"), blob);
    await run(["add", "big.bin"], r.dest);
    await run(["commit", "-q", "-m", "big"], r.dest);
    const pushed = await run(["push", "-q", "origin", "HEAD:main"], r.dest);
    expect(pushed.code, pushed.stderr).to.equal(0);
    const back = await clone(cloneUrl("acme/granted.git", `x-access-token:${installationToken}`));
    expect(back.code, back.stderr).to.equal(0);
    expect(fs.readFileSync(path.join(back.dest, "big.bin")).equals(blob)).to.equal(true);

    // A protocol v2 ls-refs, gzipped as git sends a long request.
    const request = pkt("command=ls-refs\n") + "0001" + pkt("ref-prefix refs/heads/\n") + "0000";
    const res = await fetch(`${standin.url}/acme/granted.git/git-upload-pack`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`x-access-token:${installationToken}`).toString("base64")}`,
        "content-type": "application/x-git-upload-pack-request",
        "content-encoding": "gzip",
        "git-protocol": "version=2",
      },
      body: zlib.gzipSync(request),
    });
    expect(res.status).to.equal(200);
    expect(res.headers.get("content-type")).to.equal("application/x-git-upload-pack-result");
    const main = (await gitOk(standin.repoDir("acme", "granted"), ["rev-parse", "main"])).trim();
    expect(await res.text()).to.include(`${main} refs/heads/main`);
  });

  it("takes the installation token for commit statuses on its repositories only", async () => {
    const t = bearer(installationToken);
    const sha = (await gitOk(standin.repoDir("acme", "granted"), ["rev-parse", "main"])).trim();
    // notification-controller's client is go-github WithEnterpriseURLs: the /api/v3 prefix.
    const created = await api("POST", `/api/v3/repos/acme/granted/statuses/${sha}`, t, {
      state: "success",
      context: "kustomization/apps",
      description: "reconciliation succeeded",
    });
    expect(created.status).to.equal(201);
    const listed = await api("GET", `/api/v3/repos/acme/granted/commits/${sha}/statuses`, t);
    expect((listed.data as unknown as { state: string }[]).map((s) => s.state)).to.deep.equal([
      "success",
    ]);
    const otherSha = (await gitOk(standin.repoDir("acme", "other"), ["rev-parse", "main"])).trim();
    const hidden = await api("POST", `/repos/acme/other/statuses/${otherSha}`, t, {
      state: "success",
    });
    expect([hidden.status, hidden.data.message]).to.deep.equal([404, "Not Found"]);
    // Its permissions: metadata read, contents read (no ref updates), nothing outside repos.
    expect((await api("GET", "/repos/acme/granted", t)).status).to.equal(200);
    const write = await api("POST", "/repos/acme/granted/git/refs", t, {
      ref: "refs/heads/x",
      sha,
    });
    expect([write.status, write.data.message]).to.deep.equal([
      403,
      "Resource not accessible by integration",
    ]);
    expect((await api("GET", "/user", t)).status).to.equal(403);
    const repos = await api("GET", "/installation/repositories", t);
    expect(repos.data.total_count).to.equal(1);
    expect((repos.data.repositories as { full_name: string }[])[0].full_name).to.equal(
      "acme/granted",
    );
    // An App without the statuses permission gets a token that cannot post them.
    const key = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const reader = await register({
      id: 1003,
      slug: "reader",
      owner: "acme",
      publicKeyPem: key.publicKey.export({ type: "spki", format: "pem" }),
      permissions: { contents: "read", metadata: "read" },
      repositories: ["granted"],
    });
    const readOnly = await mint(reader.installationId, key.privateKey, 1003);
    const denied = await api("POST", `/repos/acme/granted/statuses/${sha}`, bearer(readOnly), {
      state: "success",
    });
    expect(denied.status).to.equal(403);
  });

  it("grants and revokes a repository as github_app_installation_repository does", async () => {
    const id = await repoId("acme/other");
    const route = `/user/installations/${installationId}/repositories`;
    const read = async (query = "?per_page=100") => api("GET", `${route}${query}`, user);
    const names = async () =>
      ((await read()).data.repositories as { name: string; id: number }[]).map((r) => r.name);
    // Create: GET /repos/{o}/{r} for the id, then PUT (204, also when already granted).
    expect((await api("PUT", `${route}/${id}`, user)).status).to.equal(204);
    expect((await api("PUT", `${route}/${id}`, user)).status).to.equal(204);
    // Read: the installation's repositories, by name, with their ids.
    const listed = await read();
    expect(listed.status).to.equal(200);
    expect(listed.data.total_count).to.equal(2);
    const found = (listed.data.repositories as { name: string; id: number }[]).find(
      (r) => r.name === "other",
    );
    expect(found?.id).to.equal(id);
    // Pages, with the Link go-github follows.
    const first = await read("?per_page=1");
    expect(first.headers.get("link")).to.match(/[?&]page=2>; rel="next"/);
    const second = await read("?per_page=1&page=2");
    expect(second.headers.get("link")).to.not.match(/rel="next"/);
    expect(
      [first, second].map((p) => (p.data.repositories as { name: string }[])[0].name),
    ).to.deep.equal(["granted", "other"]);
    // The token minted before the grant reads the repository now …
    const granted = await clone(cloneUrl("acme/other.git", `x-access-token:${installationToken}`));
    expect(granted.code, granted.stderr).to.equal(0);
    // … and not after the revoke (Delete: DELETE with the repo_id kept in state).
    expect((await api("DELETE", `${route}/${id}`, user)).status).to.equal(204);
    expect(await names()).to.deep.equal(["granted"]);
    const revoked = await clone(cloneUrl("acme/other.git", `x-access-token:${installationToken}`));
    expect(revoked.code).to.equal(128);
    expect(revoked.stderr).to.match(/Repository not found/);
    // Not with an installation token, not for an unknown installation, repository, or a
    // repository of another account; not without the user's token.
    expect((await api("PUT", `${route}/${id}`, bearer(installationToken))).status).to.equal(403);
    expect((await api("PUT", `/user/installations/1/repositories/${id}`, user)).status).to.equal(
      404,
    );
    expect((await api("PUT", `${route}/1`, user)).status).to.equal(404);
    const foreign = await repoId("acme-org/platform");
    expect((await api("PUT", `${route}/${foreign}`, user)).status).to.equal(404);
    expect((await api("GET", route, "token wrong")).status).to.equal(401);
  });

  it("keeps an organization installation's last repository (422), as GitHub documents", async () => {
    const key = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    await register({
      id: 1004,
      slug: "org-app",
      owner: "acme-org",
      publicKeyPem: key.publicKey.export({ type: "spki", format: "pem" }),
      repositories: ["platform"],
    });
    // fluxcd/pkg githubapp: the owner as an organization is found at once.
    const found = await api(
      "GET",
      "/orgs/acme-org/installation",
      bearer(jwt(key.privateKey, { iss: 1004 })),
    );
    expect([found.status, found.data.target_type]).to.deep.equal([200, "Organization"]);
    const route = `/user/installations/${Number(found.data.id)}/repositories`;
    const platform = await repoId("acme-org/platform");
    expect((await api("DELETE", `${route}/${platform}`, user)).status).to.equal(422);
    expect((await api("PUT", `${route}/${await repoId("acme-org/second")}`, user)).status).to.equal(
      204,
    );
    expect((await api("DELETE", `${route}/${platform}`, user)).status).to.equal(204);
  });

  it("refuses an expired or revoked installation token, keeps live ones across a restart", async () => {
    const fresh = await mint(installationId);
    const expiring = await mint(installationId);
    const file = path.join(root, "_apps.json");
    const state = JSON.parse(fs.readFileSync(file, "utf8")) as {
      tokens: { token: string; expires_at: string }[];
    };
    state.tokens.find((t) => t.token === expiring)!.expires_at = "2020-01-01T00:00:00Z";
    fs.writeFileSync(file, JSON.stringify(state));
    const expired = await api("GET", "/repos/acme/granted", bearer(expiring));
    expect([expired.status, expired.data.message]).to.deep.equal([401, "Bad credentials"]);
    const git = await clone(cloneUrl("acme/granted.git", `x-access-token:${expiring}`));
    expect(git.stderr).to.match(/Authentication failed/);

    await standin.close();
    standin = await startStandIn({ root, token: TOKEN, orgs: ["acme-org"] });
    expect((await api("GET", "/repos/acme/granted", bearer(fresh))).status).to.equal(200);
    expect((await api("DELETE", "/installation/token", bearer(fresh))).status).to.equal(204);
    expect((await api("GET", "/repos/acme/granted", bearer(fresh))).status).to.equal(401);
  });
});
