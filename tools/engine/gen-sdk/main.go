// Command gen-sdk writes the SDK that `pulumi package add` generates for a consumer's language,
// for the languages whose host the Go module proxy does not serve (docs/languages.md).
//
//	gen-sdk -language python|go|nodejs -schema schema.json -out DIR
//
// `pulumi package add` binds the provider's schema, sets SupportPack, and hands the schema to the
// language host's GeneratePackage RPC (local = true); the Python, Go and Node.js hosts each bind it
// again and call their codegen package's GeneratePackage. This does the same steps in one process
// with the codegen packages of the pinned engine (engine/go.mod), so the files are the ones the
// language host of that engine version would write. The schema comes from the provider itself:
// `pulumi package get-schema <plugin>`.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// noReferences refuses to load other packages: a schema that refers to one needs the CLI's plugin
// loader, which this tool does not start.
type noReferences struct{}

func refused(name string) error {
	return fmt.Errorf("the schema refers to package %q; gen-sdk generates only self-contained schemas", name)
}

func (noReferences) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, refused(pkg)
}

func (noReferences) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, refused(d.Name)
}

func (noReferences) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, refused(pkg)
}

func (noReferences) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, refused(d.Name)
}

func bind(specJSON []byte) (*schema.Package, error) {
	var spec schema.PackageSpec
	if err := json.Unmarshal(specJSON, &spec); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	pkg, diags, err := schema.BindSpec(spec, noReferences{}, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, errors.Join(diags.Errs()...)
	}
	return pkg, nil
}

func generate(language string, specJSON []byte) (map[string][]byte, error) {
	// As packages.InstallPackage: bind, mark SupportPack, serialize, and let the host bind again.
	pkg, err := bind(specJSON)
	if err != nil {
		return nil, err
	}
	pkg.SupportPack = true
	marshalled, err := pkg.MarshalJSON()
	if err != nil {
		return nil, err
	}
	if pkg, err = bind(marshalled); err != nil {
		return nil, err
	}
	const local = true
	switch language {
	case "python":
		return python.GeneratePackage("pulumi-language-python", pkg, nil, noReferences{})
	case "go":
		return gogen.GeneratePackage("pulumi-language-go", pkg, nil)
	case "nodejs":
		return nodejs.GeneratePackage("pulumi-language-nodejs", pkg, nil, nil, local, noReferences{})
	default:
		return nil, fmt.Errorf("-language: expected python, go or nodejs, got %q", language)
	}
}

func write(out string, files map[string][]byte) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	language := flag.String("language", "", "python, go or nodejs")
	schemaPath := flag.String("schema", "", "the provider's schema (pulumi package get-schema <plugin>)")
	out := flag.String("out", "", "directory to write the SDK into (replaced)")
	flag.Parse()
	if *schemaPath == "" || *out == "" || *language == "" {
		fmt.Fprintln(os.Stderr, "usage: gen-sdk -language python|go|nodejs -schema schema.json -out DIR")
		os.Exit(2)
	}
	specJSON, err := os.ReadFile(*schemaPath)
	if err == nil {
		var files map[string][]byte
		if files, err = generate(*language, specJSON); err == nil {
			err = write(*out, files)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen-sdk: %v\n", err)
		os.Exit(1)
	}
}
