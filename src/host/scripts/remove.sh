# shellcheck shell=sh source-path=SCRIPTDIR
# Deletes only what this project owns: its table, its files, its state and any armed guardian.
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"
load_common_params
lock_wait=$(param lockWait); require_number "$lock_wait" lockWait
catch_failures
# A failure part-way leaves some of it in place: the next remove (or apply) finishes the job.
host_state() { host_now=$STATUS_PARTLY_REMOVED; }
step=stop-guardian
if guardian_alive; then
  if kill "$(cat "$txn/guardian.pid")" 2>/dev/null; then echo "removed guardian"; fi
fi
step=lock
mkdir -p "$run_dir"
exec 9>>"$lock"
if ! flock -w "$lock_wait" 9; then status "$STATUS_BUSY"; end_with "$EXIT_BUSY"; fi
step=delete-table
if table_exists; then
  nft delete table inet "$table"
  echo "removed table inet $table"
fi
step=delete-files
managed_files | while read -r _ path; do
  if [ -f "$path" ]; then rm -f "$path"; echo "removed $path"; fi
done
if [ -L "$unit_link" ]; then rm -f "$unit_link"; echo "removed $unit_link"; fi
step=delete-state
rm -rf "$state_dir" "$txn" "$txn.prev"
status "$STATUS_REMOVED"
