/**
 * Local infrastructure for the end-to-end run, all on loopback and all stopped afterwards:
 * a Kubernetes control plane (kwokctl, binary runtime, one fake node), Flux's CRDs and
 * controllers as host processes, an OpenSSH git server whose only keys are the deploy keys
 * the program registers, and the GitHub stand-in reached as GitHub Enterprise Server.
 */
export { REPO_ROOT } from "./repo";
export { findToolchain, missingBinaries, REQUIRED_BINARIES, type Toolchain } from "./toolchain";
export { startInfra, type Infra } from "./start";
export { createKwokCluster, kwokctl, startCluster, type Cluster } from "./cluster";
export { installFluxCrds, startFluxControllers, type Spawn } from "./flux";
