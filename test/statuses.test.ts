/** The stand-in's commit statuses, as notification-controller's github Provider uses them. */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { githubClient } from "../lib/github/api";
import { readBranch } from "../lib/github/writer";
import { startStandIn, type StandIn } from "./github-standin/server";

describe("GitHub stand-in: commit statuses", () => {
  let standin: StandIn;
  before(async () => {
    standin = await startStandIn({
      root: fs.mkdtempSync(path.join(os.tmpdir(), "standin-")),
      token: "t",
    });
    await standin.createRepo("acme", "flux_developer");
  });
  after(() => standin.close());

  it("creates statuses (201), lists them newest first, refuses an unknown state or commit (422)", async () => {
    const gh = githubClient({ token: "t", baseUrl: standin.url }, { minWriteIntervalMs: 0 });
    const t = { owner: "acme", repo: "flux_developer" };
    const { commit } = await readBranch(gh, { ...t, branch: "main" });
    for (const state of ["failure", "success"] as const) {
      const r = await gh.request("POST /repos/{owner}/{repo}/statuses/{sha}", {
        ...t,
        sha: commit,
        state,
        context: "kustomization/config-beetle/0e2ed8a9",
        description: `Kustomization ${state}`,
      });
      expect(r.status).to.equal(201);
    }
    const list = await gh.request("GET /repos/{owner}/{repo}/commits/{ref}/statuses", {
      ...t,
      ref: commit,
    });
    expect(list.data.map((s) => s.state)).to.deep.equal(["success", "failure"]);
    const refused = async (sha: string, state: string) =>
      gh
        .request("POST /repos/{owner}/{repo}/statuses/{sha}", {
          ...t,
          sha,
          state: state as "success",
        })
        .then(() => 0)
        .catch((e: { status: number }) => e.status);
    expect(await refused(commit, "done")).to.equal(422);
    expect(await refused("0".repeat(40), "success")).to.equal(422);
  });
});
