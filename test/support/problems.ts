import { expect } from "chai";
import { ConfigError, loadConfig, type RawConfig } from "../../lib/config";

/** Every problem the loader reports for `raw`, or none when it loads. */
export function configProblems(raw: RawConfig, stack = "dev"): string[] {
  try {
    loadConfig(raw, stack);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  return [];
}
