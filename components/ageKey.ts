import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

/** What `age-encryption` (typage) gives this provider. */
type Age = Pick<typeof import("age-encryption"), "generateX25519Identity" | "identityToRecipient">;

export const ageKeyProvider: pulumi.dynamic.ResourceProvider = {
  async create() {
    // Required here, not imported at the top: the provider is serialized into the state
    // and runs in its own process, which loads the module when it needs it.
    const age = require("age-encryption") as Age;
    // X25519 explicitly: `generateIdentity()` may become post-quantum (`AGE-SECRET-KEY-PQ-1`),
    // which the SOPS in kustomize-controller does not read.
    const identity = await age.generateX25519Identity();
    const recipient = await age.identityToRecipient(identity);
    // The id must not reveal the identity: it is stored and shown in plain text.
    return { id: crypto.randomUUID(), outs: { identity, recipient } };
  },
  async diff() {
    return { changes: false };
  },
};

/**
 * An age X25519 key kept in the stack's state: the identity (`AGE-SECRET-KEY-1...`) as a
 * secret output, its recipient (`age1...`) public, for `sops --age`. It has no inputs, so
 * once made it never changes; a new generation is a new resource (components/secretsKey.ts).
 *
 * A dynamic resource, for the reason `SshKeyPair` gives: no provider plugin to download.
 */
export class AgeKey extends pulumi.dynamic.Resource {
  /** `AGE-SECRET-KEY-1...`; secret. */
  declare public readonly identity: pulumi.Output<string>;
  /** `age1...`: what files are encrypted to. */
  declare public readonly recipient: pulumi.Output<string>;

  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super(
      ageKeyProvider,
      name,
      { identity: undefined, recipient: undefined },
      { ...opts, additionalSecretOutputs: ["identity"] },
      "flux-platform",
      "AgeKey",
    );
  }
}
