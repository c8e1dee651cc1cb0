#!/usr/bin/env bash
# Prints the directory that holds the Pulumi engine this project is tested with, building it
# first when it is not cached yet. Used by .ci/run, the tests, the bench and the quick start
# (`npm run --silent pulumi-engine`). Build progress goes to stderr; stdout is the directory only.
#
# The engine is built from its Go modules at the version pinned in tools/engine/go.mod, once per
# version and pin, into a cache outside the repository:
#   ${HNFT_ENGINE_CACHE:-$HOME/.cache/hardened-nftables/pulumi-engine}/<version>-<pin hash>/bin/
#     pulumi                          the CLI, version-stamped (`pulumi version` prints it)
#     pulumi-resource-pulumi-nodejs   the dynamic-provider plugin, a script shipped in @pulumi/pulumi
#     pulumi-language-yaml            the YAML language host, pulumi-yaml as tools/engine/language-yaml pins it
#     gen-sdk                         tools/engine/gen-sdk: the SDK `pulumi package add` writes for Python,
#                                     Go or Node.js, with the engine's own codegen (docs/languages.md)
# Each of the last two is rebuilt when its own inputs change (a .<name>.pin file beside it).
# Pieces the Go module proxy refuses at every version and commit asked for (see docs/development.md,
# "The engine"): the Node.js language host and pulumi-resource-command. Programs therefore run through
# the Automation API's inline programs, which need no language host.
#
# Without Go (an operator's laptop) the `pulumi` on PATH is used; without either, it says how to
# get one and exits 1. Nothing here or at run time downloads a plugin.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$(dirname "$here")")
version=$(grep -oE "github.com/pulumi/pulumi/pkg/v3 v[0-9]+\.[0-9]+\.[0-9]+" "$here/go.mod" | head -n1 | cut -d" " -f2)
[ -n "$version" ] || { echo "pulumi-engine: no github.com/pulumi/pulumi/pkg/v3 version in $here/go.mod" >&2; exit 1; }
pin=$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)
cache="${HNFT_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hardened-nftables/pulumi-engine}"
dir="$cache/$version-$pin/bin"
dynamic_plugin="$repo/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"

stamped() { [ -x "$1/pulumi" ] && [ "$("$1/pulumi" version 2>/dev/null)" = "$version" ]; }

# The tools built beside the engine: name, module directory, inputs (relative to tools/engine/).
yaml_host_inputs=(language-yaml/go.mod language-yaml/go.sum language-yaml/tools.go)
gen_sdk_inputs=(go.mod go.sum gen-sdk/main.go)
pin_of() { (cd "$here" && cat "$@") | sha256sum | cut -c1-12; }
tool_current() { [ -x "$dir/$1" ] && [ "$(cat "$dir/.$1.pin" 2>/dev/null)" = "$2" ]; }
yaml_host_pin=$(pin_of "${yaml_host_inputs[@]}")
gen_sdk_pin=$(pin_of "${gen_sdk_inputs[@]}")
tools_current() { tool_current pulumi-language-yaml "$yaml_host_pin" && tool_current gen-sdk "$gen_sdk_pin"; }

if stamped "$dir" && [ -x "$dir/pulumi-resource-pulumi-nodejs" ] && tools_current; then
  echo "$dir"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  if command -v pulumi >/dev/null 2>&1; then
    found=$(dirname "$(command -v pulumi)")
    have=$(pulumi version 2>/dev/null || true)
    [ "$have" = "$version" ] || echo "pulumi-engine: no Go to build $version; using $found/pulumi ($have)" >&2
    echo "$found"
    exit 0
  fi
  cat >&2 <<EOF
pulumi-engine: neither Go (to build the pinned engine $version) nor a pulumi CLI on PATH.
Install Go >= 1.26 (https://go.dev/doc/install) and run this again, or install the Pulumi CLI
(https://www.pulumi.com/docs/iac/download-install/) and put it on PATH.
EOF
  exit 1
fi

[ -f "$dynamic_plugin" ] || { echo "pulumi-engine: $dynamic_plugin is missing: run npm ci first" >&2; exit 1; }

mkdir -p "$cache"
exec 9>>"$cache/.build.lock"
flock 9
if ! stamped "$dir"; then
  staging=$(mktemp -d "$cache/.build-XXXXXX")
  trap 'rm -rf "$staging"' EXIT
  echo "pulumi-engine: building pulumi $version from Go modules into $dir (cold: about 6 min on 2 idle cores and 1.4 GB of modules)" >&2
  start=$(date +%s)
  (
    cd "$here"
    CGO_ENABLED=0 go build -mod=readonly -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
      -o "$staging/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  ) >&2
  stamped "$staging/bin" || { echo "pulumi-engine: the built pulumi does not print $version" >&2; exit 1; }
  rm -rf "$(dirname "$dir")"
  mkdir -p "$(dirname "$dir")"
  mv "$staging/bin" "$dir"
  echo "pulumi-engine: built in $(($(date +%s) - start)) s" >&2
fi
# build_tool NAME PIN MODULE_DIR PACKAGE [LDFLAGS]: go build into the cache, then record its pin.
build_tool() {
  tool_current "$1" "$2" && return 0
  echo "pulumi-engine: building $1 into $dir" >&2
  local start
  start=$(date +%s)
  (
    cd "$here/$3"
    CGO_ENABLED=0 go build -mod=readonly -trimpath -tags osusergo,grpcnotrace -ldflags "-s -w ${5:-}" \
      -o "$dir/.$1.new" "$4"
  ) >&2
  mv "$dir/.$1.new" "$dir/$1"
  echo "$2" >"$dir/.$1.pin"
  echo "pulumi-engine: built $1 in $(($(date +%s) - start)) s" >&2
}
yaml_version=$(grep -oE "github.com/pulumi/pulumi-yaml v[0-9.]+" "$here/language-yaml/go.mod" | cut -d" " -f2)
build_tool pulumi-language-yaml "$yaml_host_pin" language-yaml github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml \
  "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$yaml_version"
build_tool gen-sdk "$gen_sdk_pin" . ./gen-sdk
install -m 0755 "$dynamic_plugin" "$dir/pulumi-resource-pulumi-nodejs"
echo "$dir"
