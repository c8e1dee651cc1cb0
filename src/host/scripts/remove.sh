# Deletes only what this project owns: its table, its files, its state and any armed guardian.
B=$1
. "$B/lib.sh"
load_common_params
lock_wait=$(param lockWait); require_number "$lock_wait" lockWait
if guardian_alive; then kill "$(cat "$txn/guardian.pid")" 2>/dev/null && echo "removed guardian"; fi
mkdir -p "$run_dir"
exec 9>>"$lock"
if ! flock -w "$lock_wait" 9; then echo "hnft-status busy"; exit 75; fi
if nft list table inet "$table" >/dev/null 2>&1; then nft delete table inet "$table" && echo "removed table inet $table"; fi
managed_files | while read -r name path; do
  [ -f "$path" ] && rm -f "$path" && echo "removed $path"
done
[ -L "$unit_link" ] && rm -f "$unit_link" && echo "removed $unit_link"
rm -rf "$state_dir" "$txn" "$txn.prev"
echo "hnft-status removed"
