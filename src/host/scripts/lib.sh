# shellcheck shell=sh source-path=SCRIPTDIR
# Shared by every host script. Parameters arrive as files in the bundle ($B/params/NAME),
# never on the command line, and are checked again here before use. Every script stops at the
# first command that fails unexpectedly (set -e); a failure the script expects is tested for.
set -eu
umask 022
# shellcheck source=status.env
. "$B/status.env"

param() { cat "$B/params/$1" 2>/dev/null || true; }

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

sysctl_path() { echo "/proc/sys/$(echo "$1" | tr . /)"; }

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
  [ -f "$txn/guardian.pid" ] && [ ! -f "$txn/result" ] && kill -0 "$(cat "$txn/guardian.pid")" 2>/dev/null
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
  cat "$B/stderr" >&8 || true
  exit "$rc"
}
# Ends the script with a verdict it has printed itself.
end_with() { reported=yes; exit "$1"; }

# Sets whose elements the kernel (a limit's meter: flags dynamic) or another tool (a block set:
# flags interval,timeout, or flags timeout when it holds single addresses) writes. Their elements are not what this project declared: the listing
# it records and compares leaves them out, and an apply or rollback carries them over.
#
# FILE as `nft -s list table` prints it (or as rendered), without those sets' elements.
strip_owned_elements() { # file
  awk '
    /^\tset [^ ]+ \{$/ { inset = 1; owned = 0 }
    inset && /^\t\tflags / && ($0 ~ /dynamic/ || $0 ~ /timeout/) { owned = 1 }
    inset && /^\t\ttimeout / { owned = 1 }
    inset && owned && /^\t\telements = \{/ { skipping = 1 }
    skipping { if ($0 ~ /\}$/) skipping = 0; next }
    /^\t}$/ { inset = 0 }
    { print }' "$1"
}

# FILE followed by `add element` lines holding the live elements of its block sets (flags
# interval,timeout or flags timeout), in the same nft -f transaction: the replaced table has them from its first
# moment, each with its remaining time. A live set of another type is left out, with a warning.
carry_owned_elements() { # file out
  cp "$1" "$2"
  # nft lists `flags timeout` of a set with a default timeout only as its `timeout` line
  awk '
    /^\tset [^ ]+ \{$/ { name = $2; own = 0; dyn = 0 }
    name != "" && /^\t\tflags / { if ($0 ~ /dynamic/) dyn = 1; else if ($0 ~ /timeout/) own = 1 }
    name != "" && /^\t\ttimeout / { own = 1 }
    name != "" && /^\t}$/ { if (own && !dyn) print name; name = "" }' "$1" >"$2.names"
  while read -r owned_set; do
    nft list set inet "$table" "$owned_set" >"$2.set" 2>/dev/null || continue
    want=$(awk -v s="$owned_set" '$1 == "set" && $2 == s { on = 1 } on && $1 == "type" { print $2; exit }' "$1")
    have=$(awk '$1 == "type" { print $2; exit }' "$2.set")
    if [ "$want" != "$have" ]; then
      echo "hnft-warning block set $owned_set was $have and is now $want: its elements are not kept"
      continue
    fi
    # prefixes and ranges do not go into a set of single addresses (the whole transaction would fail)
    if awk '$1 == "flags" && /interval/ { found = 1 } END { exit !found }' "$2.set" &&
      ! awk -v s="$owned_set" '$1 == "set" && $2 == s { on = 1 } on && $1 == "flags" { print; exit } on && $1 == "}" { exit }' "$1" | grep -q interval; then
      echo "hnft-warning block set $owned_set held prefixes and now holds single addresses: its elements are not kept"
      continue
    fi
    # Streamed line by line (a block list is 100,000 elements: no string grows with it).
    awk -v t="$table" -v s="$owned_set" '
      /elements = \{/ { sub(/.*elements = \{/, ""); on = 1; printf "add element inet %s %s {\n", t, s }
      on {
        if ($0 ~ /\}[ \t]*$/) { sub(/\}[ \t]*$/, ""); on = 0; print; print "}"; next }
        print
      }' "$2.set" >>"$2"
  done <"$2.names"
  rm -f "$2.set" "$2.names"
}
