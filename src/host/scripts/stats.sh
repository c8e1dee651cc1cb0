# shellcheck shell=sh source-path=SCRIPTDIR
# Reads the table's counters (packets and bytes of each counted rule): reported, never changed.
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"
table=$(param table); require_name "$table" table
catch_failures

step=stats
section counters
# An absent table is a finding (no counters), not a failure. The whole ruleset without named sets'
# elements (stats.ts keeps this table): a listing of the table would read a block set's 100,000.
nft -t -j list ruleset 2>/dev/null || true
section end
