import * as crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export const randomTokenProvider: pulumi.dynamic.ResourceProvider = {
  async create() {
    const value = crypto.randomBytes(32).toString("hex");
    // The id must not reveal the value: it is stored and shown in plain text.
    return { id: crypto.randomUUID(), outs: { value } };
  },
  async diff() {
    return { changes: false };
  },
};

/**
 * A random 256-bit token (64 hex characters) kept in the stack's state as a secret, made
 * once and then stable; `replacementTrigger` makes a new one.
 *
 * A dynamic resource rather than `@pulumi/random`, for the reason `SshKeyPair` gives: no
 * provider plugin to download or build.
 */
export class RandomToken extends pulumi.dynamic.Resource {
  /** Secret. */
  declare public readonly value: pulumi.Output<string>;

  constructor(name: string, opts?: pulumi.CustomResourceOptions) {
    super(
      randomTokenProvider,
      name,
      { value: undefined },
      { ...opts, additionalSecretOutputs: ["value"] },
      "flux-platform",
      "RandomToken",
    );
  }
}
