import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { RepoFile } from "../lib/yaml";
import { fillPlaceholders, writtenFiles } from "../lib/render";
import { DeployKey } from "./githubRegistrations";
import { RepositoryFiles } from "./repositoryFiles";
import { SshKeyPair } from "./sshKeyPair";

export interface GitopsRepoArgs {
  /** Repository name on GitHub (the owner comes from the github provider: `github:owner`). */
  readonly repository: string;
  readonly description: string;
  /** Visibility when this stack creates the repo. */
  readonly visibility: "private" | "public" | "internal";
  /** `true`: the repo exists (another stack made it); read it, never create or change it. */
  readonly adopt: boolean;
  /**
   * The repo is already on GitHub (see `repositoryExists`): this stack made it before a
   * `pulumi destroy`, which keeps repositories. It is imported into the stack, not created
   * again (which GitHub refuses with 422). Ignored when `adopt` is set.
   */
  readonly exists: boolean;
  /** The rendered files; `scaffold` files are written once and then left to their owners. */
  readonly files: readonly RepoFile[];
  /**
   * Text the renderers leave where a value from another resource goes (the age recipient in
   * `.sops.yaml`), and the value: replaced in every file before it is written.
   */
  readonly placeholders?: Readonly<Record<string, pulumi.Input<string>>>;
  /** `github:owner`. */
  readonly owner: string;
  /** How the file writer reaches GitHub: `github:token` (secret) and `github:baseUrl`. */
  readonly github: { readonly token: pulumi.Input<string>; readonly baseUrl?: string };
  /** Environment the deploy key is for: its title is `flux-<environment>`. */
  readonly environment: string;
  /** Changing it replaces the key pair: the new key is registered, then the old one revoked. */
  readonly keyGeneration: number;
  /**
   * `gitAuth: githubApp`: the App installation that Flux reads with, and the App's private
   * key (secret). The repo is added to the installation (and no deploy key is made);
   * `pulumi destroy` removes it again.
   */
  readonly app?: { readonly installationId: number; readonly privateKey: pulumi.Input<string> };
}

/**
 * A GitOps repository: the GitHub repo (created, or adopted), the rendered files committed
 * to `main` in one commit per update (RepositoryFiles), and this environment's access for
 * Flux: a read-only deploy key with its ED25519 key pair, or the repo granted to a GitHub
 * App installation.
 *
 * Nothing here deletes history: the repository and its files are retained when the stack
 * is destroyed (`retainOnDelete`); a removed deploy key is revoked.
 */
export class GitopsRepo extends pulumi.ComponentResource {
  public readonly repositoryName: pulumi.Output<string>;
  public readonly htmlUrl: pulumi.Output<string>;
  /**
   * What Flux's Secret for this repo needs from here, secret: the deploy key pair
   * (`identity`, `identity.pub`, OpenSSH format) or the App's `githubAppPrivateKey`.
   */
  public readonly fluxCredentials: pulumi.Output<Record<string, string>>;
  /** The deploy key's public half (none with a GitHub App). */
  public readonly publicKey?: pulumi.Output<string>;
  /** The registered deploy key or the App's grant: Flux can read the repo once this exists. */
  public readonly access: pulumi.CustomResource;
  /** The committed files: Flux finds its paths once these exist. */
  public readonly files: RepositoryFiles;

