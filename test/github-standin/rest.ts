/**
 * The GitHub REST endpoints the Pulumi GitHub provider (terraform-provider-github v6.13.0)
 * calls for repositories, default branches and deploy keys, answered as GitHub documents.
 */
import type { Route, StandInContext } from "./server";

export function restRoutes(_ctx: StandInContext): Route[] {
  return [];
}
