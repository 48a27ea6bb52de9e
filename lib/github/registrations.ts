/**
 * A repository's deploy keys and webhooks, registered and removed so that a lost answer never
 * leaves an orphan or a stuck stack (issue "Faults").
 *
 * Why not the GitHub provider's RepositoryDeployKey and RepositoryWebhook: their create is a
 * `POST` the provider's client may resend blindly, and their delete fails on a 404. A `POST
 * .../keys` whose answer is lost leaves the key on GitHub with no state, and every later
 * create is refused ("key is already in use"; "Hook already exists on this repository"); a
 * `DELETE` whose answer is lost leaves the resource in state, and every later destroy fails
 * on GitHub's 404. Here:
 * - a create first looks for what it would make (the same public key, the same URL) and takes
 *   it over; the `POST` is sent with no blind retry (`NO_RETRY`), and when its outcome is
 *   unknown (a 5xx, no answer) the repository is read again before it is sent again, at most
 *   `CREATE_ATTEMPTS` times;
 * - a delete is a `DELETE` (idempotent: plugin-retry may resend it) and a 404 means done;
 * - what is registered is checked against GitHub, so a key or hook removed by hand shows in
 *   the preview and is registered again by the next `pulumi up`.
 *
 * A key is matched by its public half: GitHub lets a public key be registered once, anywhere.
 * A hook is matched by its URL, which holds the receiver's secret path: no one else has it.
 */
import { NO_RETRY, type GitHubClient } from "./api";

export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
}

export interface DeployKeySpec {
  readonly title: string;
  /** OpenSSH public key line (`<type> <base64> [comment]`). */
  readonly key: string;
  readonly readOnly: boolean;
}

export interface WebhookSpec {
  readonly url: string;
  readonly secret: string;
  readonly events: readonly string[];
  readonly active: boolean;
  readonly contentType: "json" | "form";
  readonly insecureSsl: boolean;
}

/** A registration as GitHub holds it: its id, and whether this call made it or found it. */
export interface Registered {
  readonly id: number;
  readonly found: boolean;
}

/** How often a create is sent while its outcome stays unknown and the repository lacks it. */
export const CREATE_ATTEMPTS = 3;

interface KeyJson {
  id: number;
  key: string;
  title: string;
  read_only: boolean;
}

interface HookJson {
  id: number;
  active: boolean;
  events: string[];
  config: { url?: string; content_type?: string; insecure_ssl?: string | number };
}

function status(err: unknown): number | undefined {
  return (err as { status?: number }).status;
}

/** GitHub's whole answer to a failed request (a 422's reasons are in `errors`). */
function answer(err: unknown): string {
  return JSON.stringify((err as { response?: { data?: unknown } }).response?.data ?? String(err));
}

/** A failure after which GitHub may or may not have carried the request out. */
function unknownOutcome(err: unknown): boolean {
  const code = status(err);
  return code === undefined || code === 0 || code >= 500;
}

/** `<type> <base64>`: a public key as GitHub answers it (no comment). */
export function keyBody(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(" ");
}

async function listAll<T>(gh: GitHubClient, route: string, r: RepoRef): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; ; page++) {
    const res = await gh.request(route, { owner: r.owner, repo: r.repo, per_page: 100, page });
    const items = res.data as T[];
    out.push(...items);
    if (items.length < 100) return out;
  }
}

/** `undefined` for a 404 (gone, or the repository is); other failures throw. */
async function getOrGone<T>(p: Promise<{ data: unknown }>): Promise<T | undefined> {
  try {
    return (await p).data as T;
  } catch (err) {
    if (status(err) === 404) return undefined;
    throw err;
  }
}

/** 404 counts as done: the thing is not there, whoever removed it (a lost earlier answer). */
async function deleteOrGone(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (status(err) !== 404) throw err;
  }
}

/**
 * A create that is never repeated blindly: `find` looks for the thing first and after every
 * failure with an unknown outcome; `create` is sent only while it is not there.
 */
async function createVerified(
  find: () => Promise<number | undefined>,
  create: () => Promise<number>,
  pause: (attempt: number) => Promise<void>,
): Promise<Registered> {
  for (let attempt = 1; ; attempt++) {
    const id = await find();
    if (id !== undefined) return { id, found: true };
    try {
      return { id: await create(), found: false };
    } catch (err) {
      if (!unknownOutcome(err) || attempt >= CREATE_ATTEMPTS) throw err;
      await pause(attempt);
    }
  }
}

export interface RegisterOptions {
  /** Wait before attempt n + 1 after an unknown outcome; default n² seconds. */
  readonly pause?: (attempt: number) => Promise<void>;
}

const defaultPause = (attempt: number) =>
  new Promise<void>((r) => setTimeout(r, 1000 * attempt * attempt));

// --- deploy keys -----------------------------------------------------------------------

/** The repository's deploy key with this public key, if it has one. */
export async function findDeployKey(
  gh: GitHubClient,
  r: RepoRef,
  key: string,
): Promise<{ id: number; title: string; readOnly: boolean } | undefined> {
  const body = keyBody(key);
  const found = (await listAll<KeyJson>(gh, "GET /repos/{owner}/{repo}/keys", r)).find(
    (k) => keyBody(k.key) === body,
  );
  return found && { id: found.id, title: found.title, readOnly: found.read_only };
}

/** Whether the deploy key `id` is still registered on the repository. */
export async function deployKeyExists(gh: GitHubClient, r: RepoRef, id: number): Promise<boolean> {
  const k = await getOrGone<KeyJson>(
    gh.request("GET /repos/{owner}/{repo}/keys/{key_id}", { ...r, key_id: id }),
  );
  return k !== undefined;
}

