# shellcheck shell=sh source-path=SCRIPTDIR
# Reads what is live, in one round trip: the table (JSON and text), the candidate as this host's
# nft decompiles it (loaded into a throwaway network namespace), the managed files, sysctls, modules.
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"
load_common_params
catch_failures
hash=$(param hash); require_name "$hash" hash

# The declared sets of SIDE (live or desired) not named in $B/same.names, as "N kind name" (N: its
# listing's number in $B/SIDE.sets).
differing_sets() { # side
  same="
$(cat "$B/same.names")
"
  n=0
  while read -r kind name; do
    n=$((n + 1))
    case "$same" in *"
$kind $name
"*) ;; *) echo "$n $kind $name" ;; esac
  done <"$B/$1.names"
}

# Their JSON listings, one a line.
differing_sets_json() { # side
  differing_sets "$1" | while read -r n _ _; do cat "$B/$1.sets/$n.json" 2>/dev/null || true; done
}

# The full text listings of the live declared sets that differ, one after another.
list_differing_live_text() {
  differing_sets live | while read -r _ kind name; do
    nft -s list "$kind" inet "$table" "$name" 2>/dev/null || true
  done >"$B/live.sets.text"
}

# Candidates up to this size (bytes) are listed whole: about 3,000 set elements.
WHOLE_BELOW=65536

step=observe
# An absent table or file is a finding, not a failure: those reads may fail.
#
# The table exactly as the last apply of this same policy committed it (the hash it recorded, and
# the listing of its declared parts recorded at commit, as the no-op apply compares it): no table
# drift, and nothing to load into a throwaway namespace or ship. A fleet's drift check is mostly
# this; anything else (a rule added by hand, a set changed, another policy) is listed and compared.
if [ "$(read_file "$state_dir/applied.hash")" = "$hash" ] && [ -f "$state_dir/applied.listing" ] &&
  list_declared >"$B/as-applied" && cmp -s "$B/as-applied" "$state_dir/applied.listing"; then
  section table-as-applied
else
  # Named sets' elements are read only where this project declares them (never a block set's or
  # a meter's: not compared, and seconds to read for 100,000), and shipped only for the sets that
  # differ: the live table and the candidate (loaded into a throwaway network namespace) list each
  # such set concurrently, and the host compares the two listings. Everything else is listed
  # without named sets' elements (milliseconds for any size). A set listed the same on both sides
  # is named in sets-same, its elements in no section.
  section live-json
  nft -t -s -j list ruleset 2>/dev/null || true
  : >"$B/live.names"
  : >"$B/same.names"
  if nft -t -s list ruleset >"$B/live.ruleset" 2>/dev/null; then
    table_of_ruleset "$B/live.ruleset" >"$B/live.terse"
    declared_sets "$B/live.terse" >"$B/live.names"
  fi
  if [ -f "$B/files/nft" ] && [ "$(wc -c <"$B/files/nft")" -le "$WHOLE_BELOW" ]; then
    # A small candidate (no big set): listed whole in the throwaway namespace, every declared set
    # shipped and compared in JS. Comparing each set on the host costs a few processes per set,
    # which a fleet of small tables pays on every host for nothing.
    list_sets_json "$B/live.names" "$B/live.sets" whole
    # shellcheck disable=SC2016 # expanded by the inner shell, from its own arguments
    unshare -n sh -c 'nft -f "$1" </dev/null || exit 0; nft -s -j list ruleset >"$2.json"; nft -s list ruleset >"$2.ruleset"' \
      sh "$B/files/nft" "$B/desired" 2>/dev/null || true
    if [ -s "$B/desired.json" ]; then table_of_ruleset "$B/desired.ruleset" >"$B/desired.terse"; fi
    : >"$B/desired.names"
    : >"$B/desired.sets.text"
    list_differing_live_text
  elif [ -f "$B/files/nft" ]; then
    # The candidate's session says `compared` once $B/same.names is complete (or ends without a
    # word): the live side's full listings of the sets that differ go beside the candidate's.
    # shellcheck disable=SC2016 # expanded by the inner shell, from its own arguments
    { list_sets_json "$B/live.names" "$B/live.sets"; echo listed; } |
      { unshare -n sh -c 'B=$1; . "$B/lib.sh"; load_common_params; candidate_listings' sh "$B" 2>/dev/null || true; } |
      { read -r _ || true; list_differing_live_text; }
  else
    list_sets_json "$B/live.names" "$B/live.sets"
    list_differing_live_text
  fi
  section live-sets-json
  differing_sets_json live
  section live-text
  if [ -s "$B/live.terse" ]; then splice_sets "$B/live.sets.text" "$B/live.terse"; fi
  if [ -f "$B/desired.json" ]; then
    section desired-json
    cat "$B/desired.json"
    section desired-sets-json
    differing_sets_json desired
    section desired-text
    splice_sets "$B/desired.sets.text" "$B/desired.terse"
    section sets-same
    cat "$B/same.names"
  fi
fi
# The table file the same as the candidate uploaded for this step: not shipped back (100,000
# prefixes make it 2-3 MB).
managed_files | while read -r name path; do
  if [ ! -f "$path" ]; then section "file $name missing"
  elif [ "$name" = nft ] && [ -f "$B/files/nft" ] && cmp -s "$path" "$B/files/nft"; then section "file $name same"
  else section "file $name present"; base64 -w 0 "$path"; echo; fi
done
section unit-link
if [ -L "$unit_link" ]; then readlink "$unit_link"; fi
section sysctl
if [ -f "$B/params/sysctl" ]; then
  while read -r key _; do
    p=$(sysctl_path "$key")
    # "-": absent, or read-only here (a container's network namespace): not drift, apply cannot set it.
    if [ -w "$p" ]; then echo "$key $(read_file "$p")"; else echo "$key -"; fi
  done <"$B/params/sysctl"
fi
section modules
if [ -r /proc/modules ]; then awk '$1 ~ /^nf_(conntrack|nat)_/ {print $1}' /proc/modules; fi
section recorded
read_file "$state_dir/applied.hash"; echo
section armed
guardian_alive && echo yes || echo no
# read, not marked: a diff or a refresh changes nothing on the host; the next apply marks it
section last-transaction
unreported_transaction read
section end
