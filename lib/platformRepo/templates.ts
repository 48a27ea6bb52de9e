/**
 * The generic templates of the platform repo: the Deployment and Service every service is
 * built from (`apps/base/`, filled in by the Flux Kustomizations' post-build substitution of
 * `APP_VARIABLES`), the kustomization.yaml helper, and the header (`MANAGED`) and label
 * (`PART_OF`) every managed file carries.
 */
import { configMapName, secretsName } from "../names";

export const MANAGED = [
  "Managed by flux-platform (Pulumi). Do not edit in this repo: `pulumi up` puts it back.",
  "Change it in the flux-platform program (lib/platformRepo/) and run `pulumi up`.",
];

export const PART_OF = { "app.kubernetes.io/part-of": "flux-platform" };

/** Variables every service's platform Kustomization substitutes into `apps/base`. */
export const APP_VARIABLES = ["SERVICE_NAME", "ENV", "IMAGE", "PORT", "REPLICAS"] as const;

export function deployment(): object {
  const labels = { "app.kubernetes.io/name": "${SERVICE_NAME}" };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "${SERVICE_NAME}",
      labels: { ...labels, "app.kubernetes.io/instance": "${SERVICE_NAME}-${ENV}" },
      annotations: {
        // Stakater Reloader (infrastructure/controllers) rolls the pods when the ConfigMap or
        // the Secret that the developer Kustomization builds changes: Flux itself never
        // restarts pods.
        "configmap.reloader.stakater.com/reload": configMapName("${SERVICE_NAME}"),
        "secret.reloader.stakater.com/reload": secretsName("${SERVICE_NAME}"),
      },
    },
    spec: {
      replicas: "${REPLICAS}",
      revisionHistoryLimit: 3,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels: { ...labels, "app.kubernetes.io/instance": "${SERVICE_NAME}-${ENV}" } },
        spec: {
          securityContext: { seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            {
              name: "app",
              image: "${IMAGE}",
              ports: [{ name: "http", containerPort: "${PORT}", protocol: "TCP" }],
              env: [
                { name: "SERVICE_NAME", value: "${SERVICE_NAME}" },
                { name: "ENV", value: "${ENV}" },
                { name: "CONFIG_DIR", value: "/etc/config" },
              ],
              // The team's secrets (developer repo `<service>/<env>/secrets/`), one variable
              // per name; optional, so a service without them starts. `env` wins over it.
              envFrom: [{ secretRef: { name: secretsName("${SERVICE_NAME}"), optional: true } }],
              readinessProbe: { tcpSocket: { port: "http" }, periodSeconds: 10 },
              resources: {
                requests: { cpu: "50m", memory: "64Mi" },
                limits: { memory: "128Mi" },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [{ name: "config", mountPath: "/etc/config", readOnly: true }],
            },
          ],
          volumes: [{ name: "config", configMap: { name: configMapName("${SERVICE_NAME}") } }],
        },
      },
    },
  };
}

export function service(): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "${SERVICE_NAME}", labels: { "app.kubernetes.io/name": "${SERVICE_NAME}" } },
    spec: {
      selector: { "app.kubernetes.io/name": "${SERVICE_NAME}" },
      ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
    },
  };
}

export function kustomization(resources: string[], extra: object = {}): object {
  return {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources,
    ...extra,
  };
}
