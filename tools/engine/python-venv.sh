#!/usr/bin/env bash
# Prints the directory of the Python virtualenv the engine suites use for Python programs, creating
# it first when it is not cached yet: `pulumi` from the Python Package Index at the version
# tools/engine/python/requirements.txt pins (with its dependencies, frozen), once per pin, in
#   ${HNFT_PYTHON_CACHE:-$HOME/.cache/hardened-nftables/python}/<pulumi version>-<pin hash>/
# Progress goes to stderr; stdout is the directory only. Needs python3 with venv (Debian:
# python3-venv); the interpreter is $HNFT_PYTHON, else Debian's /usr/bin/python3, else python3.
#
# A program's own virtualenv (what `pulumi install` would make in its directory) is made from this
# one by `tools/engine/python-venv.sh --project DIR SDK...`: DIR/venv sees this virtualenv's packages
# through a .pth file and gets the generated SDKs installed into it (no index, no download).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
requirements="$here/python/requirements.txt"
version=$(grep -oE "^pulumi==[0-9.]+" "$requirements" | cut -d= -f3)
pin=$(sha256sum "$requirements" | cut -c1-12)
cache="${HNFT_PYTHON_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hardened-nftables/python}"
dir="$cache/$version-$pin"
python=${HNFT_PYTHON:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 || true)}
[ -n "$python" ] || { echo "python-venv: no python3 (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }

if [ ! -f "$dir/.complete" ]; then
  mkdir -p "$cache"
  exec 9>>"$cache/.build.lock"
  flock 9
  if [ ! -f "$dir/.complete" ]; then
    echo "python-venv: pulumi $version from PyPI into $dir" >&2
    start=$(date +%s)
    rm -rf "$dir"
    "$python" -m venv "$dir" >&2 || { echo "python-venv: $python -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
    "$dir/bin/pip" install --disable-pip-version-check --quiet --no-deps -r "$requirements" >&2
    "$dir/bin/pip" check >&2
    touch "$dir/.complete"
    echo "python-venv: made in $(($(date +%s) - start)) s" >&2
  fi
  exec 9>&-
fi

if [ "${1:-}" = "--project" ]; then
  project=$2
  shift 2
  rm -rf "$project/venv"
  "$python" -m venv --without-pip "$project/venv" >&2
  site=$("$project/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$dir/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/hnft-base-venv.pth"
  [ $# -eq 0 ] || "$dir/bin/pip" --disable-pip-version-check --python "$project/venv/bin/python" \
    install --quiet --no-deps --no-build-isolation --no-index "$@" >&2
  echo "$project/venv"
  exit 0
fi
echo "$dir"
