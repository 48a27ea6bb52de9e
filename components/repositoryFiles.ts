import * as pulumi from "@pulumi/pulumi";
import { githubClient } from "../lib/github/api";
import {
  ownedBy,
  planChanges,
  spliceSection,
  type DesiredFiles,
  type Owned,
} from "../lib/github/plan";
import { readBranch, readSectionTexts, writeFiles, type RepoTarget } from "../lib/github/writer";

/**
 * Every file a stack owns in one repository, written in ONE commit per `pulumi up` that
 * changes something (none otherwise), through GitHub's Git Data API (lib/github).
 *
 * Why a dynamic provider: it runs in the Node host that ships with the Pulumi CLI, so there
 * is no plugin to build, publish or install, and its logic is the same TypeScript the tests
 * and the bench run against the GitHub stand-in. The provider object is serialized into the
 * state; it captures only lib/github, which loads Octokit with `require` when it runs.
 *
 * Preview: the provider's check reads the branch and marks what the commit will do, so a
 * changed file shows its content diff, a hand edit of a sync file shows as `put back`, a
 * scaffold file that is already in the repository shows as kept (its template changes are
 * never written), and a section file shows the whole file the commit leaves (this stack's
 * block spliced into what the other stacks wrote). Destroy keeps every file: a repository's
 * history is never rewritten.
 */
export interface RepositoryFilesArgs {
  readonly owner: pulumi.Input<string>;
  readonly repository: pulumi.Input<string>;
  readonly branch: pulumi.Input<string>;
  /** `github:baseUrl` (GitHub Enterprise Server); unset for github.com. */
  readonly baseUrl?: pulumi.Input<string | undefined>;
  /** `github:token` or `GITHUB_TOKEN`; kept secret in the state. */
  readonly token: pulumi.Input<string>;
  /** First line of every commit message. */
  readonly subject: pulumi.Input<string>;
  readonly files: pulumi.Input<Record<string, FileInput>>;
}

/** One file as the preview shows it; `note` says what the commit does with it, if anything. */
export interface FileInput {
  readonly mode: "sync" | "scaffold" | "section";
  /**
   * Unset once checked for a scaffold already in the repository: it is its owners', never
   * written again, so the state keeps no copy of it (at 300 services the developer repo's
   * 900 scaffolds were a tenth of the state, which the file backend writes at every step).
   */
  readonly content?: string;
  readonly note?: string;
  /**
   * A section file once checked: the stack's own content (the file as it writes it when
   * missing), kept because `content` then shows the spliced file, which holds other stacks'
   * blocks and so cannot be spliced again; the write splices this into the branch it reads.
   */
  readonly template?: string;
}

interface Inputs {
  owner: string;
  repository: string;
  branch: string;
  baseUrl?: string;
  token: string;
  subject: string;
  files: Record<string, FileInput>;
}

interface Outputs {
  owner: string;
  repository: string;
  branch: string;
  /** The branch head after the last write (or the head that already held the files). */
  head: string;
  /** What the stack owns: the next write deletes sync files that left the render. */
  owned: Owned;
}

/** The marks `check` writes into the preview. */
export const NOTES = {
  putBack: "differs in the repository: this update puts it back",
  kept: "scaffold already in the repository: kept as its owners left it",
} as const;

// Written as plain functions of their inputs, so the serialized provider captures only
// these and lib/github (see the class comment).
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const known = (i: Inputs): boolean =>
  [i.owner, i.repository, i.branch, i.token].every((v) => typeof v === "string" && v !== UNKNOWN);
const target = (i: Inputs): RepoTarget => ({
  owner: i.owner,
  repo: i.repository,
  branch: i.branch,
});
const client = (i: Inputs) => githubClient({ token: i.token, baseUrl: i.baseUrl || undefined });
/** What the commit writes: every file with content (a kept scaffold has none). */
const desired = (i: Inputs): DesiredFiles =>
  Object.fromEntries(
    Object.entries(i.files).flatMap(([p, f]) => {
      const content = f.mode === "section" ? (f.template ?? f.content) : f.content;
      return content === undefined ? [] : [[p, { mode: f.mode, content }]];
    }),
  );

