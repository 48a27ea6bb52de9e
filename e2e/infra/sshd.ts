/**
 * The SSH git server: OpenSSH's sshd on loopback, user `git`, whose only keys are the deploy
 * keys the program registers (the stand-in writes them to the authorized keys file).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT } from "./repo";
import { freePort, run, runSync, startProcess, waitFor } from "./procs";

/** The OpenSSH server: user `git`, forced commands per deploy key (e2e/infra/git-ssh-shell). */
export async function startSshd(
  runDir: string,
  standinRoot: string,
): Promise<{ port: number; hostKey: string; authorizedKeys: string; gitShell: string }> {
  const dir = path.join(runDir, "ssh");
  fs.mkdirSync(dir, { recursive: true });
  const hostKey = path.join(dir, "host_ed25519");
  runSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  const authorizedKeys = path.join(dir, "authorized_keys");
  // The forced command, where `git` can run it whatever the checkout's permissions.
  const gitShell = path.join(dir, "git-ssh-shell");
  fs.copyFileSync(path.join(REPO_ROOT, "e2e/infra/git-ssh-shell"), gitShell);
  fs.chmodSync(gitShell, 0o755);
  fs.writeFileSync(authorizedKeys, "");
  if (spawnUser("git") === false) {
    throw new Error(
      "the SSH git server logs in as user `git`, which does not exist and cannot be created here (run as root once, or `useradd -m -s /bin/bash git`)",
    );
  }
  fs.mkdirSync("/run/sshd", { recursive: true });
  const port = await freePort();
  const config = path.join(dir, "sshd_config");
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "AllowUsers git",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      // The run's files live under a temp dir that is not owned by `git`.
      "StrictModes no",
      "PermitRootLogin no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  const sshd = fs.existsSync("/usr/sbin/sshd") ? "/usr/sbin/sshd" : "sshd";
  startProcess("sshd", sshd, ["-D", "-e", "-f", config], { log: path.join(runDir, "sshd.log") });
  await waitFor(
    "sshd to listen",
    async () => {
      const r = await run("ssh-keyscan", ["-p", String(port), "-t", "ed25519", "127.0.0.1"]);
      return r.stdout.includes("ssh-ed25519") ? true : undefined;
    },
    20_000,
    300,
  );
  // The bare repositories must be readable by `git`.
  fs.chmodSync(standinRoot, 0o755);
  return {
    port,
    hostKey: fs.readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" "),
    authorizedKeys,
    gitShell,
  };
}

/** Ensures a login user exists for sshd (not locked: sshd refuses locked accounts). */
function spawnUser(name: string): boolean {
  try {
    runSync("id", ["-u", name]);
  } catch {
    if (process.getuid?.() !== 0) return false;
    runSync("useradd", ["--system", "--create-home", "--shell", "/bin/bash", name]);
  }
  if (process.getuid?.() === 0) runSync("usermod", ["-p", "*", name]);
  return true;
}
