// Package version holds the version stamped into the plugin at link time:
//
//	-ldflags "-X local/pulumi-github-bridge/version.Version=6.15.0"
//
// The bridge panics on an empty version, so both binaries refuse to start without it.
package version

// Version is the provider version (without a leading "v"); set with -X.
var Version string
