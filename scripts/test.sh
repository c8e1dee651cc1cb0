#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up (scripts/setup.sh), then the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
npm test