  constructor(name: string, args: GitopsRepoArgs, opts?: pulumi.ComponentResourceOptions) {
    super("flux-platform:index:GitopsRepo", name, {}, opts);

    let repository: github.Repository;
    let branch: pulumi.Resource[] = [];
    if (args.adopt) {
      repository = github.Repository.get(`${name}-repo`, args.repository, undefined, {
        parent: this,
      });
    } else {
      repository = new github.Repository(
        `${name}-repo`,
        {
          name: args.repository,
          description: args.description,
          visibility: args.visibility,
          autoInit: true,
          hasIssues: true,
          hasWiki: false,
          deleteBranchOnMerge: true,
          // No vulnerabilityAlerts: the input is deprecated, and these repos hold YAML with
          // no dependencies for Dependabot to watch.
        },
        {
          parent: this,
          // Destroying an environment never deletes a repository or its history; the other
          // environments may still use it.
          retainOnDelete: true,
          // Up after destroy: take the kept repository back. When the repository is already
          // in the stack's state under this id, `import` changes nothing.
          import: args.exists ? args.repository : undefined,
          // autoInit only matters at creation and GitHub never reports it back: without
          // this an imported repository would differ from the program.
          ignoreChanges: ["autoInit"],
        },
      );
      // autoInit makes the account's default branch; Flux and the files use `main`. A kept
      // repository already has `main`: nothing to rename.
      branch = [
        new github.BranchDefault(
          `${name}-main`,
          {
            repository: repository.name,
            branch: "main",
            rename: !args.exists,
            // The rename is eventually consistent: files written right after it could land
            // on the old name.
            waitForRename: !args.exists,
          },
          { parent: this, ignoreChanges: ["rename", "waitForRename"] },
        ),
      ];
    }

    if (args.app !== undefined) {
      // The App reads only the repositories its installation was given. The grant is shared:
      // every environment's stack declares the same one (same installation, same repos), and
      // the provider's delete removes the repository from the installation unconditionally
      // (terraform-provider-github's RemoveRepository), so one stack's destroy, or one stack
      // going back to deploy keys, would cut off every other environment's Flux. So no stack
      // ever removes it: a create on a repository already granted is a no-op on GitHub (204),
      // and taking the App away from the repos is the installation owner's act (docs/github.md
      // "GitHub App mode").
      this.access = new github.AppInstallationRepository(
        `${name}-app-access`,
        { installationId: String(args.app.installationId), repository: repository.name },
        { parent: this, retainOnDelete: true },
      );
      this.fluxCredentials = pulumi.secret(
        pulumi
          .output(args.app.privateKey)
          .apply((k): Record<string, string> => ({ githubAppPrivateKey: k })),
      );
    } else {
      const key = new SshKeyPair(`${name}-deploy-key`, {
        parent: this,
        // A string since deploy keys are DeployKey resources (a number before): a stack
        // made with the GitHub provider's RepositoryDeployKey gets a new pair on its next up,
        // so the old resource's delete (at the end of that update) revokes the old key and
        // not the one its successor registered; the rotation order below keeps Flux reading.
        replacementTrigger: `g${args.keyGeneration}`,
      });
      this.publicKey = key.publicKeyOpenssh;
      this.fluxCredentials = pulumi.secret(
        pulumi
          .all([key.privateKeyOpenssh, key.publicKeyOpenssh])
          .apply(([identity, pub]): Record<string, string> => ({ identity, "identity.pub": pub })),
      );
      // One deploy key resource per generation: rotating makes a new resource, which Pulumi
      // creates first and deletes the old one only at the end of the update, so Flux never
      // lacks a registered key. (A replacement of one resource would not do: a key
      // cannot be edited, so DeployKey deletes it before it registers its replacement.)
      // flux-platform's own DeployKey, not the provider's: a lost answer to its create or
      // delete never leaves an orphan or a stuck stack (components/githubRegistrations.ts).
      this.access = new DeployKey(
        `${name}-deploy-key-g${args.keyGeneration}`,
        {
          owner: args.owner,
          repository: repository.name,
          token: args.github.token,
          baseUrl: args.github.baseUrl,
          title: `flux-${args.environment}`,
          key: key.publicKeyOpenssh,
          readOnly: true,
        },
        { parent: this },
      );
    }

    // Every file this stack owns, in one commit per `pulumi up` that changes any.
    const written = writtenFiles(args.files, args.adopt);
    const files = args.placeholders
      ? pulumi.all(args.placeholders).apply((values) => fillPlaceholders(written, values))
      : written;
    this.files = new RepositoryFiles(
      `${name}-files`,
      {
        owner: args.owner,
        repository: args.repository,
        branch: "main",
        baseUrl: args.github.baseUrl,
        token: args.github.token,
        subject: `flux-platform: ${args.environment}`,
        files,
      },
      // The repository and its main branch exist before anything is written.
      { parent: this, dependsOn: [repository, ...branch] },
    );

    this.repositoryName = repository.name;
    this.htmlUrl = repository.htmlUrl;
    this.registerOutputs({
      repositoryName: this.repositoryName,
      htmlUrl: this.htmlUrl,
      publicKey: this.publicKey,
    });
  }
}

/**
 * Whether `repository` exists for the GitHub provider's owner. The provider's data source
 * answers a 404 with an empty result, not an error; any other failure (token, network)
 * stops the program.
 */
export async function repositoryExists(repository: string): Promise<boolean> {
  const found = await github.getRepository({ name: repository });
  return Boolean(found.nodeId);
}
