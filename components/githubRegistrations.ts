import * as pulumi from "@pulumi/pulumi";
import { githubClient } from "../lib/github/api";
import {
  deployKeyExists,
  putWebhook,
  registerDeployKey,
  removeDeployKey,
  removeWebhook,
  webhookMatches,
  type RepoRef,
  type WebhookSpec,
} from "../lib/github/registrations";

/**
 * A deploy key and a webhook on a GitHub repository, as dynamic resources over
 * lib/github/registrations.ts: a create whose answer was lost is taken over by the next run
 * instead of refused forever, a delete whose answer was lost is done, and a key or hook
 * removed by hand shows in the preview and is put back (see that module for why not the
 * GitHub provider's RepositoryDeployKey and RepositoryWebhook).
 *
 * The token is kept (secret) in the state because a delete gets only the state; a
 * `GITHUB_TOKEN` in the environment of `pulumi destroy` is used before it, so a rotated
 * token can still remove what an older one registered.
 */
interface Access {
  owner: string;
  repository: string;
  token: string;
  baseUrl?: string;
}

export interface RegistrationArgs {
  readonly owner: pulumi.Input<string>;
  readonly repository: pulumi.Input<string>;
  /** `github:token` or `GITHUB_TOKEN`; kept secret in the state. */
  readonly token: pulumi.Input<string>;
  /** `github:baseUrl` (GitHub Enterprise Server); unset for github.com. */
  readonly baseUrl?: pulumi.Input<string | undefined>;
}

// Plain functions of their inputs, so the serialized providers capture only these and lib/github.
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const isKnown = (...values: unknown[]) => values.every((v) => v !== undefined && v !== UNKNOWN);
const ref = (a: Access): RepoRef => ({ owner: a.owner, repo: a.repository });
const client = (a: Access, forDelete = false) =>
  githubClient({
    token: (forDelete && process.env.GITHUB_TOKEN) || a.token,
    baseUrl: a.baseUrl || undefined,
  });
const moved = (olds: Access, news: Access) =>
  olds.owner !== news.owner || olds.repository !== news.repository;

// --- deploy key --------------------------------------------------------------------------

interface KeyInputs extends Access {
  title: string;
  key: string;
  readOnly: boolean;
}

interface KeyOutputs extends KeyInputs {
  /** GitHub's id of the key. */
  keyId: number;
}

export const deployKeyProvider: pulumi.dynamic.ResourceProvider<KeyInputs, KeyOutputs> = {
  async diff(_id: string, olds: KeyOutputs, news: KeyInputs) {
    // A key cannot be edited on GitHub: another key, title or access is a new key.
    const replaces = [
      ...(moved(olds, news) ? ["owner", "repository"] : []),
      ...(["key", "title", "readOnly"] as const).filter((k) => olds[k] !== news[k]),
    ];
    if (replaces.length > 0) return { changes: true, replaces, deleteBeforeReplace: true };
    if (!isKnown(news.token)) return { changes: true };
    // Removed by hand on GitHub: the update registers it again.
    const there = await deployKeyExists(client(news), ref(news), olds.keyId);
    return { changes: !there || olds.token !== news.token };
  },

  async create(inputs: KeyInputs) {
    const r = await registerDeployKey(client(inputs), ref(inputs), inputs);
    return {
      id: `${inputs.owner}/${inputs.repository}/keys/${inputs.title}`,
      outs: { ...inputs, keyId: r.id },
    };
  },

  async update(_id: string, olds: KeyOutputs, news: KeyInputs) {
    const gh = client(news);
    const keyId = (await deployKeyExists(gh, ref(news), olds.keyId))
      ? olds.keyId
      : (await registerDeployKey(gh, ref(news), news)).id;
    return { outs: { ...news, keyId } };
  },

  async delete(_id: string, olds: KeyOutputs) {
    await removeDeployKey(client(olds, true), ref(olds), olds.keyId);
  },
};

