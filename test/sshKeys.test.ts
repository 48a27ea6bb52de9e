/** Deploy key pairs: checked with OpenSSH's own ssh-keygen, not with our encoder. */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { sshKeyPairProvider } from "../components/sshKeyPair";
import { generateEd25519 } from "../lib/sshKeys";

describe("ED25519 deploy key pairs", () => {
  it("ssh-keygen derives the same public key from the private key (the pair is valid for SSH)", () => {
    const pair = generateEd25519();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sshkey-"));
    const file = path.join(dir, "id");
    fs.writeFileSync(file, pair.privateKeyOpenssh, { mode: 0o600 });
    const r = spawnSync("ssh-keygen", ["-y", "-f", file], { encoding: "utf8" });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal(pair.publicKeyOpenssh);
    expect(pair.publicKeyOpenssh).to.match(
      /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$/,
    );
    expect(pair.privateKeyOpenssh).to.match(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
  });

  it("makes a new pair on every create and never changes one by itself", async () => {
    const a = await sshKeyPairProvider.create!({});
    const b = await sshKeyPairProvider.create!({});
    expect(a.outs.publicKeyOpenssh).to.not.equal(b.outs.publicKeyOpenssh);
    expect((await sshKeyPairProvider.diff!(a.id, a.outs, {})).changes).to.equal(false);
  });
});