/**
 * Registers the key, or takes over the one already registered with the same public key (an
 * earlier create whose answer was lost). A key found with other access than asked for is
 * refused: keys cannot be edited, and quietly widening read-only access is not ours to do.
 */
export async function registerDeployKey(
  gh: GitHubClient,
  r: RepoRef,
  spec: DeployKeySpec,
  options: RegisterOptions = {},
): Promise<Registered> {
  const where = `${r.owner}/${r.repo}`;
  return createVerified(
    async () => {
      const k = await findDeployKey(gh, r, spec.key);
      if (k && k.readOnly !== spec.readOnly) {
        throw new Error(
          `${where}: deploy key ${k.id} ("${k.title}") has this public key with read_only=${k.readOnly}, not ${spec.readOnly}; delete it in the repository's settings (Deploy keys), then run pulumi up again`,
        );
      }
      return k?.id;
    },
    async () => {
      try {
        const res = await gh.request("POST /repos/{owner}/{repo}/keys", {
          ...r,
          title: spec.title,
          key: spec.key.trim(),
          read_only: spec.readOnly,
          ...NO_RETRY,
        });
        return (res.data as KeyJson).id;
      } catch (err) {
        // Not on this repository (just looked), so on another one or on a user account.
        if (status(err) === 422 && /already in use/i.test(answer(err))) {
          // Keeps the status: an answer, not an unknown outcome (never sent again).
          throw Object.assign(
            new Error(
              `${where}: GitHub refused deploy key "${spec.title}": its public key is already registered on another repository or account (a deploy key can be registered once); remove it there, or rotate the key (deployKeyGeneration)`,
              { cause: err },
            ),
            { status: 422 },
          );
        }
        throw err;
      }
    },
    options.pause ?? defaultPause,
  );
}

/** Removes the deploy key; done when it is not there (any more). */
export async function removeDeployKey(gh: GitHubClient, r: RepoRef, id: number): Promise<void> {
  await deleteOrGone(
    gh.request("DELETE /repos/{owner}/{repo}/keys/{key_id}", { ...r, key_id: id }),
  );
}

// --- webhooks --------------------------------------------------------------------------

function hookConfig(spec: WebhookSpec) {
  return {
    url: spec.url,
    content_type: spec.contentType,
    secret: spec.secret,
    insecure_ssl: spec.insecureSsl ? "1" : "0",
  };
}

/** The repository's webhook that posts to `url`, if it has one. */
export async function findWebhook(
  gh: GitHubClient,
  r: RepoRef,
  url: string,
): Promise<number | undefined> {
  const hooks = await listAll<HookJson>(gh, "GET /repos/{owner}/{repo}/hooks", r);
  return hooks.find((h) => h.config.url === url)?.id;
}

/**
 * Whether webhook `id` is there and still as `spec` asks (URL, events, active, content type,
 * TLS check). The secret cannot be compared: GitHub never answers it back.
 */
export async function webhookMatches(
  gh: GitHubClient,
  r: RepoRef,
  id: number,
  spec: WebhookSpec,
): Promise<boolean> {
  const h = await getOrGone<HookJson>(
    gh.request("GET /repos/{owner}/{repo}/hooks/{hook_id}", { ...r, hook_id: id }),
  );
  if (!h) return false;
  const same = (a: readonly string[], b: readonly string[]) =>
    [...a].sort().join(",") === [...b].sort().join(",");
  return (
    h.config.url === spec.url &&
    h.active === spec.active &&
    same(h.events, spec.events) &&
    (h.config.content_type ?? "form") === spec.contentType &&
    String(h.config.insecure_ssl ?? "0") === (spec.insecureSsl ? "1" : "0")
  );
}

/**
 * Makes the repository have a webhook as `spec` asks: webhook `id` edited when it is there,
 * else the one already posting to this URL taken over and edited (its secret may be older),
 * else a new one. `PATCH` sets the whole config and may be resent.
 */
export async function putWebhook(
  gh: GitHubClient,
  r: RepoRef,
  spec: WebhookSpec,
  id?: number,
  options: RegisterOptions = {},
): Promise<Registered> {
  const edit = async (hookId: number): Promise<boolean> => {
    const edited = await getOrGone(
      gh.request("PATCH /repos/{owner}/{repo}/hooks/{hook_id}", {
        ...r,
        hook_id: hookId,
        config: hookConfig(spec),
        events: [...spec.events],
        active: spec.active,
      }),
    );
    return edited !== undefined;
  };
  if (id !== undefined && (await edit(id))) return { id, found: true };
  const made = await createVerified(
    () => findWebhook(gh, r, spec.url),
    async () => {
      const res = await gh.request("POST /repos/{owner}/{repo}/hooks", {
        ...r,
        name: "web",
        config: hookConfig(spec),
        events: [...spec.events],
        active: spec.active,
        ...NO_RETRY,
      });
      return (res.data as HookJson).id;
    },
    options.pause ?? defaultPause,
  );
  if (made.found && !(await edit(made.id))) {
    throw new Error(`${r.owner}/${r.repo}: webhook ${made.id} went away while it was taken over`);
  }
  return made;
}

/** Removes the webhook; done when it is not there (any more). */
export async function removeWebhook(gh: GitHubClient, r: RepoRef, id: number): Promise<void> {
  await deleteOrGone(
    gh.request("DELETE /repos/{owner}/{repo}/hooks/{hook_id}", { ...r, hook_id: id }),
  );
}
