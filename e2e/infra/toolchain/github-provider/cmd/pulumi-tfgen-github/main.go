// pulumi-tfgen-github generates the Pulumi schema (schema.json) and bridge-metadata.json
// of the bridged GitHub provider: `pulumi-tfgen-github schema --out DIR --skip-docs --skip-examples`.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	provider "local/pulumi-github-bridge"
	"local/pulumi-github-bridge/version"
)

func main() {
	if version.Version == "" {
		fmt.Fprintln(os.Stderr, "pulumi-tfgen-github: no version stamped (-X local/pulumi-github-bridge/version.Version=...)")
		os.Exit(2)
	}
	// A fresh build has no alias history: start from empty metadata; tfgen writes the
	// bridge-metadata.json that the plugin then embeds.
	tfgen.Main("github", version.Version, provider.Provider([]byte("{}")))
}
