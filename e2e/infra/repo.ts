import * as path from "node:path";

/** The repository's root (the program the e2e stacks run, its node_modules, the e2e's files). */
export const REPO_ROOT = path.resolve(__dirname, "../..");
