/**
 * Shared primitives of the config schema: how a value is quoted in a message (`show`), the
 * DNS name rules, and the zod building blocks several concerns use (whole numbers in a range,
 * DNS-1123 labels).
 */
import { z } from "zod";

export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

export const show = (v: unknown): string => {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return `\`${s}\``;
};

/** A whole number in [min, max]; the message names the range once, here. */
export const wholeNumber = (min: number, max: number, unit = "") =>
  z.number().refine((v) => Number.isInteger(v) && v >= min && v <= max, {
    error: (i) => `${show(i.input)} is out of range (allowed: whole numbers ${min}-${max}${unit})`,
  });

export const dnsLabel = (what: string) =>
  z.string().refine((v) => DNS_LABEL.test(v) && v.length <= 63, {
    error: (i) =>
      `${show(i.input)} is not a ${what} (DNS-1123 label: lowercase a-z, 0-9 and '-', at most 63)`,
  });

/** Longest domain: a service's host name `<service>.<domain>` must stay within DNS's 253. */
export const MAX_DOMAIN = 253 - 2;
export const isDomain = (v: string): boolean =>
  v.length <= MAX_DOMAIN && v.split(".").every((l) => DNS_LABEL.test(l) && l.length <= 63);
