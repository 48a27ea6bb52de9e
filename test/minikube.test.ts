/**
 * The exact scripts the Cluster component runs, run for real by bash against recording
 * doubles of minikube and kubectl put first on PATH.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig, type MinikubeCluster } from "../lib/config";
import {
  CREATE_SCRIPT,
  DELETE_SCRIPT,
  CREATED_MARK,
  KUBECONFIG_SCRIPT,
  UPDATE_SCRIPT,
  kubeconfigProblem,
  scriptEnvironment,
} from "../lib/cluster";

const DOUBLES = path.join(__dirname, "doubles");
const cluster = loadConfig(
  {
    "github:owner": "acme",
    "flux-platform:services": { beetle: { image: "ghcr.io/stefanprodan/podinfo", tag: "6.15.0" } },
  },
  "dev",
).cluster as MinikubeCluster;

let state: string;
const calls = (): string[] =>
  fs.existsSync(path.join(state, "calls"))
    ? fs.readFileSync(path.join(state, "calls"), "utf8").trim().split("\n")
    : [];
const profileState = (): string | undefined => {
  const f = path.join(state, "profiles", cluster.profile);
  return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim() : undefined;
};

function run(
  script: string,
  created = "created",
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("/bin/bash", ["-c", script], {
    encoding: "utf8",
    env: {
      PATH: `${DOUBLES}:/usr/bin:/bin`,
      HOME: state,
      KUBECONFIG: path.join(state, "user-kubeconfig"),
      DOUBLE_STATE: state,
      STACK: "dev",
      // What the profile Command's create printed (the read gets it from the state).
      CREATED: created,
      ...scriptEnvironment(cluster),
    },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts the profile, then runs `script`, which must succeed. */
function runOnRunningProfile(script: string): ReturnType<typeof run> {
  expect(run(CREATE_SCRIPT).status).to.equal(0);
  const r = run(script);
  expect(r.status, r.stderr).to.equal(0);
  return r;
}

const START = `minikube start --profile minikube-dev --driver docker --cpus 2 --memory 4096mb --kubernetes-version v1.34.0 --keep-context`;
const METRICS = "minikube addons enable metrics-server --profile minikube-dev";

