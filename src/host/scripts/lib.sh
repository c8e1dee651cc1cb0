# Shared by every host script. Parameters arrive as files in the bundle ($B/params/NAME),
# never on the command line, and are checked again here before use.
set -u
umask 022

param() { cat "$B/params/$1" 2>/dev/null || true; }

require_name() {
  case $1 in
    '' | *[!A-Za-z0-9_-]*) echo "hnft-status bad-parameter $2"; exit 90 ;;
  esac
}

require_path() {
  case $1 in
    /*) ;;
    *) echo "hnft-status bad-parameter $2"; exit 90 ;;
  esac
  case $1 in
    *[!A-Za-z0-9_./-]* | *..*) echo "hnft-status bad-parameter $2"; exit 90 ;;
  esac
}

require_number() {
  case $1 in
    '' | *[!0-9]*) echo "hnft-status bad-parameter $2"; exit 90 ;;
  esac
}

# Writes a file atomically: a temp file beside it, then rename.
install_file() { # src dest
  mkdir -p "$(dirname "$2")" && cp "$1" "$2.hnft-tmp" && chmod 0644 "$2.hnft-tmp" && mv -f "$2.hnft-tmp" "$2"
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
  lock="$run_dir/$table.lock"
}

# The managed files, as "name path" pairs.
managed_files() {
  printf '%s %s\n' nft "$nft_path" sysctl "$sysctl_file" modprobe "$modprobe_file" unit "$unit_file"
}

guardian_alive() {
  [ -f "$txn/guardian.pid" ] && [ ! -f "$txn/result" ] && kill -0 "$(cat "$txn/guardian.pid")" 2>/dev/null
}
