/**
 * Ingress through the Gateway API (v1): Envoy Gateway installed the Flux way (an OCI
 * HelmRepository and a HelmRelease, pinned; its chart also installs the Gateway API CRDs),
 * one GatewayClass and one Gateway per environment, and an HTTPRoute per service as a
 * kustomize component that `apps/<service>/` includes unless the service opts out.
 *
 * Why Envoy Gateway: a conformant Gateway API implementation whose single chart brings the
 * CRDs too, so nothing else has to be installed first, and it runs on minikube as a
 * LoadBalancer Service that `minikube tunnel` exposes. (The community ingress-nginx is
 * retired; Traefik and NGINX Gateway Fabric need the CRDs installed separately.)
 */

import type { PlatformConfig, ServiceConfig } from "../config";

/** Whether a service gets an HTTPRoute: its `ingress` is on, and so is the Gateway. */
export function routed(cfg: PlatformConfig, s: ServiceConfig): boolean {
  return cfg.infrastructure.gateway && s.ingress;
}

export const GATEWAY_CHART = {
  url: "oci://docker.io/envoyproxy",
  chart: "gateway-helm",
  // Envoy Gateway 1.9 (Gateway API v1.6), as the team recorded it in late 2026; the exact
  // tag was not re-checked against the registry from the machine that wrote this.
  version: "v1.9.0",
} as const;

/** Names every reference (parentRefs, gatewayClassName) uses. */
export const GATEWAY = {
  className: "flux-platform",
  controllerName: "gateway.envoyproxy.io/gatewayclass-controller",
  name: "platform",
  listener: "http",
  namespace: "envoy-gateway-system",
} as const;

/** Host name a service is reached at. */
export const serviceHostname = (service: string, domain: string): string => `${service}.${domain}`;

/** Envoy Gateway's namespace, OCI chart source and release. */
export function envoyGatewayInstall(partOf: Record<string, string>): object[] {
  return [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: GATEWAY.namespace, labels: partOf },
    },
    {
      apiVersion: "source.toolkit.fluxcd.io/v1",
      kind: "HelmRepository",
      metadata: { name: "envoy-gateway", namespace: GATEWAY.namespace },
      spec: { type: "oci", interval: "24h", url: GATEWAY_CHART.url },
    },
    {
      apiVersion: "helm.toolkit.fluxcd.io/v2",
      kind: "HelmRelease",
      metadata: { name: "envoy-gateway", namespace: GATEWAY.namespace },
      spec: {
        interval: "30m",
        timeout: "10m",
        chart: {
          spec: {
            chart: GATEWAY_CHART.chart,
            version: GATEWAY_CHART.version,
            sourceRef: { kind: "HelmRepository", name: "envoy-gateway" },
            interval: "12h",
          },
        },
        install: { crds: "CreateReplace", remediation: { retries: 3 } },
        upgrade: { crds: "CreateReplace", remediation: { retries: 3 } },
      },
    },
  ];
}

/** The environment's GatewayClass and Gateway; `${APP_NAMESPACE}` and `${INGRESS_DOMAIN}` are substituted. */
export function gatewayObjects(): object[] {
  return [
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GatewayClass",
      metadata: { name: GATEWAY.className },
      spec: { controllerName: GATEWAY.controllerName },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: GATEWAY.name, namespace: "${APP_NAMESPACE}" },
      spec: {
        gatewayClassName: GATEWAY.className,
        listeners: [
          {
            name: GATEWAY.listener,
            protocol: "HTTP",
            port: 80,
            hostname: "*.${INGRESS_DOMAIN}",
            allowedRoutes: { namespaces: { from: "Same" } },
          },
        ],
      },
    },
  ];
}

/** The HTTPRoute of one service (in its component): `${SERVICE_NAME}` and `${HOSTNAME}` substituted. */
export function httpRoute(): object {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "${SERVICE_NAME}", labels: { "app.kubernetes.io/name": "${SERVICE_NAME}" } },
    spec: {
      parentRefs: [{ name: GATEWAY.name, sectionName: GATEWAY.listener }],
      hostnames: ["${HOSTNAME}"],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: "/" } }],
          backendRefs: [{ name: "${SERVICE_NAME}", port: 80 }],
        },
      ],
    },
  };
}
