/**
 * Deploy keys and webhooks (lib/github/registrations.ts and the dynamic resources over it)
 * against the GitHub stand-in, with its fault injection: a lost answer to a create is taken
 * over, never registered twice or refused forever; a lost answer to a delete is done.
 */
import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { deployKeyProvider, webhookProvider } from "../components/githubRegistrations";
import { githubClient } from "../lib/github/api";
import {
  CREATE_ATTEMPTS,
  deployKeyExists,
  putWebhook,
  registerDeployKey,
  removeDeployKey,
  removeWebhook,
  webhookMatches,
  type WebhookSpec,
} from "../lib/github/registrations";
import { generateEd25519 } from "../lib/sshKeys";
import { mulberry32 } from "./github-standin/chaos";
import { startStandIn, type StandIn } from "./github-standin/server";

const TOKEN = "ghp_standin_token";
const R = { owner: "acme", repo: "flux_platform" };
const noPause = { pause: async () => {} };

/**
 * A chaos seed whose first draw gives `dropAfter` at rate 0.5 and whose second gives none
 * (chaos.ts: the share is [0, 0.5) when it is the only kind): the first matching request is
 * carried out and its answer lost, the resend answered.
 */
function firstOnlySeed(): number {
  for (let seed = 1; ; seed++) {
    const draw = mulberry32(seed);
    if (draw() < 0.5 && draw() >= 0.5) return seed;
  }
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a failure");
}