export interface DeployKeyArgs extends RegistrationArgs {
  readonly title: pulumi.Input<string>;
  /** OpenSSH public key line. */
  readonly key: pulumi.Input<string>;
  readonly readOnly: pulumi.Input<boolean>;
}

/** A deploy key on a repository (`POST /repos/{owner}/{repo}/keys`), never orphaned. */
export class DeployKey extends pulumi.dynamic.Resource {
  /** GitHub's id of the key. */
  declare public readonly keyId: pulumi.Output<number>;

  constructor(name: string, args: DeployKeyArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      deployKeyProvider,
      name,
      { ...args, token: pulumi.secret(args.token), keyId: undefined },
      { ...opts, additionalSecretOutputs: ["token"] },
      "flux-platform",
      "DeployKey",
    );
  }
}

// --- webhook ---------------------------------------------------------------------------

interface HookInputs extends Access, WebhookSpec {}

interface HookOutputs extends HookInputs {
  /** GitHub's id of the hook (a hook registered again gets a new one). */
  hookId: number;
}

const spec = (i: HookInputs): WebhookSpec => ({
  url: i.url,
  secret: i.secret,
  events: i.events,
  active: i.active,
  contentType: i.contentType,
  insecureSsl: i.insecureSsl,
});

export const webhookProvider: pulumi.dynamic.ResourceProvider<HookInputs, HookOutputs> = {
  async diff(_id: string, olds: HookOutputs, news: HookInputs) {
    if (moved(olds, news)) return { changes: true, replaces: ["owner", "repository"] };
    if (!isKnown(news.token, news.url, news.secret)) return { changes: true };
    const asked = JSON.stringify(spec(olds)) !== JSON.stringify(spec(news));
    if (asked || olds.token !== news.token) return { changes: true };
    // Edited or removed by hand on GitHub: the update puts it back.
    return { changes: !(await webhookMatches(client(news), ref(news), olds.hookId, spec(news))) };
  },

  async create(inputs: HookInputs) {
    const r = await putWebhook(client(inputs), ref(inputs), spec(inputs));
    return {
      id: `${inputs.owner}/${inputs.repository}/hooks/${r.id}`,
      outs: { ...inputs, hookId: r.id },
    };
  },

  async update(_id: string, olds: HookOutputs, news: HookInputs) {
    const r = await putWebhook(client(news), ref(news), spec(news), olds.hookId);
    return { outs: { ...news, hookId: r.id } };
  },

  async delete(_id: string, olds: HookOutputs) {
    await removeWebhook(client(olds, true), ref(olds), olds.hookId);
  },
};

export interface RepositoryWebhookArgs extends RegistrationArgs {
  /** Where GitHub posts (secret when it holds a token). */
  readonly url: pulumi.Input<string>;
  /** HMAC key GitHub signs each delivery with (secret). */
  readonly secret: pulumi.Input<string>;
  readonly events: pulumi.Input<string[]>;
  readonly active?: pulumi.Input<boolean>;
  readonly contentType?: pulumi.Input<"json" | "form">;
  readonly insecureSsl?: pulumi.Input<boolean>;
}

/** A repository webhook (`POST /repos/{owner}/{repo}/hooks`), never orphaned. */
export class RepositoryWebhook extends pulumi.dynamic.Resource {
  /** GitHub's id of the hook. */
  declare public readonly hookId: pulumi.Output<number>;

  constructor(name: string, args: RepositoryWebhookArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      webhookProvider,
      name,
      {
        ...args,
        active: args.active ?? true,
        contentType: args.contentType ?? "json",
        insecureSsl: args.insecureSsl ?? false,
        token: pulumi.secret(args.token),
        url: pulumi.secret(args.url),
        secret: pulumi.secret(args.secret),
        hookId: undefined,
      },
      { ...opts, additionalSecretOutputs: ["token", "url", "secret"] },
      "flux-platform",
      "RepositoryWebhook",
    );
  }
}
