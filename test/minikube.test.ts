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
  KUBECONFIG_SCRIPT,
  UPDATE_SCRIPT,
  scriptEnvironment,
} from "../lib/minikube";

const DOUBLES = path.join(__dirname, "doubles");
const cluster = loadConfig(
  {
    "github:owner": "acme",
    "flux-platform:services": { beetle: { image: "ghcr.io/stefanprodan/podinfo", tag: "6.7.1" } },
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

function run(script: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("/bin/bash", ["-c", script], {
    encoding: "utf8",
    env: {
      PATH: `${DOUBLES}:/usr/bin:/bin`,
      HOME: state,
      KUBECONFIG: path.join(state, "user-kubeconfig"),
      DOUBLE_STATE: state,
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

describe("minikube scripts against recording doubles", () => {
  beforeEach(() => {
    state = fs.mkdtempSync(path.join(os.tmpdir(), "flux-platform-minikube-"));
  });

  it("create starts a new profile once, keeping the user's context, and prints nothing to stdout", () => {
    const r = run(CREATE_SCRIPT);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal("");
    expect(calls()).to.deep.equal(["minikube status --profile minikube-dev", START]);
    expect(profileState()).to.equal("running");
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
    expect(calls().slice(-1)).to.deep.equal([START]);
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

  it("fails to read a kubeconfig for a profile that does not exist", () => {
    const r = run(KUBECONFIG_SCRIPT);
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.contain('context "minikube-dev" does not exist');
  });
});
