/**
 * ED25519 key pairs for the deploy keys, from Node's own crypto, in OpenSSH's formats: the
 * private key as `-----BEGIN OPENSSH PRIVATE KEY-----` (what `ssh-keygen` writes, so `ssh`,
 * `ssh-keygen -y` and Flux all read it) and the public key as the one-line form GitHub
 * registers.
 *
 * Node exports ED25519 keys as PKCS#8 or JWK only, and OpenSSH reads neither for ED25519, so
 * the two small OpenSSH encodings are written here (PROTOCOL.key and RFC 8709 in OpenSSH's
 * sources); the tests check them with the real `ssh-keygen`.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";

export interface SshKeyPair {
  /** Unencrypted `openssh-key-v1` private key, PEM-armoured. */
  readonly privateKeyOpenssh: string;
  /** `ssh-ed25519 AAAA...` without a comment or trailing newline. */
  readonly publicKeyOpenssh: string;
}

/** A length-prefixed SSH wire string (RFC 4251 section 5). */
function sshString(bytes: Buffer | string): Buffer {
  const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/** The public key blob: `string "ssh-ed25519" string key` (RFC 8709). */
function publicBlob(publicKey: Buffer): Buffer {
  return Buffer.concat([sshString("ssh-ed25519"), sshString(publicKey)]);
}

/** The OpenSSH one-line public key for a raw 32-byte ED25519 public key. */
export function opensshPublicKey(publicKey: Buffer): string {
  return `ssh-ed25519 ${publicBlob(publicKey).toString("base64")}`;
}

/** `openssh-key-v1`, unencrypted, one key (OpenSSH PROTOCOL.key). */
export function opensshPrivateKey(seed: Buffer, publicKey: Buffer, comment = ""): string {
  const check = randomBytes(4);
  let secret = Buffer.concat([
    check,
    check,
    sshString("ssh-ed25519"),
    sshString(publicKey),
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment),
  ]);
  const padding = Buffer.from(
    Array.from({ length: (8 - (secret.length % 8)) % 8 }, (_, i) => i + 1),
  );
  secret = Buffer.concat([secret, padding]);
  const body = Buffer.concat([
    Buffer.from("openssh-key-v1\0"),
    sshString("none"),
    sshString("none"),
    sshString(""),
    uint32(1),
    sshString(publicBlob(publicKey)),
    sshString(secret),
  ]).toString("base64");
  const lines = body.match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

export function generateEd25519(): SshKeyPair {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  const seed = Buffer.from(jwk.d!, "base64url");
  const pub = Buffer.from(jwk.x!, "base64url");
  return {
    privateKeyOpenssh: opensshPrivateKey(seed, pub),
    publicKeyOpenssh: opensshPublicKey(pub),
  };
}
