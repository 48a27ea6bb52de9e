/**
 * npm run -s ci-matrix [-- --stack <name>]
 *
 * Prints the GitHub Actions matrix `{"include":[{stack, runner, kubeconfig}, ...]}` for every
 * Pulumi.<stack>.yaml (or one stack): the workflows run each stack on the runner its cluster
 * needs (lib/cluster/runners.ts). Exit code 1 with the problems on bad config.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../lib/config";
import { loadStackFile } from "../lib/render";
import { stackRunner } from "../lib/cluster";

const ROOT = path.resolve(__dirname, "..");

function main(): number {
  const { values } = parseArgs({ options: { stack: { type: "string" } } });
  const stacks = values.stack
    ? [values.stack]
    : fs
        .readdirSync(ROOT)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
  try {
    const include = stacks.map((s) => stackRunner(s, loadStackFile(ROOT, s).cluster));
    console.log(JSON.stringify({ include }));
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
}

process.exitCode = main();
