// Types of check.mjs (plain JavaScript: it runs in the developer repo's workflow as it is).
export interface Facts {
  environment: string;
  namespace: string;
  variables: string[];
  /** Every age recipient the environment's cluster holds an identity for, newest last. */
  recipients: string[];
  maxConfigMapBytes: number;
  services: Record<string, { kustomization: string; configMap: string; secret: string }>;
}
export interface Build {
  status: number;
  stdout: string;
  stderr: string;
}
export const MAX_CONFIGMAP_BYTES: number;
export function changedFolders(files: readonly string[], facts: Facts): string[];
export function explainBuildError(stderr: string, facts: Facts): string;
export function sopsRecipients(text: string): string[] | undefined;
export function configMapBytes(cm: {
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}): number;
export function checkFolder(args: {
  folder: string;
  facts: Facts;
  build: Build;
  secrets?: string;
  /** path -> text of the config.yaml files the folder's build reads. */
  configs?: Record<string, string>;
}): string[];
/** Where the config Kustomization template has the service's name. */
export const SERVICE_PLACEHOLDER: string;
/** One service's config Kustomization from the template's text. */
export function configKustomization(template: string, service: string): unknown;
