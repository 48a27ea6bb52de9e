/**
 * The GitHub stand-in (test/github-standin), reached as GitHub Enterprise Server, and the SSH
 * git server over the same bare repositories.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { startStandIn, type StandIn } from "../../test/github-standin/server";
import { startSshd } from "./sshd";

/** The GitHub side of a run: the stand-in, the stacks' token and owner, the SSH port. */
export interface GitHub {
  readonly standin: StandIn;
  readonly token: string;
  readonly owner: string;
  readonly sshPort: number;
}

/** Starts sshd and the stand-in; the stand-in's stop goes to `stops` as soon as it runs. */
export async function startGitHub(runDir: string, stops: (() => Promise<void>)[]): Promise<GitHub> {
  const token = `ghp_e2e_${Math.random().toString(36).slice(2)}`;
  const owner = "acme";

  // GitHub stand-in + SSH git server over the same bare repositories.
  const standinRoot = path.join(runDir, "github");
  fs.mkdirSync(standinRoot, { recursive: true });
  const ssh = await startSshd(runDir, standinRoot);
  const standin = await startStandIn({
    root: standinRoot,
    token,
    user: owner,
    sshHostKeys: [ssh.hostKey],
    authorizedKeysFile: ssh.authorizedKeys,
    gitShell: ssh.gitShell,
  });
  stops.push(() => standin.close());
  return { standin, token, owner, sshPort: ssh.port };
}
