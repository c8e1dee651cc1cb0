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
