/**
 * The platform repo's README.md: what each folder holds and which Flux Kustomization applies
 * it. Shared by every environment, so only the stack that created the repository writes it.
 */

export const PLATFORM_README = `# Platform repo

Managed by flux-platform (Pulumi). Pulumi writes it, so change the program and run
\`pulumi up\` rather than editing here: a hand edit is put back by the next \`pulumi up\`.

Each environment has its own folder, \`environments/<env>/\`, written only by that
environment's stack and read only by that environment's cluster. A change reaches an
environment when its own stack is updated: \`pulumi preview --stack prd\` shows exactly what
prd is about to receive, \`pulumi up --stack prd\` promotes it.

| Path (under \`environments/<env>/\`) | What | Applied by (Flux Kustomization) |
| --- | --- | --- |
| \`infrastructure/controllers/\` | Kyverno and Stakater Reloader, as HelmRepository + HelmRelease (pinned) | \`infrastructure\` |
| \`infrastructure/policies/\` | Kyverno ValidatingPolicies (CEL) for the app namespace's pods (each stack's \`policyMode\`: Audit reports, Deny refuses) | \`infrastructure-policies\` |
| \`apps/base/\` | Generic Deployment and Service, filled in by post-build substitution | - |
| \`apps/<service>/\` | One folder per service: \`../base\` plus the service's own settings from the stack config: \`deployment-patch.yaml\` (resources, env, args, HTTP probes; only what differs), \`hpa.yaml\` (autoscaling), \`pdb.yaml\` (from two pods) | \`app-<service>\` |

Variables every service gets: \`\${SERVICE_NAME}\`, \`\${ENV}\`, \`\${IMAGE}\`, \`\${PORT}\`,
\`\${REPLICAS}\` (from the stack config). The service's configuration comes from the developer
repo as the ConfigMap \`<service>-config\`, mounted at \`/etc/config\`.
`;