describe("deploy keys and webhooks against the GitHub stand-in", () => {
  let standin: StandIn;
  const gh = () =>
    githubClient(
      { token: TOKEN, baseUrl: standin.url },
      { minWriteIntervalMs: 0, retryAfterBaseMs: 10 },
    );
  const calls = (method: string, tail: RegExp) =>
    standin.requests.filter((q) => q.method === method && tail.test(q.path)).map((q) => q.status);
  const keys = async () =>
    (await gh().request("GET /repos/{owner}/{repo}/keys", R)).data as { id: number; key: string }[];
  const hooks = async () =>
    (await gh().request("GET /repos/{owner}/{repo}/hooks", R)).data as { id: number }[];
  const keySpec = () => ({
    title: "flux-dev",
    key: `${generateEd25519().publicKeyOpenssh} flux@dev`,
    readOnly: true,
  });
  /** The dynamic resources' GitHub inputs, for this stand-in. */
  const access = () => ({ owner: R.owner, repository: R.repo, token: TOKEN, baseUrl: standin.url });
  const hookSpec: WebhookSpec = {
    url: "http://127.0.0.1:9/hook/f00d",
    secret: "s3cret",
    events: ["push"],
    active: true,
    contentType: "json",
    insecureSsl: false,
  };

  beforeEach(async () => {
    standin = await startStandIn({
      root: fs.mkdtempSync(path.join(os.tmpdir(), "standin-")),
      token: TOKEN,
    });
    await standin.createRepo(R.owner, R.repo);
    await standin.createRepo(R.owner, "other");
    standin.requests.length = 0;
  });
  afterEach(() => standin.close());

  describe("deploy keys", () => {
    it("registers a key once; asked again, finds it and sends nothing", async () => {
      const spec = keySpec();
      const first = await registerDeployKey(gh(), R, spec);
      expect(first.found).to.equal(false);
      const again = await registerDeployKey(gh(), R, spec);
      expect(again).to.deep.equal({ id: first.id, found: true });
      expect(calls("POST", /\/keys$/)).to.deep.equal([201]);
      expect((await keys()).map((k) => k.id)).to.deep.equal([first.id]);
    });

    it("a create whose answer was lost: taken over, not sent again (a resend is refused 422)", async () => {
      const spec = keySpec();
      standin.setChaos({ seed: 1, rates: { dropAfter: 1 }, methods: ["POST"], path: "/keys$" });
      const r = await registerDeployKey(gh(), R, spec, noPause);
      const log = standin.chaos().log;
      standin.setChaos(undefined);
      // The POST was carried out and its answer dropped; the key was found by its public half.
      expect(log.map((f) => `${f.kind} ${f.carriedOut}`)).to.deep.equal(["dropAfter 201"]);
      expect(r.found).to.equal(true);
      expect((await keys()).map((k) => k.id)).to.deep.equal([r.id]);
      // What a blind resend (the GitHub provider's) gets from then on.
      const resend = await failure(
        gh().request("POST /repos/{owner}/{repo}/keys", { ...R, ...spec, read_only: true }),
      );
      expect(JSON.stringify((resend as { response?: { data?: unknown } }).response?.data)).to.match(
        /key is already in use/,
      );
    });

    it("a create refused 5xx before anything was made: read again, then sent again", async () => {
      standin.addFault({
        method: "POST",
        path: "/keys",
        status: 502,
        message: "Bad Gateway",
        times: 1,
      });
      const r = await registerDeployKey(gh(), R, keySpec(), noPause);
      expect(r.found).to.equal(false);
      expect(calls("POST", /\/keys$/)).to.deep.equal([502, 201]);
      expect(calls("GET", /\/keys$/)).to.deep.equal([200, 200]);
      expect((await keys()).map((k) => k.id)).to.deep.equal([r.id]);
    });

    it(`gives up after ${CREATE_ATTEMPTS} creates that got no answer, naming the call`, async () => {
      standin.setChaos({ seed: 2, rates: { dropBefore: 1 }, methods: ["POST"], path: "/keys$" });
      const err = await failure(registerDeployKey(gh(), R, keySpec(), noPause));
      standin.setChaos(undefined);
      expect(err.message).to.match(/^GitHub POST \/repos\/acme\/flux_platform\/keys: no answer/);
      expect(standin.chaos().injected.dropBefore).to.equal(CREATE_ATTEMPTS);
      expect(await keys()).to.deep.equal([]);
    });

    it("a public key registered on another repository: one line saying where to look", async () => {
      const spec = keySpec();
      await registerDeployKey(gh(), { owner: "acme", repo: "other" }, spec);
      const err = await failure(registerDeployKey(gh(), R, spec));
      expect(err.message).to.equal(
        'acme/flux_platform: GitHub refused deploy key "flux-dev": its public key is already registered on another repository or account (a deploy key can be registered once); remove it there, or rotate the key (deployKeyGeneration)',
      );
      // An answer, not an unknown outcome: sent once.
      expect(calls("POST", /flux_platform\/keys$/)).to.deep.equal([422]);
    });

    it("a key found with write access is not quietly taken over as read-only", async () => {
      const spec = keySpec();
      await registerDeployKey(gh(), R, { ...spec, readOnly: false });
      const err = await failure(registerDeployKey(gh(), R, spec));
      expect(err.message).to.match(
        /^acme\/flux_platform: deploy key \d+ \("flux-dev"\) has this public key with read_only=false, not true; delete it/,
      );
    });

    it("a delete whose answer was lost is done: the resend's 404 means gone", async () => {
      const { id } = await registerDeployKey(gh(), R, keySpec());
      standin.setChaos({ seed: firstOnlySeed(), rates: { dropAfter: 0.5 }, methods: ["DELETE"] });
      await removeDeployKey(gh(), R, id);
      standin.setChaos(undefined);
      expect(calls("DELETE", /\/keys\/\d+$/)).to.deep.equal([0, 404]);
      expect(await deployKeyExists(gh(), R, id)).to.equal(false);
      // And again (a destroy run after one that failed later): nothing to do, no error.
      await removeDeployKey(gh(), R, id);
    });

    it("the resource: a key removed by hand shows as a change and the update registers it again", async () => {
      const inputs = { ...access(), ...keySpec() };
      const created = await deployKeyProvider.create!(inputs);
      expect(created.id).to.equal("acme/flux_platform/keys/flux-dev");
      const outs = created.outs as typeof inputs & { keyId: number };
      expect((await deployKeyProvider.diff!(created.id, outs, inputs)).changes).to.equal(false);
      await removeDeployKey(gh(), R, outs.keyId);
      expect((await deployKeyProvider.diff!(created.id, outs, inputs)).changes).to.equal(true);
      const updated = (await deployKeyProvider.update!(created.id, outs, inputs))
        .outs as typeof outs;
      expect(updated.keyId).to.not.equal(outs.keyId);
      expect(await deployKeyExists(gh(), R, updated.keyId)).to.equal(true);
      // Another public key is another key: replaced, the old one removed first (GitHub keeps
      // no two keys with one title here, and a key cannot be edited).
      const next = { ...inputs, key: generateEd25519().publicKeyOpenssh };
      expect(await deployKeyProvider.diff!(created.id, updated, next)).to.deep.equal({
        changes: true,
        replaces: ["key"],
        deleteBeforeReplace: true,
      });
      await deployKeyProvider.delete!(created.id, updated);
      expect(await keys()).to.deep.equal([]);
    });

    it("the resource's delete uses GITHUB_TOKEN when it is set (a token rotated since the create)", async () => {
      const inputs = { ...access(), ...keySpec() };
      const created = await deployKeyProvider.create!(inputs);
      const stale = {
        ...(created.outs as typeof inputs & { keyId: number }),
        token: "ghp_revoked",
      };
      const saved = process.env.GITHUB_TOKEN;
      try {
        delete process.env.GITHUB_TOKEN;
        expect(String(await failure(deployKeyProvider.delete!(created.id, stale)))).to.match(/401/);
        process.env.GITHUB_TOKEN = TOKEN;
        await deployKeyProvider.delete!(created.id, stale);
      } finally {
        if (saved === undefined) delete process.env.GITHUB_TOKEN;
        else process.env.GITHUB_TOKEN = saved;
      }
      expect(await keys()).to.deep.equal([]);
    });
  });

  describe("webhooks", () => {
    it("a create whose answer was lost: the hook posting to that URL is taken over and given the secret", async () => {
      standin.setChaos({ seed: 4, rates: { dropAfter: 1 }, methods: ["POST"], path: "/hooks$" });
      const r = await putWebhook(gh(), R, hookSpec, undefined, noPause);
      standin.setChaos(undefined);
      expect(r.found).to.equal(true);
      expect((await hooks()).map((h) => h.id)).to.deep.equal([r.id]);
      // Taken over: its config set again, the secret with it (GitHub never shows it back).
      expect(calls("PATCH", /\/hooks\/\d+$/)).to.deep.equal([200]);
      expect(await webhookMatches(gh(), R, r.id, hookSpec)).to.equal(true);
    });

    it("an edit or removal by hand shows; putting it back keeps the id when the hook is there", async () => {
      const { id } = await putWebhook(gh(), R, hookSpec);
      await gh().request("PATCH /repos/{owner}/{repo}/hooks/{hook_id}", {
        ...R,
        hook_id: id,
        active: false,
      });
      expect(await webhookMatches(gh(), R, id, hookSpec)).to.equal(false);
      expect(await putWebhook(gh(), R, hookSpec, id)).to.deep.equal({ id, found: true });
      expect(await webhookMatches(gh(), R, id, hookSpec)).to.equal(true);
      await removeWebhook(gh(), R, id);
      expect(await webhookMatches(gh(), R, id, hookSpec)).to.equal(false);
      const again = await putWebhook(gh(), R, hookSpec, id);
      expect(again.found).to.equal(false);
      expect((await hooks()).map((h) => h.id)).to.deep.equal([again.id]);
    });

    it("a delete whose answer was lost is done", async () => {
      const { id } = await putWebhook(gh(), R, hookSpec);
      standin.setChaos({ seed: firstOnlySeed(), rates: { dropAfter: 0.5 }, methods: ["DELETE"] });
      await removeWebhook(gh(), R, id);
      standin.setChaos(undefined);
      expect(calls("DELETE", /\/hooks\/\d+$/)).to.deep.equal([0, 404]);
      expect(await hooks()).to.deep.equal([]);
    });

    it("the resource: a new URL (a new token) is an update of the same hook", async () => {
      const inputs = { ...access(), ...hookSpec, events: ["push"] };
      const created = await webhookProvider.create!(inputs);
      const outs = created.outs as typeof inputs & { hookId: number };
      expect((await webhookProvider.diff!(created.id, outs, inputs)).changes).to.equal(false);
      const moved = { ...inputs, url: "http://127.0.0.1:9/hook/beef", secret: "other" };
      expect((await webhookProvider.diff!(created.id, outs, moved)).changes).to.equal(true);
      const updated = (await webhookProvider.update!(created.id, outs, moved)).outs as typeof outs;
      expect(updated.hookId).to.equal(outs.hookId);
      expect(await webhookMatches(gh(), R, outs.hookId, moved)).to.equal(true);
      expect(await hooks()).to.have.length(1);
    });
  });
});
