/** How config problems are reported: one line each, naming the key, the value and what is allowed. */
import { z } from "zod";
import { kubeconfigSchema, minikubeSchema } from "./cluster";
import { INFRASTRUCTURE_COMPONENTS } from "./flux";
import { githubAppSchema, gitSshSchema } from "./github";
import { autoscalingSchema, serviceSchema } from "./service";
import { show } from "./values";

/** Thrown with every problem found; `problems` holds one line each. */
export class ConfigError extends Error {
  constructor(public readonly problems: readonly string[]) {
    super(`invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** One line per issue: messages written in these modules are kept as they are; zod's generic
 * ones (wrong type, not in an enum, unknown key) are rewritten to name the value. */
export function formatIssue(prefix: string, issue: z.core.$ZodIssue): string {
  const path = [prefix, ...issue.path.map(String)].join(".");
  if (!/^(Invalid|Unrecognized)/.test(issue.message)) return `${path}: ${issue.message}`;
  switch (issue.code) {
    case "invalid_type": {
      if (issue.input === undefined) return `${path}: is required`;
      const expected = issue.expected === "object" ? "a map" : `a ${issue.expected}`;
      const hint =
        issue.expected === "number" && typeof issue.input === "string"
          ? " (write it without quotes)"
          : "";
      return `${path}: ${show(issue.input)} is not ${expected}${hint}`;
    }
    case "invalid_value":
      return `${path}: ${show(issue.input)} is not allowed (allowed: ${issue.values.map(String).join(", ")})`;
    case "unrecognized_keys": {
      const shapes: Record<string, string> = {
        cluster: `${Object.keys(minikubeSchema.shape).join(", ")} (minikube); ${Object.keys(kubeconfigSchema.shape).join(", ")} (kubeconfig)`,
        infrastructure: INFRASTRUCTURE_COMPONENTS.join(", "),
        gitSsh: Object.keys(gitSshSchema.shape).join(", "),
        githubApp: Object.keys(githubAppSchema.shape).join(", "),
      };
      // Under a service: the keys of the object the unknown key is in.
      const nested: Record<string, string> = {
        resources: "requests, limits",
        requests: "cpu, memory",
        limits: "cpu, memory",
        autoscaling: Object.keys(autoscalingSchema.shape).join(", "),
      };
      const segments = path.split(".");
      const allowed =
        shapes[segments[0]] ??
        (segments[0] === "services" && segments.length > 2
          ? nested[segments[segments.length - 1]]
          : undefined) ??
        Object.keys(serviceSchema.shape).join(", ");
      return issue.keys
        .map((k) => `${path}.${k}: unknown key ${show(k)} (allowed: ${allowed})`)
        .join("\n");
    }
    default:
      return `${path}: ${issue.message}`;
  }
}
