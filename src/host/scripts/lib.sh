# shellcheck shell=sh source-path=SCRIPTDIR
# Shared by every host script. Parameters arrive as files in the bundle ($B/params/NAME),
# never on the command line, and are checked again here before use. Every script stops at the
# first command that fails unexpectedly (set -e); a failure the script expects is tested for.
set -eu
umask 022
# shellcheck source=status.env
. "$B/status.env"

# A file's text on stdout (nothing when it is absent or unreadable), with no process: read and
# printf are built in, and an observe step reads a dozen small files, where a cat each cost more
# than the rest of the step's shell work.
read_file() { # file
  { while IFS= read -r _line || [ -n "$_line" ]; do printf '%s\n' "$_line"; done <"$1"; } 2>/dev/null || true
}

param() { read_file "$B/params/$1"; }

# The verdict line: the controller reads the last one a step prints.
status() { echo "hnft-status $*"; }
# A line of explanation that goes with the verdict (what failed, and the tool's own message).
detail() { printf '%s\n' "$*" | sed 's/^/hnft-detail /'; }

require_name() {
  case $1 in
    '' | *[!A-Za-z0-9_-]*) status "$STATUS_BAD_PARAMETER" "$2"; exit "$EXIT_BAD_PARAMETER" ;;
  esac
}

