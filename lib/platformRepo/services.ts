/**
 * The platform repo's per-service files (`apps/<service>/`): each service's folder builds on
 * the generic `apps/base` (plus the route component where the service is routed). The service's
 * own kustomize patches belong here.
 */
import type { PlatformConfig, ServiceConfig } from "../config";
import { routed } from "../gateway";
import { yamlFile } from "../yaml";
import type { RepoFile } from "./index";
import { MANAGED, kustomization } from "./templates";

/** The files of one service's folder, paths relative to the environment's folder. */
export function serviceFiles(cfg: PlatformConfig, s: ServiceConfig): RepoFile[] {
  return [
    {
      path: `apps/${s.name}/kustomization.yaml`,
      content: yamlFile(
        [
          ...MANAGED,
          "",
          `${s.name}: the generic base plus ${s.name}'s own patches (lib/platformRepo/services.ts).`,
        ],
        kustomization(["../base"], routed(cfg, s) ? { components: ["../components/route"] } : {}),
      ),
      mode: "sync",
      shared: false,
    },
  ];
}
