/**
 * The environment's age key: made by the AgeKey provider for real, checked with typage's
 * own recipient derivation and an age round trip, and run as Pulumi runs it (serialized).
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { ageKeyProvider } from "../components/ageKey";

type Age = typeof import("age-encryption");
const age = (): Promise<Age> => import("age-encryption");
const ROOT = path.resolve(__dirname, "..");

describe("age keys for SOPS", () => {
  it("makes an X25519 identity and its recipient, which an age file round-trips through", async () => {
    const { Decrypter, Encrypter, identityToRecipient } = await age();
    const key = await ageKeyProvider.create!({});
    const { identity, recipient } = key.outs as { identity: string; recipient: string };
    expect(identity).to.match(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(recipient).to.match(/^age1[0-9a-z]{58}$/);
    expect(await identityToRecipient(identity)).to.equal(recipient);
    // The id is shown in plain text: a random UUID, nothing of the identity.
    expect(key.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const e = new Encrypter();
    e.addRecipient(recipient);
    const file = await e.encrypt("API_TOKEN=s3cr3t\n");
    const d = new Decrypter();
    d.addIdentity(identity);
    expect(await d.decrypt(file, "text")).to.equal("API_TOKEN=s3cr3t\n");

    // Another environment's key cannot read it.
    const other = (await ageKeyProvider.create!({})).outs as { identity: string };
    expect(other.identity).to.not.equal(identity);
    const wrong = new Decrypter();
    wrong.addIdentity(other.identity);
    let refused: unknown;
    await wrong.decrypt(file, "text").catch((err: unknown) => (refused = err));
    expect(String(refused)).to.match(/no identity matched/);
  });

  it("never changes a key by itself", async () => {
    const a = await ageKeyProvider.create!({});
    expect((await ageKeyProvider.diff!(a.id, a.outs, {})).changes).to.equal(false);
  });

  it("still makes keys once serialized as Pulumi stores the provider, loading age-encryption itself", async () => {
    const { identityToRecipient } = await age();
    const serialized = await pulumi.runtime.serializeFunction(() => ageKeyProvider);
    // Under node_modules, so that the serialized require() finds age-encryption as it does
    // in the project; run by a plain node, as the dynamic provider host runs it.
    const dir = fs.mkdtempSync(path.join(ROOT, "node_modules", ".age-provider-"));
    try {
      const file = path.join(dir, "provider.js");
      fs.writeFileSync(file, serialized.text);
      const script = `require(${JSON.stringify(file)}).${serialized.exportName}().create({}).then((r) => console.log(JSON.stringify(r.outs)))`;
      const out = execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" });
      const outs = JSON.parse(out) as { identity: string; recipient: string };
      expect(outs.identity).to.match(/^AGE-SECRET-KEY-1/);
      expect(await identityToRecipient(outs.identity)).to.equal(outs.recipient);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
