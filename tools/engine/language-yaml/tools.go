//go:build tools

// Package languageyaml only records the YAML language host, so `go mod tidy` keeps its
// dependencies in go.sum. It is its own module because pulumi-yaml v1.25.0 is built against
// pkg/v3 v3.206.0 and does not compile against the engine's v3.276.0 (plugin.NewContextWithRoot
// and schema.NewPluginLoader changed); the host talks to the engine over gRPC, so each side keeps
// its own version, as Pulumi's own releases bundle it.
package languageyaml

import (
	_ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
)
