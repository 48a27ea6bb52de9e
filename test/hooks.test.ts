/** The stand-in's repository webhooks: the calls the GitHub provider makes, and deliveries. */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import { githubClient } from "../lib/github/api";
import { readBranch } from "../lib/github/writer";
import { startStandIn, type StandIn } from "./github-standin/server";

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP server that records what it is sent and answers 200. */
async function receiver(): Promise<{ url: string; got: Received[]; close(): void }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook/x`, got, close: () => server.close() };
}

async function until<T>(what: string, fn: () => T | undefined): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const signed = (secret: string, body: string) =>
  `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;

describe("GitHub stand-in: repository webhooks", () => {
  let standin: StandIn;
  let hookServer: Awaited<ReturnType<typeof receiver>>;
  const t = { owner: "acme", repo: "flux_developer" };
  const gh = () => githubClient({ token: "t", baseUrl: standin.url }, { minWriteIntervalMs: 0 });
  before(async () => {
    standin = await startStandIn({
      root: fs.mkdtempSync(path.join(os.tmpdir(), "standin-")),
      token: "t",
    });
    await standin.createRepo(t.owner, t.repo);
    hookServer = await receiver();
  });
  after(async () => {
    hookServer.close();
    await standin.close();
  });

  it("creates a hook (201), never answers its secret, pings it signed, and refuses a duplicate (422)", async () => {
    const created = await gh().request("POST /repos/{owner}/{repo}/hooks", {
      ...t,
      name: "web",
      config: { url: hookServer.url, content_type: "json", secret: "s3cret", insecure_ssl: "0" },
      events: ["push"],
      active: true,
    });
    expect(created.status).to.equal(201);
    expect(created.data.config.secret).to.equal("********");
    expect(created.data.events).to.deep.equal(["push"]);
    const ping = await until("ping", () =>
      hookServer.got.find((g) => g.headers["x-github-event"] === "ping"),
    );
    expect(ping.headers["x-hub-signature-256"]).to.equal(signed("s3cret", ping.body));
    expect(JSON.parse(ping.body).hook_id).to.equal(created.data.id);

    const read = await gh().request("GET /repos/{owner}/{repo}/hooks/{hook_id}", {
      ...t,
      hook_id: created.data.id,
    });
    expect(read.data.config).to.deep.equal({
      url: hookServer.url,
      content_type: "json",
      insecure_ssl: "0",
      secret: "********",
    });
    const dup = await gh()
      .request("POST /repos/{owner}/{repo}/hooks", { ...t, config: { url: hookServer.url } })
      .catch((e: { status: number }) => e);
    expect((dup as { status: number }).status).to.equal(422);
    const noUrl = await gh()
      .request("POST /repos/{owner}/{repo}/hooks", { ...t, config: {} as { url: string } })
      .catch((e: { status: number }) => e);
    expect((noUrl as { status: number }).status).to.equal(422);
  });

  it("sends a signed push event for a git push and for a Git Data ref update, and records each delivery", async () => {
    const [{ data: hook }] = (await gh().request("GET /repos/{owner}/{repo}/hooks", t)).data.map(
      (data) => ({ data }),
    );
    // A developer's `git push` to the bare repository: its post-receive hook tells the stand-in.
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "push-"));
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=d", "-c", "user.email=d@e", ...args], {
        cwd: work,
        encoding: "utf8",
      }).trim();
    git("clone", "-q", standin.repoDir(t.owner, t.repo), ".");
    const before = git("rev-parse", "HEAD");
    fs.writeFileSync(path.join(work, "x.yaml"), "a: 1\n");
    git("add", "-A");
    git("commit", "-q", "-m", "x");
    const after = git("rev-parse", "HEAD");
    git("push", "-q", "origin", "HEAD:main");
    const push = await until("push event", () =>
      hookServer.got.find(
        (g) => g.headers["x-github-event"] === "push" && JSON.parse(g.body).after === after,
      ),
    );
    const payload = JSON.parse(push.body);
    expect(payload).to.include({ ref: "refs/heads/main", before, after });
    expect(payload.repository.full_name).to.equal("acme/flux_developer");
    expect(push.headers["x-hub-signature-256"]).to.equal(signed("s3cret", push.body));
    expect(push.headers["x-github-hook-id"]).to.equal(String(hook.id));

    // The repository writer's way: a new commit through the Git Data API.
    const { commit, tree } = await readBranch(gh(), { ...t, branch: "main" });
    const next = await gh().request("POST /repos/{owner}/{repo}/git/commits", {
      ...t,
      message: "api",
      tree,
      parents: [commit],
    });
    await gh().request("PATCH /repos/{owner}/{repo}/git/refs/{ref}", {
      ...t,
      ref: "heads/main",
      sha: next.data.sha,
    });
    await until("push event for the API commit", () =>
      hookServer.got.find((g) => g.body.includes(`"after":"${next.data.sha}"`)),
    );
    const deliveries = await until("deliveries recorded", () => {
      const f = path.join(standin.root, t.owner, `${t.repo}.hooks.json`);
      const d = JSON.parse(fs.readFileSync(f, "utf8")).deliveries as unknown[];
      return d.length >= 3 ? d : undefined;
    });
    expect(deliveries).to.have.length(3);
    const listed = await gh().request("GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries", {
      ...t,
      hook_id: hook.id,
    });
    expect(listed.data.map((d) => [d.event, d.status_code])).to.deep.equal([
      ["push", 200],
      ["push", 200],
      ["ping", 200],
    ]);
  });

  it("edits (200) and deletes (204) a hook; a deleted hook is a 404 and gets nothing", async () => {
    const [hook] = (await gh().request("GET /repos/{owner}/{repo}/hooks", t)).data;
    const edited = await gh().request("PATCH /repos/{owner}/{repo}/hooks/{hook_id}", {
      ...t,
      hook_id: hook.id,
      active: false,
      events: ["push", "ping"],
    });
    expect(edited.data).to.include({ active: false });
    expect(edited.data.events).to.deep.equal(["push", "ping"]);
    expect(edited.data.config.secret).to.equal("********");
    const del = await gh().request("DELETE /repos/{owner}/{repo}/hooks/{hook_id}", {
      ...t,
      hook_id: hook.id,
    });
    expect(del.status).to.equal(204);
    const gone = await gh()
      .request("GET /repos/{owner}/{repo}/hooks/{hook_id}", { ...t, hook_id: hook.id })
      .catch((e: { status: number }) => e);
    expect((gone as { status: number }).status).to.equal(404);
  });
});
