/**
 * The life of a platform after its first up (issue "Run it for real, part 2"): bad input,
 * a developer's config change, a developer trying to deploy, key rotation, a second
 * environment and a promotion, removing a service. Each step asserts what the API server,
 * git and the GitHub stand-in show. This file only orders the steps; each group is a file
 * of its own in this folder.
 */
import type { Infra, Toolchain } from "../infra";
import type { Stack } from "../infra/pulumi";
import type { Step } from "../scenario";
import { badInput } from "./badConfig";
import { brokenServiceStep } from "./brokenService";
import { developerCheckSteps } from "./developerCheck";
import { configChange, pushToApply } from "./developerConfig";
import { twoEnvironments } from "./environments";
import { gatewayAccepted } from "./gateway";
import { githubAppMode } from "./githubApp";
import { keyRotation } from "./keys";
import { removeService } from "./removeService";
import { secretsSteps, type SecondEnvironment } from "./secrets";
import { developerCannotDeploy, otherTeamsConfig } from "./security";

export function lifecycle(t: Toolchain, infra: Infra, dev: Stack): Step[] {
  const second: SecondEnvironment = { environment: "prd" };
  const secrets = secretsSteps(t, infra, dev, second);
  return [
    gatewayAccepted(t, infra),
    badInput(t, infra),
    configChange(infra),
    pushToApply(infra),
    developerCannotDeploy(infra),
    otherTeamsConfig(infra),
    brokenServiceStep(infra, dev),
    ...secrets.steps,
    ...developerCheckSteps(t, infra),
    keyRotation(infra, dev),
    ...twoEnvironments(t, infra, dev, second),
    secrets.acrossEnvironments,
    removeService(infra, dev),
    githubAppMode(infra, dev),
  ];
}
