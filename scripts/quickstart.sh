#!/usr/bin/env bash
# The quick start, one command on a fresh Debian bookworm machine (as root): installs what is
# missing (scripts/setup.sh), builds the package, brings up a sandbox host (a real sshd in a
# network namespace on this machine), and runs `pulumi up` of examples/quickstart against it with
# a local file backend (./.pulumi-state). Then it prints the outputs and what to try next.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh

if [ ! -f dist/index.js ] || [ -n "$(find src -newer dist/index.js -print -quit)" ]; then
  printf '\n==> build\n' >&2
  npm run --silent build
fi
printf '\n==> sandbox host\n' >&2
npm run --silent sandbox -- up >/dev/null
status=$(npm run --silent sandbox -- status --json)
netns=$(node -pe 'JSON.parse(process.argv[1]).netns' "$status")
host=$(node -pe 'JSON.parse(process.argv[1]).host' "$status")
echo "sandbox host ${host} (network namespace ${netns})" >&2

printf '\n==> pulumi up (examples/quickstart, stack dev, state in ./.pulumi-state)\n' >&2
scripts/pulumi up --yes

cat <<NEXT

The sandbox host ${host} now runs the hardened table "quickstart". Try:

  # drift made by hand on the host:
  sudo ip netns exec ${netns} nft add rule inet quickstart input tcp dport 8080 accept
  scripts/pulumi preview --refresh --diff --expect-no-changes   # shows the rule, exits non-zero
  scripts/pulumi up --refresh --yes                            # puts the table back
  scripts/pulumi preview --refresh --expect-no-changes         # passes again

  # change the policy in examples/quickstart/index.ts, then:
  scripts/pulumi preview --diff                                # the rule lines that change
  scripts/pulumi up --yes

  # when done:
  scripts/pulumi destroy --yes && npm run sandbox -- down

(scripts/pulumi puts the pinned Node.js and engine first on PATH; state secrets use
PULUMI_CONFIG_PASSPHRASE, "quickstart" unless you set it.) The whole test suite: sudo scripts/test.sh
NEXT
