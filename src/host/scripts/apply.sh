# shellcheck shell=sh source-path=SCRIPTDIR
# One transaction: lock, check on this kernel, no-op when nothing differs, back up, arm the
# guardian (rollback unless confirmed), apply. Persisting happens only after confirmation.
# A step that fails stops the script; before the guardian is armed the host is unchanged, after
# it the guardian is told to roll back now and its verdict (what the host runs) is reported.
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"
load_common_params
token=$(param token); require_name "$token" token
hash=$(param hash); require_name "$hash" hash
confirm_timeout=$(param confirmTimeout); require_number "$confirm_timeout" confirmTimeout
lock_wait=$(param lockWait); require_number "$lock_wait" lockWait
catch_failures

armed=no
# Before the guardian is armed nothing has changed. After it, the guardian is told to roll back
# now; what the host then runs is its verdict, and its record explains it (details).
host_state() {
  host_now=$STATUS_UNCHANGED
  [ "$armed" = yes ] || return 0
  : >"$txn/abort" || true
  i=0
  while [ ! -f "$txn/result" ] && [ $i -lt 300 ] && kill -0 "$(cat "$txn/guardian.pid")" 2>/dev/null; do
    sleep 0.1
    i=$((i + 1))
  done
  if [ -f "$txn/result" ]; then : >"$txn/reported" 2>/dev/null || true; fi
  if [ -f "$txn/record" ]; then sed 's/^/hnft-detail guardian: /' "$txn/record"; fi
  # No verdict yet: the guardian is still armed and rolls back by itself when its time is up.
  host_now=$STATUS_ARMED
  if [ -f "$txn/result" ]; then host_now=$(cut -d ' ' -f 1 "$txn/result"); fi
}

install_file_if_new() { # name dest
  if [ -f "$txn/new/$1" ]; then install_file "$txn/new/$1" "$2"; fi
}

set_live_sysctls() {
  [ -f "$B/params/sysctl" ] || return 0
  while read -r key value; do
    p=$(sysctl_path "$key")
    if [ -e "$p" ]; then
      echo "$value" >"$p" 2>/dev/null || echo "hnft-warning sysctl $key could not be set live (read-only here)"
    fi
  done <"$B/params/sysctl"
}

# The host already runs what this apply would write: the same policy (hash) and table (listing as
# last committed), the same files and enablement link, the same live sysctls.
already_applied() {
  [ "$(cat "$state_dir/applied.hash" 2>/dev/null || true)" = "$hash" ] &&
    [ -f "$B/live.declared" ] && cmp -s "$B/live.declared" "$state_dir/applied.listing" &&
    managed_files_match && unit_link_matches && live_sysctls_match
}

managed_files_match() {
  differing=$(managed_files | while read -r name path; do
    if [ -f "$B/files/$name" ] && ! cmp -s "$B/files/$name" "$path"; then echo "$name"; fi
  done)
  [ -z "$differing" ]
}

# The enablement link is what makes the unit load the table at boot (`systemctl disable` deletes it).
unit_link_matches() {
  [ ! -f "$B/files/unit" ] || [ "$(readlink "$unit_link" 2>/dev/null || true)" = "$unit_file" ]
}

live_sysctls_match() {
  [ -f "$B/params/sysctl" ] || return 0
  while read -r key value; do
    p=$(sysctl_path "$key")
    # Absent, or read-only here (e.g. nf_conntrack_max in a container's network namespace):
    # no apply can change it, so it must not make every apply a change. Applying warns about it.
    [ -w "$p" ] || continue
    [ "$(cat "$p")" = "$value" ] || return 1
  done <"$B/params/sysctl"
}

# The previous table, files, enablement link, live sysctls and recorded state, for the guardian.
back_up_host() {
  if [ -f "$B/live.declared" ]; then
    # Without the elements other tools own: a rollback keeps the live ones (load_keeping_elements).
    { echo "table inet $table"; echo "delete table inet $table"; cat "$B/live.declared"; } >"$txn/backup/table.nft"
  fi
  managed_files | while read -r name path; do
    if [ -f "$path" ]; then cp -p "$path" "$txn/backup/$name"; else : >"$txn/backup/$name.absent"; fi
  done
  if [ -L "$unit_link" ]; then readlink "$unit_link" >"$txn/backup/unit-link"; else : >"$txn/backup/unit-link.absent"; fi
  : >"$txn/backup/sysctl.live" # live values; backup/sysctl is the sysctl.d file
  if [ -f "$B/params/sysctl" ]; then
    while read -r key value; do
      p=$(sysctl_path "$key")
      if [ -e "$p" ]; then echo "$key $(cat "$p")" >>"$txn/backup/sysctl.live"; fi
    done <"$B/params/sysctl"
  fi
  if [ -d "$state_dir" ]; then cp -rp "$state_dir" "$txn/backup/state"; fi
}

step=lock
mkdir -p "$run_dir"
exec 9>>"$lock"
if ! flock -w "$lock_wait" 9; then status "$STATUS_BUSY"; end_with "$EXIT_BUSY"; fi

# What the last apply here ended with, when its controller never read it: this run reports it.
step=report-last
unreported_transaction mark

step=check
if ! nft -c -f "$B/files/nft" 2>"$B/nft.err"; then
  status "$STATUS_REJECTED"
  sed 's/^/nft: /' "$B/nft.err"
  end_with "$EXIT_REJECTED"
fi

step=compare
# Without the elements of block sets and meters (list_declared): neither compared nor backed up.
list_declared >"$B/live.declared" || rm -f "$B/live.declared"
if already_applied; then status "$STATUS_UNCHANGED"; end_with "$EXIT_OK"; fi

step=backup
# The previous run's confirming step may not have read its verdict yet: keep that transaction.
rm -rf "$txn.prev"
if [ -d "$txn" ]; then mv "$txn" "$txn.prev"; fi
mkdir -p "$txn/backup" "$txn/new" "$txn/params"
cp "$B/params/token" "$txn/token"
back_up_host
cp "$B/files/"* "$txn/new/"
cp "$B/params/"* "$txn/params/"
cp "$B/lib.sh" "$B/status.env" "$B/guardian.sh" "$B/conntrack-deletions.awk" "$txn/"

step=arm
# The guardian inherits fd 9, so it holds the host lock until it has committed or rolled back.
# fd 8 (this step's stderr) is closed for it, or the SSH channel would wait for the guardian.
setsid sh "$txn/guardian.sh" "$txn" </dev/null >"$txn/guardian.log" 2>&1 8>&- &
echo $! >"$txn/guardian.pid"
armed=yes

step=load-table
# The block sets' live elements stay, in the same transaction as the new table (docs/apply-and-rollback.md).
if ! load_keeping_elements "$txn/new/nft" "$txn/load.nft" "$B/nft.err"; then
  sed 's/^/nft: /' "$B/nft.err"
  host_state
  status "$STATUS_FAILED" "step=$step" "host=$host_now"
  end_with "$EXIT_FAILED"
fi
step=install-files
install_file_if_new sysctl "$sysctl_file"
install_file_if_new modprobe "$modprobe_file"
step=set-sysctls
set_live_sysctls
status "$STATUS_ARMED"
