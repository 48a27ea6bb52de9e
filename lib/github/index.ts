/**
 * GitHub, as the stack uses it: the REST client with its retry and rate-limit handling
 * (api.ts), the repository writer that commits the rendered files in one commit per up
 * (plan.ts decides, writer.ts writes), and the deploy keys, webhooks and App grants the stack
 * registers (registrations.ts). The one entrance to `lib/github/`.
 */
export * from "./api";
export * from "./plan";
export * from "./registrations";
export * from "./writer";
