/**
 * npm run bench: config load + render, for the dev stack and for a generated stack of 300
 * services (and 600, to show growth). Target on a 2-core machine: 300 services under 3 s,
 * linear growth. Prints milliseconds; exits 1 if the 300-service target is missed.
 */
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { loadConfig, type RawConfig } from "../lib/config";
import { readStackFile, renderStack, renderedTree } from "../lib/render";

function generated(n: number): RawConfig {
  const services: Record<string, object> = {};
  for (let i = 0; i < n; i++) {
    services[`svc-${String(i).padStart(4, "0")}`] = {
      image: "ghcr.io/stefanprodan/podinfo",
      tag: "6.15.0",
      port: 9898,
      replicas: 1 + (i % 3),
    };
  }
  return { "github:owner": "acme", "flux-platform:services": services };
}

function time(label: string, raw: RawConfig, stack: string, runs = 5): number {
  const samples: number[] = [];
  let files = 0;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    files = renderedTree(renderStack(loadConfig(raw, stack))).size;
    samples.push(performance.now() - start);
  }
  const median = samples.sort((a, b) => a - b)[Math.floor(runs / 2)];
  console.log(
    `${label.padEnd(24)} ${String(files).padStart(5)} files  median ${median.toFixed(1)} ms  (${runs} runs)`,
  );
  return median;
}

const dev = time("dev stack", readStackFile(path.resolve(__dirname, "../Pulumi.dev.yaml")), "dev");
const t300 = time("300 services", generated(300), "dev");
const t600 = time("600 services", generated(600), "dev");
console.log(`growth 300 -> 600: x${(t600 / t300).toFixed(2)} (linear is x2)`);
void dev;
if (t300 >= 3000) {
  console.error(`300 services took ${t300.toFixed(0)} ms: target is under 3000 ms`);
  process.exitCode = 1;
}
