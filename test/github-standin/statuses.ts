/**
 * Commit statuses, as GitHub's REST API documents them: `POST /repos/{o}/{r}/statuses/{sha}`
 * (201; 422 for an unknown state or commit) and `GET /repos/{o}/{r}/commits/{ref}/statuses`
 * (newest first), the two calls Flux's notification-controller makes for a `github`
 * Provider. Kept in `<root>/<owner>/<repo>.statuses.json`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { git } from "./git";
import { HttpError, type Route, type StandInContext } from "./server";

export interface CommitStatusRecord {
  id: number;
  sha: string;
  state: "error" | "failure" | "pending" | "success";
  description: string | null;
  target_url: string | null;
  context: string;
  created_at: string;
}

const STATES = ["error", "failure", "pending", "success"];
const file = (ctx: StandInContext, o: string, r: string) =>
  path.join(ctx.root, o, `${r}.statuses.json`);

export function readStatuses(ctx: StandInContext, o: string, r: string): CommitStatusRecord[] {
  const f = file(ctx, o, r);
  return fs.existsSync(f) ? (JSON.parse(fs.readFileSync(f, "utf8")) as CommitStatusRecord[]) : [];
}

async function commitOf(dir: string, ref: string): Promise<string | undefined> {
  const r = await git(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
  return r.code === 0 ? r.stdout.trim() : undefined;
}

function json(ctx: StandInContext, o: string, r: string, s: CommitStatusRecord) {
  return {
    url: `${ctx.api(o, r)}/statuses/${s.sha}`,
    id: s.id,
    node_id: `SC_${s.id}`,
    state: s.state,
    description: s.description,
    target_url: s.target_url,
    context: s.context,
    created_at: s.created_at,
    updated_at: s.created_at,
    creator: { login: ctx.options.user ?? "acme", type: "User" },
  };
}

export function statusRoutes(ctx: StandInContext): Route[] {
  const R = "/repos/([^/]+)/([^/]+)";
  return [
    [
      "POST",
      new RegExp(`^${R}/statuses/([^/]+)$`),
      async ([, o, r, ref], body) => {
        const dir = ctx.existing(o, r);
        const state = String(body.state ?? "");
        if (!STATES.includes(state)) {
          throw new HttpError(422, `Validation Failed: state is not included in the list`);
        }
        const sha = await commitOf(dir, ref);
        if (!sha) throw new HttpError(422, `No commit found for SHA: ${ref}`);
        return ctx.locks.run(`${dir}#statuses`, async () => {
          const all = readStatuses(ctx, o, r);
          const record: CommitStatusRecord = {
            id: all.length + 1,
            sha,
            state: state as CommitStatusRecord["state"],
            description: typeof body.description === "string" ? body.description : null,
            target_url: typeof body.target_url === "string" ? body.target_url : null,
            context: typeof body.context === "string" && body.context ? body.context : "default",
            created_at: new Date().toISOString(),
          };
          fs.writeFileSync(file(ctx, o, r), JSON.stringify([...all, record], null, 1));
          return [201, json(ctx, o, r, record)] as [number, unknown];
        });
      },
    ],
    [
      "GET",
      new RegExp(`^${R}/commits/([^/]+)/statuses$`),
      async ([, o, r, ref]) => {
        const dir = ctx.existing(o, r);
        const sha = await commitOf(dir, ref);
        if (!sha) throw new HttpError(404, "Not Found");
        const list = readStatuses(ctx, o, r)
          .filter((s) => s.sha === sha)
          .reverse()
          .map((s) => json(ctx, o, r, s));
        return [200, list];
      },
    ],
  ];
}