/**
 * The branch as it is (path -> blob SHA, and the text of its section files), or empty when
 * the repository or branch is not there yet (preview).
 */
async function liveFiles(
  i: Inputs,
): Promise<{ files: Map<string, string>; texts: Map<string, string> }> {
  const gh = client(i);
  let files: Map<string, string>;
  try {
    files = (await readBranch(gh, target(i))).files;
  } catch (err) {
    if (/does not exist/.test(String(err))) return { files: new Map(), texts: new Map() };
    throw err;
  }
  return { files, texts: await readSectionTexts(gh, target(i), desired(i), files) };
}

async function write(i: Inputs, owned: Owned): Promise<Outputs> {
  const r = await writeFiles(client(i), target(i), desired(i), owned, i.subject);
  return {
    owner: i.owner,
    repository: i.repository,
    branch: i.branch,
    head: r.head,
    // Every file it declares, kept scaffolds (not in `desired`) included.
    owned: ownedBy(i.files),
  };
}

export const repositoryFilesProvider: pulumi.dynamic.ResourceProvider<Inputs, Outputs> = {
  async check(olds: Partial<Inputs>, news: Inputs) {
    if (!known(news) || typeof news.files !== "object") return { inputs: news };
    const live = await liveFiles(news);
    const owned = olds?.files ? ownedBy(olds.files) : {};
    const plan = planChanges(desired(news), live.files, owned, live.texts);
    const changed = new Set(plan.map((c) => c.path));
    const files: Record<string, FileInput> = {};
    for (const [p, f] of Object.entries(news.files)) {
      const base = { mode: f.mode, content: f.content };
      const previous = olds?.files?.[p];
      if (f.mode === "section") {
        // What the commit leaves (or what is there already), not this stack's template.
        const template = f.template ?? f.content;
        if (template === undefined) throw new Error(`${p}: a section file without content`);
        const text = live.texts.get(p);
        const content = text === undefined ? template : spliceSection(text, template);
        const was = previous?.template ?? previous?.content;
        const note = changed.has(p) && was === template ? { note: NOTES.putBack } : {};
        files[p] = { mode: f.mode, content, template, ...note };
      } else if (f.mode === "scaffold" && !changed.has(p)) {
        // Not written, and its owners' now: no content, neither the template nor a copy.
        files[p] = { mode: f.mode, note: NOTES.kept };
      } else if (changed.has(p) && previous?.content === f.content) {
        files[p] = { ...base, note: NOTES.putBack };
      } else {
        files[p] = base;
      }
    }
    return { inputs: { ...news, files } };
  },

  async diff(_id: string, olds: Outputs, news: Inputs) {
    if (!known(news)) return { changes: true };
    const moved =
      olds.owner !== news.owner ||
      olds.repository !== news.repository ||
      olds.branch !== news.branch;
    if (moved) return { changes: true, replaces: ["owner", "repository", "branch"] };
    const live = await liveFiles(news);
    const changes = planChanges(desired(news), live.files, olds.owned ?? {}, live.texts);
    return { changes: changes.length > 0 };
  },

  async create(inputs: Inputs) {
    const outs = await write(inputs, {});
    return { id: `${inputs.owner}/${inputs.repository}#${inputs.branch}`, outs };
  },

  async update(_id: string, olds: Outputs, news: Inputs) {
    return { outs: await write(news, olds.owned ?? {}) };
  },

  // Destroy keeps the files: nothing rewrites a repository's history.
  async delete() {},
};

export class RepositoryFiles extends pulumi.dynamic.Resource {
  /** The branch head after the last write. */
  declare public readonly head: pulumi.Output<string>;
  declare public readonly owned: pulumi.Output<Owned>;

  constructor(name: string, args: RepositoryFilesArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      repositoryFilesProvider,
      name,
      { ...args, token: pulumi.secret(args.token), head: undefined, owned: undefined },
      { ...opts, additionalSecretOutputs: ["token"] },
      "flux-platform",
      "RepositoryFiles",
    );
  }
}
