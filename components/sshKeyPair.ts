import * as pulumi from "@pulumi/pulumi";
import { generateEd25519 } from "../lib/sshKeys";

export const sshKeyPairProvider: pulumi.dynamic.ResourceProvider = {
  async create() {
    const pair = generateEd25519();
    return { id: pair.publicKeyOpenssh.slice(-16), outs: { ...pair } };
  },
  async diff() {
    return { changes: false };
  },
};

/**
 * An ED25519 key pair kept in the stack's state, the private key as a secret output.
 *
 * A dynamic resource rather than `@pulumi/tls`: Node's crypto makes the key, so there is no
 * provider plugin to download or build (the tls plugin cannot be built on the machines this
 * project's end-to-end run proves it on). It has no inputs, so it never changes on its own;
 * `replacementTrigger` (deploy key rotation) makes a new pair.
 */
export class SshKeyPair extends pulumi.dynamic.Resource {
  /** OpenSSH private key; secret. */
  declare public readonly privateKeyOpenssh: pulumi.Output<string>;
  /** `ssh-ed25519 AAAA...`. */
  declare public readonly publicKeyOpenssh: pulumi.Output<string>;

  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super(
      sshKeyPairProvider,
      name,
      { privateKeyOpenssh: undefined, publicKeyOpenssh: undefined },
      { ...opts, additionalSecretOutputs: ["privateKeyOpenssh"] },
      "flux-platform",
      "SshKeyPair",
    );
  }
}
