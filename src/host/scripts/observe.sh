# shellcheck shell=sh source-path=SCRIPTDIR
# Reads what is live, in one round trip: the table (JSON and text), the candidate as this host's
# nft decompiles it (loaded into a throwaway network namespace), the managed files, sysctls, modules.
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"
load_common_params
catch_failures

# The candidate as this host's nft lists it (JSON and text), loaded once into a throwaway network
# namespace: $B/desired.json and $B/desired.text, absent or empty when it does not load.
list_candidate() {
  # shellcheck disable=SC2016 # expanded by the inner shell, from its own arguments
  unshare -n sh -c 'nft -f "$1" || exit 0; nft -s -j list table inet "$2" >"$3.json"; nft -s list table inet "$2" >"$3.text"' \
    sh "$B/files/nft" "$table" "$B/desired" 2>/dev/null || true
}

step=observe
# An absent table or file is a finding, not a failure: those reads may fail.
# Never the elements of block sets and meters (not compared, and seconds to read for 100,000):
# the whole ruleset without named sets' elements (observe.ts keeps this table's objects), then
# each set whose elements are declared on its own, one JSON document a line.
section live-json
nft -t -s -j list ruleset 2>/dev/null || true
section live-sets-json
if list_declared >"$B/live.declared"; then
  declared_sets "$B/declared.terse" | while read -r kind name; do nft -s -j list "$kind" inet "$table" "$name" 2>/dev/null || true; done
fi
section live-text
cat "$B/live.declared" 2>/dev/null || true
if [ -f "$B/files/nft" ]; then
  list_candidate
  section desired-json
  cat "$B/desired.json" 2>/dev/null || true
  section desired-text
  cat "$B/desired.text" 2>/dev/null || true
fi
managed_files | while read -r name path; do
  if [ -f "$path" ]; then section "file $name present"; base64 -w 0 "$path"; echo; else section "file $name missing"; fi
done
section unit-link
if [ -L "$unit_link" ]; then readlink "$unit_link"; fi
section sysctl
if [ -f "$B/params/sysctl" ]; then
  while read -r key _; do
    p=$(sysctl_path "$key")
    # "-": absent, or read-only here (a container's network namespace): not drift, apply cannot set it.
    if [ -w "$p" ]; then echo "$key $(cat "$p")"; else echo "$key -"; fi
  done <"$B/params/sysctl"
fi
section modules
if [ -r /proc/modules ]; then awk '$1 ~ /^nf_(conntrack|nat)_/ {print $1}' /proc/modules; fi
section recorded
cat "$state_dir/applied.hash" 2>/dev/null || true; echo
section armed
guardian_alive && echo yes || echo no
# read, not marked: a diff or a refresh changes nothing on the host; the next apply marks it
section last-transaction
unreported_transaction read
section end
