/**
 * npm run render -- --stack <name> [--out <dir>] [--project-dir <dir>]
 *
 * Validates Pulumi.<name>.yaml and writes every file the stack commits and every object it
 * applies, without Pulumi, GitHub or a cluster. Exit code 1 with the problems on bad config,
 * a bad stack file or bad flags: one line each, never a stack trace.
 *
 * `--out` is a new or empty folder, or one an earlier render wrote: render deletes and
 * replaces only the files it wrote there (listed in its `.flux-platform-render`).
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../lib/config";
import {
  loadStackFile,
  OutDirError,
  renderStack,
  renderedTree,
  StackFileError,
  writeTree,
} from "../lib/render";

const USAGE = "usage: npm run render -- --stack <name> [--out <dir>] [--project-dir <dir>]";

/** Pulumi's stack names; a qualified `<org>/<project>/<stack>` uses the file of its last part. */
const STACK_NAME = /^([A-Za-z0-9_.-]+\/){0,2}[A-Za-z0-9_.-]{1,100}$/;

function main(): number {
  let values: { stack?: string; out: string; "project-dir": string; help?: boolean };
  try {
    ({ values } = parseArgs({
      strict: true,
      allowPositionals: false,
      options: {
        stack: { type: "string" },
        out: { type: "string", default: "rendered" },
        // Where Pulumi.<stack>.yaml lives: the project root unless told otherwise.
        "project-dir": { type: "string", default: path.resolve(__dirname, "..") },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    // parseArgs explains the flag; its hint about positionals after `--` is noise here.
    const why = (err as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    console.error(`render: ${why}; ${USAGE}`);
    return 1;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.stack === undefined) {
    console.error(`render: --stack is required; ${USAGE}`);
    return 1;
  }
  const stack = values.stack.split("/").pop()!;
  if (!STACK_NAME.test(values.stack) || values.stack.split("/").some((p) => /^\.\.?$/.test(p))) {
    console.error(
      `render: --stack ${JSON.stringify(values.stack)} is not a stack name (letters, digits, '-', '_' and '.')`,
    );
    return 1;
  }
  if (values.out === "") {
    console.error(`render: --out is empty; ${USAGE}`);
    return 1;
  }
  try {
    const tree = renderedTree(renderStack(loadStackFile(values["project-dir"], stack)));
    const out = path.resolve(values.out);
    writeTree(out, tree);
    console.log(`rendered ${tree.size} files for stack ${stack} into ${out}`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Pulumi.${stack}.yaml: ${err.message}`);
      return 1;
    }
    if (err instanceof StackFileError) {
      console.error(err.message);
      return 1;
    }
    if (err instanceof OutDirError) {
      console.error(`render: --out ${err.message}`);
      return 1;
    }
    // The file system said no (permissions, a file where a folder must be): one line too.
    if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string") {
      console.error(`render: ${err.message}`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = main();