require_path() {
  case $1 in
    /*) ;;
    *) status "$STATUS_BAD_PARAMETER" "$2"; exit "$EXIT_BAD_PARAMETER" ;;
  esac
  case $1 in
    *[!A-Za-z0-9_./-]* | *..*) status "$STATUS_BAD_PARAMETER" "$2"; exit "$EXIT_BAD_PARAMETER" ;;
  esac
}

require_number() {
  case $1 in
    '' | *[!0-9]*) status "$STATUS_BAD_PARAMETER" "$2"; exit "$EXIT_BAD_PARAMETER" ;;
  esac
}

# Writes a file atomically: a temp file beside it, then rename. On failure nothing is left
# behind and the destination keeps its old content.
install_file() { # src dest
  if mkdir -p "$(dirname "$2")" && cp "$1" "$2.hnft-tmp" && chmod 0644 "$2.hnft-tmp" && mv -f "$2.hnft-tmp" "$2"; then return 0; fi
  rm -f "$2.hnft-tmp" 2>/dev/null || true
  return 1
}

# net.ipv4.ip_forward -> /proc/sys/net/ipv4/ip_forward, every dot a slash (built-ins only).
sysctl_path() { # key
  _rest=$1 _path=/proc/sys
  while :; do
    case $_rest in
      *.*) _path="$_path/${_rest%%.*}" _rest=${_rest#*.} ;;
      *) echo "$_path/$_rest"; return 0 ;;
    esac
  done
}

section() { echo "::$1::"; }

load_common_params() {
  table=$(param table); require_name "$table" table
  state_dir=$(param stateDir); require_path "$state_dir" stateDir
  run_dir=$(param runDir); require_path "$run_dir" runDir
  nft_path=$(param nftPath); require_path "$nft_path" nftPath
  sysctl_file=$(param sysctlPath); require_path "$sysctl_file" sysctlPath
  modprobe_file=$(param modprobePath); require_path "$modprobe_file" modprobePath
  unit_file=$(param unitPath); require_path "$unit_file" unitPath
  unit_link=$(param unitLink); require_path "$unit_link" unitLink
  txn="$run_dir/$table.txn"
  # shellcheck disable=SC2034 # read by the scripts that take the lock (apply, remove)
  lock="$run_dir/$table.lock"
}

# The managed files, as "name path" pairs.
managed_files() {
  printf '%s %s\n' nft "$nft_path" sysctl "$sysctl_file" modprobe "$modprobe_file" unit "$unit_file"
}

guardian_alive() {
  [ -f "$txn/guardian.pid" ] && [ ! -f "$txn/result" ] && kill -0 "$(read_file "$txn/guardian.pid")" 2>/dev/null
}

# The last transaction's outcome when no controller read it (its controller was killed, lost the
# host, or stopped): `hnft-last-transaction` lines, the start (epoch seconds), the guardian's result
# line, then its record. Prints nothing while the guardian still waits, or once a controller read it.
# A controller that reads a verdict marks it ($txn/reported): confirm.sh, apply.sh, and this with mark.
unreported_transaction() { # read|mark
  [ -f "$txn/result" ] && [ ! -f "$txn/reported" ] || return 0
  echo "hnft-last-transaction started $(stat -c %Y "$txn/token" 2>/dev/null || echo 0)"
  echo "hnft-last-transaction result $(cat "$txn/result")"
  if [ -f "$txn/record" ]; then sed 's/^/hnft-last-transaction record /' "$txn/record"; fi
  if [ "$1" = mark ]; then : >"$txn/reported" 2>/dev/null || true; fi
}

# Reporting a failure: after catch_failures, a command that fails unexpectedly (set -e) ends the
# script with its message as detail lines and `failed step=$step host=STATE`, where STATE comes
# host_state leaves in $host_now (a script that changes the host redefines it; it may print
# detail lines). An expected end that has
# printed its own verdict sets reported=yes first; a script that runs to its end exits 0.
step=start
reported=no
host_state() { host_now=$STATUS_UNCHANGED; }
catch_failures() {
  exec 8>&2 2>"$B/stderr"
  trap on_exit EXIT
}
on_exit() {
  rc=$?
  trap - EXIT
  set +e # report as much as can be known
  if [ "$rc" -ne 0 ] && [ "$reported" = no ]; then
    detail "the $step step failed (exit $rc)"
    sed 's/^/hnft-detail   /' "$B/stderr" || true
    host_state
    status "$STATUS_FAILED" "step=$step" "host=$host_now"
    rc=$EXIT_FAILED
  fi
  if [ -s "$B/stderr" ]; then cat "$B/stderr" >&8 || true; fi
  exit "$rc"
}
# Ends the script with a verdict it has printed itself.
end_with() { reported=yes; exit "$1"; }

# Who writes a set's elements, as an awk prelude for programs reading a table file or listing:
# at each line inside a set or map block, `kind` and `name` name it and `owner` says who writes
# its elements: "meter" (the kernel: flags dynamic, a limit's meter), "block" (another tool: a
# timeout, as `flags ...timeout` or, for a set of single addresses with a default timeout, only
# its `timeout` line), else "declared" (this project). Decided by the lines before the elements,
# as nft lists them; `kind` is "" outside any block and until the program resets it at "\t}".
# Elements written elsewhere are not what this project declared: the listing it records and
# compares leaves them out, and an apply or rollback carries a block set's over.
# shellcheck disable=SC2016 # awk's own $1 and $2, not the shell's
SET_OWNER_AWK='
  /^\t(set|map) [^ ]+ \{$/ { kind = $1; name = $2; dyn = 0; tmo = 0 }
  kind == "set" && /^\t\tflags / { if ($0 ~ /dynamic/) dyn = 1; else if ($0 ~ /timeout/) tmo = 1 }
  kind == "set" && /^\t\ttimeout / { tmo = 1 }
  { owner = (kind == "") ? "" : (dyn ? "meter" : (tmo ? "block" : "declared")) }'

# FILE as `nft -s list table` prints it (or as rendered), without the elements written elsewhere.
strip_owned_elements() { # file
  awk "$SET_OWNER_AWK"'
    owner != "" && owner != "declared" && /^\t\telements = \{/ { skipping = 1 }
    skipping { if ($0 ~ /\}$/) skipping = 0; next }
    /^\t}$/ { kind = "" }
    { print }' "$1"
}

# The host's tables as `nft list tables` prints them ("table FAMILY NAME"), without reading any
# set's elements: nft 1.0.6's `list tables` (and `list table`) reads them all, seconds for a block
# set of 100,000 (the kernel walks the set again for every part of the dump); `nft -t list
# ruleset` leaves named sets' elements out.
list_tables() {
  nft -t list ruleset 2>/dev/null | sed -n 's/^\(table [^ ]* [^ ]*\) {$/\1/p'
}

table_exists() { list_tables | grep -qxF "table inet $table"; }

# Our table in a listing of the whole ruleset (the other tables left out); nothing when it is absent.
table_of_ruleset() { # file
  awk -v head="table inet $table {" '$0 == head { on = 1 } on { print } on && $0 == "}" { exit }' "$1"
}

# Each set and map of a listing as "owner kind name" (owner: declared, meter or block, as
# SET_OWNER_AWK decides), or, given an owner, only that owner's, as "kind name".
set_owners() { # file [owner]
  awk -v only="${2:-}" "$SET_OWNER_AWK"'
    kind != "" && /^\t}$/ {
      if (only == "") print owner, kind, name; else if (owner == only) print kind, name
      kind = ""
    }' "$1"
}

# The sets and maps of a listing whose elements are declared (neither a meter's nor a block set's).
declared_sets() { set_owners "$1" declared; }

# Our table as `nft -s list table` lists it, without the elements of the sets owned elsewhere
# (what strip_owned_elements leaves), on stdout; status 1 when the table is absent. Those elements
# are never read: a listing of the table reads every set's elements, and a block set of 100,000
# costs seconds, while `nft -t list ruleset` leaves named sets' elements out. Each set whose
# elements are declared is listed on its own (`nft list set` reads only that set's), unless every
# set's are: then the table is listed whole, in one nft run instead of one per set (the same text,
# byte for byte: nft-listing.test.ts).
list_declared() {
  if ! nft -t -s list ruleset >"$B/declared.ruleset" 2>/dev/null; then
    nft -s list table inet "$table" >"$B/declared.full" 2>/dev/null || return 1
    strip_owned_elements "$B/declared.full"
    return 0
  fi
  table_of_ruleset "$B/declared.ruleset" >"$B/declared.terse" || return 1
  [ -s "$B/declared.terse" ] || return 1
  set_owners "$B/declared.terse" >"$B/declared.owners" || return 1
  : >"$B/declared.names"
  elsewhere=no
  while read -r owner kind name; do
    if [ "$owner" = declared ]; then echo "$kind $name" >>"$B/declared.names"; else elsewhere=yes; fi
  done <"$B/declared.owners"
  if [ ! -s "$B/declared.names" ]; then cat "$B/declared.terse"; return 0; fi
  if [ "$elsewhere" = no ]; then nft -s list table inet "$table" 2>/dev/null; return; fi
  : >"$B/declared.sets"
  while read -r kind name; do
    nft -s list "$kind" inet "$table" "$name" >>"$B/declared.sets" 2>/dev/null || return 1
  done <"$B/declared.names"
  splice_sets "$B/declared.sets" "$B/declared.terse"
}

# TERSE (a listing without named sets' elements) with each set or map block that SETS (`nft list
# set` listings, one after another) holds in place of its terse one.
splice_sets() { # sets terse
  # Lines kept in an array, not a string that grows: a deny list is 100,000 prefixes.
  awk -v sets="$1" '
    FILENAME == sets {
      if (/^\t(set|map) [^ ]+ \{$/) { key = $1 " " $2; first[key] = n + 1 }
      if (key != "") { line[++n] = $0; if ($0 == "\t}") { last[key] = n; key = "" } }
      next
    }
    /^\t(set|map) [^ ]+ \{$/ && (($1 " " $2) in last) {
      key = $1 " " $2
      for (i = first[key]; i <= last[key]; i++) print line[i]
      skip = 1
      next
    }
    skip { if ($0 == "\t}") skip = 0; next }
    { print }' "$1" "$2"
}

# Each set or map of NAMES ("kind name" lines) as `nft -s -j list` prints it as DIR/N.json (N: its
# line), its handle left out: the one thing two equal sets of two tables list differently (the
# first "handle" of that one-line document is the set's; its elements come after it).
list_sets_json() { # names dir [whole: handles kept, nothing compares them]
  mkdir -p "$2"
  n=0
  while read -r kind name; do
    n=$((n + 1))
    if [ "${3:-}" = whole ]; then
      nft -s -j list "$kind" inet "$table" "$name" >"$2/$n.json" 2>/dev/null || true
    else
      nft -s -j list "$kind" inet "$table" "$name" 2>/dev/null | sed 's/"handle": [0-9]*, //' >"$2/$n.json" || true
    fi
  done <"$1"
}

# Observe's candidate side, in a throwaway network namespace (unshare -n) that dies with it, while
# the live side lists its declared sets ($B/live.names, $B/live.sets) and then writes `listed` on
# stdin. Loads the candidate and lists it without named sets' elements ($B/desired.json,
# $B/desired.terse), its declared sets as JSON ($B/desired.sets); each that the live side listed
# byte for byte the same (both sides by this nft, in one form) is named in $B/same.names, then it
# says `compared` on stdout, and each other is listed in full ($B/desired.sets.text) while the
# namespace lives. Nothing when it does not load.
candidate_listings() {
  nft -f "$B/files/nft" </dev/null || return 0
  nft -t -s -j list ruleset >"$B/desired.json"
  nft -t -s list ruleset >"$B/desired.ruleset"
  table_of_ruleset "$B/desired.ruleset" >"$B/desired.terse"
  declared_sets "$B/desired.terse" >"$B/desired.names"
  list_sets_json "$B/desired.names" "$B/desired.sets"
  : >"$B/same.names"
  : >"$B/desired.sets.text"
  # Without `listed` (the live side failed) the live listings may be short: nothing is the same.
  live_done=
  read -r live_done || true
  : >"$B/desired.differ"
  n=0
  while read -r kind name; do
    n=$((n + 1))
    at=$(awk -v k="$kind $name" '$0 == k { print NR; exit }' "$B/live.names")
    # an empty listing (nft failed) is never the same as anything
    if [ "$live_done" = listed ] && [ -n "$at" ] && [ -s "$B/desired.sets/$n.json" ] &&
      cmp -s "$B/live.sets/$at.json" "$B/desired.sets/$n.json"; then
      echo "$kind $name" >>"$B/same.names"
    else
      echo "$kind $name" >>"$B/desired.differ"
    fi
  done <"$B/desired.names"
  echo compared
  while read -r kind name; do
    nft -s list "$kind" inet "$table" "$name" >>"$B/desired.sets.text" 2>/dev/null || true
  done <"$B/desired.differ"
}

# The block sets of a table file or listing, by name.
owned_set_names() { # file
  awk "$SET_OWNER_AWK"'
    kind != "" && /^\t}$/ { if (owner == "block") print name; kind = "" }' "$1"
}

# Set NAME's declaration in a table file or listing: its lines, elements left out.
set_declaration() { # file name
  awk -v s="$2" '
    $0 == "\tset " s " {" { on = 1 }
    on && /^\t\telements = / { skipping = 1 }
    skipping { if ($0 ~ /\}$/) skipping = 0; next }
    on { print }
    on && $0 == "\t}" { exit }' "$1"
}

# Appends to OUT an `add element` command with the live elements of block set NAME (each with its
# remaining time), when the live set has the type FILE declares; else a warning on stdout.
carry_set_elements() { # name file out
  nft list set inet "$table" "$1" >"$3.set" 2>/dev/null || { rm -f "$3.set"; return 0; }
  set_declaration "$2" "$1" >"$3.decl"
  want=$(awk '$1 == "type" { print $2; exit }' "$3.decl")
  have=$(awk '$1 == "type" { print $2; exit }' "$3.set")
  if [ "$want" != "$have" ]; then
    echo "hnft-warning block set $1 was $have and is now $want: its elements are not kept"
    rm -f "$3.set" "$3.decl"
    return 0
  fi
  # prefixes and ranges do not go into a set of single addresses (the whole transaction would fail)
  if grep -q '^[[:space:]]*flags .*interval' "$3.set" && ! grep -q '^[[:space:]]*flags .*interval' "$3.decl"; then
    echo "hnft-warning block set $1 held prefixes and now holds single addresses: its elements are not kept"
    rm -f "$3.set" "$3.decl"
    return 0
  fi
  # Streamed line by line (a block list is 100,000 elements: no string grows with it).
  awk -v t="$table" -v s="$1" '
    /elements = \{/ { sub(/.*elements = \{/, ""); on = 1; printf "add element inet %s %s {\n", t, s }
    on {
      if ($0 ~ /\}[ \t]*$/) { sub(/\}[ \t]*$/, ""); on = 0; print; print "}"; next }
      print
    }' "$3.set" >>"$3"
  rm -f "$3.set" "$3.decl"
}

# FILE followed by `add element` lines holding the live elements of its block sets (flags
# interval,timeout or flags timeout), in the same nft -f transaction: the replaced table has them from its first
# moment, each with its remaining time. A live set of another type is left out, with a warning.
# Reads and writes every element again (seconds for 100,000): prepare_load avoids it when it can.
carry_owned_elements() { # file out
  cp "$1" "$2"
  owned_set_names "$1" >"$2.names"
  while read -r owned_set; do
    carry_set_elements "$owned_set" "$1" "$2"
  done <"$2.names"
  rm -f "$2.names"
}

# The live table's objects as the commands that empty it, except the block sets named in KEEP:
# every chain flushed, then the other objects deleted, then the chains. Status 1 when the live
# table has something this cannot delete by name (a flowtable, table flags or a comment): then only
# deleting the whole table gives the exact replacement.
emptying_commands() { # live keep
  awk -v t="$table" -v keepfile="$2" '
    FILENAME == keepfile { keep[$0] = 1; next }
    /^\t[^\t]/ {
      if ($0 == "\t}") next
      if ($0 !~ /^\t(chain|set|map|ct helper|ct timeout|ct expectation|counter|quota|limit|secmark|synproxy) [^ ]+ \{$/) { bad = 1; exit }
      name = $(NF - 1)
      kind = $1; if (kind == "ct") kind = kind " " $2
      if (kind == "chain") chains[++nc] = name
      else if (!(kind == "set" && name in keep)) others[++no] = "delete " kind " inet " t " " name
    }
    END {
      if (bad) exit bad
      for (i = 1; i <= nc; i++) print "flush chain inet " t " " chains[i]
      for (i = 1; i <= no; i++) print others[i]
      for (i = 1; i <= nc; i++) print "delete chain inet " t " " chains[i]
    }' "$2" "$1"
}

# FILE (a table file: `table`, `delete table`, the table; rendered, or a backup listing) as OUT,
# one nft -f transaction that keeps the elements other tools wrote into its block sets. A block set
# that is live with the same declaration stays in place, elements and their timers untouched: the
# transaction empties the live table of everything else and declares the table again, instead of
# deleting it (writes nothing per element: 100,000 elements cost what none do). Otherwise (no
# table, a changed declaration, something only deleting the table removes) carry_owned_elements.
# Creates OUT.in-place when it keeps sets in place.
prepare_load() { # file out
  rm -f "$2.in-place"
  if nft -t -s list ruleset >"$B/load.ruleset" 2>/dev/null; then table_of_ruleset "$B/load.ruleset" >"$B/load.live"; else : >"$B/load.live"; fi
  owned_set_names "$1" >"$B/load.owned"
  if [ ! -s "$B/load.live" ] || [ ! -s "$B/load.owned" ]; then carry_owned_elements "$1" "$2"; return 0; fi
  keep_unchanged "$1" >"$B/load.compared"
  # A declaration may be written otherwise than nft lists it ("90m" for 1h30m): compare it as this
  # nft lists it, the file loaded into a throwaway network namespace.
  # shellcheck disable=SC2016 # expanded by the inner shell, from its own arguments
  if grep -q '^differs ' "$B/load.compared" &&
    unshare -n sh -c 'nft -f "$1" && nft -t -s list ruleset' sh "$1" >"$B/load.canonical.ruleset" 2>/dev/null; then
    table_of_ruleset "$B/load.canonical.ruleset" >"$B/load.canonical"
    keep_unchanged "$B/load.canonical" >"$B/load.compared"
  fi
  sed -n 's/^keep //p' "$B/load.compared" >"$B/load.keep"
  if [ ! -s "$B/load.keep" ] || ! emptying_commands "$B/load.live" "$B/load.keep" >"$B/load.empty"; then
    carry_owned_elements "$1" "$2"
    return 0
  fi
  { echo "table inet $table"; cat "$B/load.empty"; awk -v d="delete table inet $table" '$0 == d && !done { done = 1; next } { print }' "$1"; } >"$2"
  while read -r owned_set; do
    grep -qxF "$owned_set" "$B/load.keep" || carry_set_elements "$owned_set" "$1" "$2"
  done <"$B/load.owned"
  : >"$2.in-place"
}

# Each block set of the file ($B/load.owned) that is live ($B/load.live): "keep NAME" when FILE
# declares it as the live table lists it, word for word, else "differs NAME".
keep_unchanged() { # file
  while read -r owned_set; do
    live_decl=$(set_declaration "$B/load.live" "$owned_set")
    [ -n "$live_decl" ] || continue
    if [ "$(set_declaration "$1" "$owned_set")" = "$live_decl" ]; then echo "keep $owned_set"; else echo "differs $owned_set"; fi
  done <"$B/load.owned"
}

# Loads FILE as the table, keeping the elements of its block sets (prepare_load; OUT is the
# transaction). Should a transaction that keeps sets in place fail, the whole table is replaced
# with the elements carried over, with a warning. nft's message of the last attempt in ERR.
load_keeping_elements() { # file out err
  prepare_load "$1" "$2" || carry_owned_elements "$1" "$2"
  if nft -f "$2" 2>"$3"; then return 0; fi
  [ -f "$2.in-place" ] || return 1
  echo "hnft-warning keeping the block sets in place failed ($(head -n 1 "$3")): the table was replaced with their elements carried over"
  rm -f "$2.in-place"
  carry_owned_elements "$1" "$2"
  nft -f "$2" 2>"$3"
}
