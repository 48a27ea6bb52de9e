/**
 * The toolchain the run uses: the binaries `npm run e2e:toolchain` (build.sh, beside this
 * file) built into a cache folder whose name is the hash of versions.env's content.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../repo";

export interface Toolchain {
  /** The cache folder of this toolchain version (`<root>/<key>`). */
  readonly dir: string;
  readonly bin: string;
  readonly crds: string;
  /** Where reports and runs go: next to the toolchain. */
  readonly root: string;
}

/** The toolchain `npm run e2e:toolchain` built for the pins in e2e/infra/toolchain/versions.env. */
export function findToolchain(): Toolchain {
  const root =
    process.env.FLUX_PLATFORM_TOOLCHAIN_DIR ??
    path.join(os.homedir(), ".cache/flux-platform/toolchain");
  const manifest = fs.readFileSync(path.join(REPO_ROOT, "e2e/infra/toolchain/versions.env"));
  const key = createHash("sha256").update(manifest).digest("hex").slice(0, 12);
  // FLUX_PLATFORM_TOOLCHAIN: one toolchain folder to use as it is (a build of other pins).
  const dir = process.env.FLUX_PLATFORM_TOOLCHAIN ?? path.join(root, key);
  return { dir, bin: path.join(dir, "bin"), crds: path.join(dir, "crds"), root };
}

/** Binaries the run needs; a missing one means the toolchain is not (fully) built. */
export const REQUIRED_BINARIES = [
  "pulumi",
  "pulumi-language-nodejs",
  "pulumi-resource-pulumi-nodejs",
  "pulumi-resource-kubernetes",
  "pulumi-resource-github",
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kwok",
  "kwokctl",
  "kubectl",
  "source-controller",
  "kustomize-controller",
  "notification-controller",
  "sops",
  "flux",
];

export function missingBinaries(t: Toolchain): string[] {
  return REQUIRED_BINARIES.filter((b) => !fs.existsSync(path.join(t.bin, b)));
}
