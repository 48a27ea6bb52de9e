/**
 * npm run render -- --stack <name> [--out <dir>]
 *
 * Validates Pulumi.<name>.yaml and writes every file the stack commits and every object it
 * applies, without Pulumi, GitHub or a cluster. Exit code 1 with the problems on bad config.
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../lib/config";
import { loadStackFile, renderStack, renderedTree, writeTree } from "../lib/render";

function main(): number {
  const { values } = parseArgs({
    options: {
      stack: { type: "string" },
      out: { type: "string", default: "rendered" },
      // Where Pulumi.<stack>.yaml lives: the project root unless told otherwise.
      "project-dir": { type: "string", default: path.resolve(__dirname, "..") },
    },
  });
  if (!values.stack) {
    console.error("usage: npm run render -- --stack <name> [--out <dir>]");
    return 2;
  }
  try {
    const tree = renderedTree(
      renderStack(loadStackFile(values["project-dir"] ?? ".", values.stack)),
    );
    const out = path.resolve(values.out ?? "rendered");
    writeTree(out, tree);
    console.log(`rendered ${tree.size} files for stack ${values.stack} into ${out}`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Pulumi.${values.stack}.yaml: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = main();