describe("minikube scripts against recording doubles", () => {
  beforeEach(() => {
    state = fs.mkdtempSync(path.join(os.tmpdir(), "flux-platform-minikube-"));
  });

  it("create starts a new profile once, keeping the user's context, and prints only its mark to stdout", () => {
    const r = run(CREATE_SCRIPT);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`${CREATED_MARK}\n`);
    expect(calls()).to.deep.equal(["minikube status --profile minikube-dev", START, METRICS]);
    expect(profileState()).to.equal("running");
  });

  it("turns on metrics-server (off by default in minikube), without which no HPA ever scales", () => {
    for (const script of [CREATE_SCRIPT, UPDATE_SCRIPT]) {
      fs.rmSync(path.join(state, "calls"), { force: true });
      expect(run(script).status).to.equal(0);
      expect(calls().slice(-1)).to.deep.equal([METRICS]);
      const addons = fs.readFileSync(path.join(state, "addons", cluster.profile), "utf8");
      expect(addons).to.contain("metrics-server");
    }
  });

  it("create on a running profile neither fails nor starts it again", () => {
    run(CREATE_SCRIPT);
    const r = run(CREATE_SCRIPT);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain("already running");
    expect(calls().filter((c) => c.startsWith("minikube start"))).to.have.length(1);
  });

  it("a failed first start fails the create, and the re-run resumes the profile", () => {
    fs.writeFileSync(path.join(state, "fail-start"), "");
    const first = run(CREATE_SCRIPT);
    expect(first.status).to.not.equal(0);
    expect(first.stderr).to.contain("GUEST_START");
    expect(profileState()).to.equal("stopped");
    const second = run(CREATE_SCRIPT);
    expect(second.status, second.stderr).to.equal(0);
    expect(profileState()).to.equal("running");
    expect(calls().filter((c) => c === START)).to.have.length(2);
  });

  it("update runs minikube start on the existing profile (in-place Kubernetes upgrade)", () => {
    const r = runOnRunningProfile(UPDATE_SCRIPT);
    expect(r.stderr).to.contain("restarting minikube-dev");
    expect(calls().slice(-2)).to.deep.equal([START, METRICS]);
  });

  it("delete removes the profile", () => {
    runOnRunningProfile(DELETE_SCRIPT);
    expect(profileState()).to.equal(undefined);
    expect(calls().slice(-1)).to.deep.equal(["minikube delete --profile minikube-dev"]);
  });

  it("delete succeeds when the profile is already gone", () => {
    const r = run(DELETE_SCRIPT);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.contain("already gone");
    expect(calls()).to.deep.equal([
      "minikube delete --profile minikube-dev",
      "minikube profile list --output json",
    ]);
  });

  it("delete fails when minikube cannot delete a profile that still exists", () => {
    run(CREATE_SCRIPT);
    fs.writeFileSync(path.join(state, "delete-fails"), "");
    const r = run(DELETE_SCRIPT);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.contain("could not delete profile minikube-dev");
    expect(profileState()).to.equal("running");
  });

  it("reads the kubeconfig of the profile's own context only, changing no context", () => {
    const r = runOnRunningProfile(KUBECONFIG_SCRIPT);
    expect(r.stdout).to.contain("current-context: minikube-dev");
    expect(kubeconfigProblem("minikube-dev", r.stdout)).to.equal(undefined);
    const kubectl = calls().filter((c) => c.startsWith("kubectl"));
    expect(kubectl).to.deep.equal([
      "kubectl config view --minify --flatten --context minikube-dev",
    ]);
    for (const c of calls()) {
      expect(c).to.not.match(/use-context|set-context|update-context|current-context/);
      if (c.startsWith("minikube start")) expect(c).to.contain("--keep-context");
    }
    expect(fs.existsSync(path.join(state, "user-kubeconfig"))).to.equal(false);
  });

  /**
   * Runs the kubeconfig read, which must exit 0 (a failing script would bury the line under
   * its own text) with nothing on stdout and our one line last on stderr (after kubectl's
   * own error, if any); returns the problem the program raises, which is that line.
   */
  function readFails(lines = 1, created = "created"): string {
    const before = calls().length;
    const r = run(KUBECONFIG_SCRIPT, created);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.equal("");
    const stderr = r.stderr.trim().split("\n");
    expect(stderr).to.have.length(lines);
    // It starts nothing, so a preview never does, and it never changes a context.
    for (const c of calls().slice(before))
      expect(c).to.match(/^minikube status|^kubectl config view/);
    expect(kubeconfigProblem(cluster.profile, r.stdout, r.stderr)).to.equal(stderr[lines - 1]);
    return stderr[lines - 1];
  }

  it("stops on a stopped profile (after a reboot) with one line saying how to start it, starting nothing", () => {
    run(CREATE_SCRIPT);
    run("minikube stop --profile minikube-dev");
    expect(profileState()).to.equal("stopped");
    expect(readFails()).to.equal(
      "flux-platform: minikube profile minikube-dev is not running; start it with: minikube start -p minikube-dev",
    );
    expect(calls().filter((c) => c.startsWith("kubectl"))).to.deep.equal([]);
    expect(profileState()).to.equal("stopped");
  });

  it("stops on a profile deleted outside Pulumi, saying how to rebuild it with the stack's settings", () => {
    run(CREATE_SCRIPT);
    run("minikube delete --profile minikube-dev");
    expect(readFails()).to.equal(
      "flux-platform: minikube profile minikube-dev was deleted outside Pulumi, and stack dev still holds what was in it; create it again with: minikube start -p minikube-dev --driver docker --cpus 2 --memory 4096mb --kubernetes-version v1.34.0, then run: pulumi refresh --run-program --yes --stack dev and pulumi up --stack dev",
    );
    expect(profileState()).to.equal(undefined);
  });

  it("says a profile the stack never created does not exist yet, not that it was deleted", () => {
    // A Command in the state without the mark: its create never ran to the end.
    expect(readFails(1, "")).to.equal(
      "flux-platform: minikube profile minikube-dev does not exist: stack dev has not created it yet; run: pulumi up --stack dev (it creates the profile)",
    );
  });

  for (const [what, flag] of [
    ["fails", "kubectl-fails"],
    ["prints nothing", "kubectl-empty"],
  ]) {
    it(`stops, naming the profile, when kubectl ${what}: never an empty kubeconfig`, () => {
      run(CREATE_SCRIPT);
      fs.writeFileSync(path.join(state, flag), "");
      expect(readFails(flag === "kubectl-fails" ? 2 : 1)).to.equal(
        "flux-platform: could not read the kubeconfig of minikube profile minikube-dev (kubectl config view --context minikube-dev failed or printed nothing)",
      );
    });
  }

  it("refuses a kubeconfig that is empty or of another context, naming the profile", () => {
    for (const stdout of ["", undefined, "apiVersion: v1\ncurrent-context: eks-prd\n"]) {
      expect(kubeconfigProblem("minikube-dev", stdout)).to.equal(
        "flux-platform: reading the kubeconfig of minikube profile minikube-dev gave no kubeconfig for that profile; check: kubectl config view --minify --context minikube-dev",
      );
    }
  });
});
