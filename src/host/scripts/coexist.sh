# shellcheck shell=sh source-path=SCRIPTDIR
# Leaves the helper modules a table needs loadable in other tables' modprobe.d files, each under
# that table's lock: modprobe.d is host-wide, so their deny lists would refuse them. Only deny
# lines are removed; nothing else in those files changes.
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"
run_dir=$(param runDir); require_path "$run_dir" runDir
lock_wait=$(param lockWait); require_number "$lock_wait" lockWait
modules=$(param modules)
tables=$(param tables)
for m in $modules; do require_name "$m" modules; done
for t in $tables; do require_name "$t" tables; done
catch_failures
# Files relaxed before a failure stay relaxed (the "relaxed <table>" lines say which).
host_state() { host_now=$STATUS_PARTLY_RELAXED; }
# Under table $1's lock, removes the deny lines for $modules from its modprobe.d file; prints
# "relaxed <table>" when the file changed.
relax_table() {
  f="/etc/modprobe.d/hardened-nftables-$1.conf"
  step=lock
  exec 8>>"$run_dir/$1.lock"
  if ! flock -w "$lock_wait" 8; then status "$STATUS_BUSY" "$1"; end_with "$EXIT_BUSY"; fi
  step=relax
  if [ -f "$f" ]; then
    cp "$f" "$B/relaxed"
    for m in $modules; do
      grep -v -x -F "install $m /bin/false" "$B/relaxed" >"$B/relaxed.next" || true
      mv -f "$B/relaxed.next" "$B/relaxed"
    done
    if ! cmp -s "$B/relaxed" "$f"; then
      install_file "$B/relaxed" "$f"
      echo "relaxed $1"
    fi
  fi
  exec 8>&-
}

step=lock
mkdir -p "$run_dir"
for t in $tables; do relax_table "$t"; done
status "$STATUS_RELAXED"
