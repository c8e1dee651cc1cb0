//go:build tools

// Package engine only records the main packages the build script compiles, so `go mod tidy`
// keeps their dependencies in go.sum.
package engine

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
