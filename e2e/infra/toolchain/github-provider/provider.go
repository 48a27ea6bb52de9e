// Package provider is a minimal pulumi-terraform-bridge glue for
// github.com/integrations/terraform-provider-github/v6, standing in for
// github.com/pulumi/pulumi-github/provider/v6 (which the Go module proxy here does not serve).
//
// It keeps what decides the wire contract with the npm SDK @pulumi/github 6.15.0: the
// package name "github", every token in the single module "index" made by the bridge's
// standard rules (github_repository -> github:index/repository:Repository,
// data github_repository -> github:index/getRepository:getRepository), the bridge's
// standard camelCase property names (base_url -> baseUrl, auto_init -> autoInit), and the
// few overrides pulumi-github makes that change behaviour on the wire (config defaults and
// secrets, delete-before-replace, autonaming). Docs, examples and SDK generation are left out.
package provider

import (
	"github.com/integrations/terraform-provider-github/v6/github"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"

	"local/pulumi-github-bridge/version"
)

const (
	mainPkg = "github"
	mainMod = "index"
	// The upstream release wrapped (reported in the provider's User-Agent).
	upstreamVersion = "6.13.0"
)

// Provider returns the bridge's view of the GitHub provider. metadata is the
// bridge-metadata.json that tfgen wrote (or "{}" when running tfgen itself).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	p := shimv2.NewProvider(github.NewProvider(upstreamVersion, "")())

	prov := tfbridge.ProviderInfo{
		P:                       p,
		Name:                    mainPkg,
		Version:                 version.Version,
		Description:             "A Pulumi package for creating and managing github cloud resources.",
		Keywords:                []string{"pulumi", "github"},
		License:                 "Apache-2.0",
		Homepage:                "https://pulumi.io",
		Repository:              "https://github.com/pulumi/pulumi-github",
		GitHubOrg:               "integrations",
		TFProviderModuleVersion: "v6",
		MetadataInfo:            tfbridge.NewProviderMetadata(metadata),
		Config: map[string]*tfbridge.SchemaInfo{
			"base_url": {
				Default: &tfbridge.DefaultInfo{
					EnvVars: []string{"GITHUB_BASE_URL"},
					Value:   "https://api.github.com/",
				},
			},
			"token": {
				Default: &tfbridge.DefaultInfo{EnvVars: []string{"GITHUB_TOKEN"}},
				Secret:  tfbridge.True(),
			},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"github_actions_environment_secret":    {DeleteBeforeReplace: true},
			"github_repository_collaborator":       {DeleteBeforeReplace: true},
			"github_repository_deploy_key":         {DeleteBeforeReplace: true},
			"github_repository_autolink_reference": {DeleteBeforeReplace: true},
			"github_actions_organization_secret": {Fields: map[string]*tfbridge.SchemaInfo{
				"selected_repository_ids": {ForceNew: tfbridge.True()},
			}},
			"github_codespaces_organization_secret": {Fields: map[string]*tfbridge.SchemaInfo{
				"selected_repository_ids": {ForceNew: tfbridge.True()},
			}},
			"github_dependabot_organization_secret": {Fields: map[string]*tfbridge.SchemaInfo{
				"selected_repository_ids": {ForceNew: tfbridge.True()},
			}},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			// The one data source whose token is not the standard one (getApp).
			"github_app": {Tok: tfbridge.MakeDataSource(mainPkg, mainMod, "getGithubApp")},
		},
		EnableZeroDefaultSchemaVersion: true,
	}

	prov.MustComputeTokens(tokens.SingleModule("github_", mainMod, tokens.MakeStandard(mainPkg)))
	prov.MustApplyAutoAliases()
	prov.SetAutonaming(255, "-")
	return prov
}
