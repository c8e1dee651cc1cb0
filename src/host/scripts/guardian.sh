# shellcheck shell=sh source-path=SCRIPTDIR
# Detached from the SSH session (setsid). Holds the host lock (fd 9). Commits when the controller
# proves access over a new connection; otherwise restores the saved state when time runs out.
#
# It never leaves the host on a table that failed the proof: when the backup of the previous
# table cannot be loaded it loads the last committed table file, and when that fails too it
# deletes this project's table. $txn/result records what the host runs afterwards (one status
# word from status.env, then key=value fields); $txn/record says why, line by line.
txn=$1
B=$txn
# shellcheck source=lib.sh
. "$txn/lib.sh"
load_common_params
timeout=$(param confirmTimeout); require_number "$timeout" confirmTimeout
token=$(cat "$txn/token")
start=$(date +%s)

# A line of the record (also in guardian.log). Never fails: a full disk must not stop a rollback.
note() { printf '%s\n' "$*" >>"$txn/record" 2>/dev/null || true; printf '%s\n' "$*" >&2 || true; }

finish() { # the result line
  if printf '%s\n' "$*" >"$txn/result.tmp" && mv -f "$txn/result.tmp" "$txn/result"; then return 0; fi
  note "could not write the result ($*)"
  printf '%s\n' "$*" >"$txn/result" 2>/dev/null || true
}

# Puts the previous table back, or the best thing short of it; prints what the host now runs.
restore_table() {
  if [ ! -f "$txn/backup/table.nft" ]; then
    # There was no table of ours before this apply: deleting it is the exact restore.
    if err=$(nft delete table inet "$table" 2>&1) || ! table_exists; then echo "$STATUS_ROLLED_BACK"; return 0; fi
    note "deleting table inet $table failed: $err"
    echo "$STATUS_ROLLBACK_FAILED"
    return 0
  fi
  # What other tools wrote into block sets since the apply stays (docs/apply-and-rollback.md).
  if load_keeping_elements "$txn/backup/table.nft" "$txn/backup/table.load" "$txn/backup/table.err" >>"$txn/record" 2>&1; then echo "$STATUS_ROLLED_BACK"; return 0; fi
  err=$(cat "$txn/backup/table.err" 2>/dev/null || true)
  note "loading the backup of the previous table ($txn/backup/table.nft) failed: $err"
  if [ -f "$txn/backup/nft" ]; then
    if err=$(nft -f "$txn/backup/nft" 2>&1); then
      note "loaded the last committed table file instead ($nft_path as it was before this apply)"
      echo "$STATUS_ROLLED_BACK_PERSISTED"
      return 0
    fi
    note "loading the last committed table file ($nft_path as it was before this apply) failed: $err"
  else
    note "there is no committed table file to fall back on ($nft_path did not exist before this apply)"
  fi
  if err=$(nft delete table inet "$table" 2>&1) || ! table_exists; then
    note "deleted table inet $table: the host is only as closed as its other tables make it"
    echo "$STATUS_TABLE_REMOVED"
    return 0
  fi
  note "deleting table inet $table failed: $err"
  echo "$STATUS_ROLLBACK_FAILED"
}

# Puts back each managed file and the enablement link; prints one line per path it could not.
restore_files() {
  managed_files | while read -r name path; do
    if [ -f "$txn/backup/$name.absent" ]; then
      if [ -e "$path" ] && ! err=$(rm -f "$path" 2>&1); then note "removing $path failed: $err"; echo "$path"; fi
    elif [ -f "$txn/backup/$name" ] && ! cmp -s "$txn/backup/$name" "$path"; then
      if ! err=$(install_file "$txn/backup/$name" "$path" 2>&1); then note "restoring $path failed: $err"; echo "$path"; fi
    fi
  done
  if [ -f "$txn/backup/unit-link.absent" ]; then
    if [ -L "$unit_link" ] && ! err=$(rm -f "$unit_link" 2>&1); then note "removing $unit_link failed: $err"; echo "$unit_link"; fi
  elif [ -f "$txn/backup/unit-link" ] && [ "$(readlink "$unit_link" 2>/dev/null || true)" != "$(cat "$txn/backup/unit-link")" ]; then
    if ! err=$(ln -sfn "$(cat "$txn/backup/unit-link")" "$unit_link" 2>&1); then note "restoring $unit_link failed: $err"; echo "$unit_link"; fi
  fi
  while read -r key value; do
    echo "$value" >"$(sysctl_path "$key")" 2>/dev/null || true
  done <"$txn/backup/sysctl.live"
  if ! err=$({ mkdir -p "$state_dir" && rm -rf "${state_dir:?}/"* && if [ -d "$txn/backup/state" ]; then cp -rp "$txn/backup/state/." "$state_dir/"; fi; } 2>&1); then
    note "restoring the recorded state in $state_dir failed: $err"
    echo "$state_dir"
  fi
}

rollback() { # extra result fields (cause=..., step=...)
  set +e # every restore step is tried; each failure is in the record
  outcome=$(restore_table)
  not_restored=$(restore_files)
  if [ -n "$not_restored" ]; then set -- "$@" files=not-restored; fi
  finish "$outcome" "$@"
}

# Connections that carry a helper the new table no longer allows are deleted, and their
# expectations with them: one `conntrack -L`, one awk, one batch. Prints how many went, or
# no-conntrack-tool.
flush_helper_connections() {
  command -v conntrack >/dev/null 2>&1 || { echo "no-conntrack-tool"; return 0; }
  conntrack -L 2>/dev/null | awk -v allowed="$(param allowedHelpers)" -f "$txn/conntrack-deletions.awk" | delete_connections | wc -l
}

# Reads `conntrack -D` argument lines on stdin; prints one line per connection deleted.
delete_connections() {
  batch=$(cat)
  [ -n "$batch" ] || return 0
  if printf '%s\n' "$batch" | conntrack -R - 2>/dev/null; then return 0; fi
  # No batch mode (-R, conntrack >= 1.4.7), or a line it refused, which ends the whole batch: one
  # process per connection, so every other one still goes (those already deleted match nothing).
  printf '%s\n' "$batch" | while read -r args; do
    # shellcheck disable=SC2086 # split on purpose: the words are the ones conntrack printed
    conntrack $args 2>/dev/null || true
  done
}

# The recorded state is written beside and renamed; the listing is read back to catch a write
# that came out short (nft does not report every failed write).
# Block sets' and meters' elements are neither recorded nor read (list_declared).
record_state() {
  mkdir -p "$state_dir" &&
    list_declared >"$state_dir/applied.listing.tmp" &&
    list_declared | cmp -s - "$state_dir/applied.listing.tmp" &&
    mv -f "$state_dir/applied.listing.tmp" "$state_dir/applied.listing" &&
    cp "$txn/params/hash" "$state_dir/applied.hash.tmp" &&
    mv -f "$state_dir/applied.hash.tmp" "$state_dir/applied.hash"
}

commit_failed() { # step message
  note "commit failed at $1: $2"
  rm -f "$state_dir/applied.listing.tmp" "$state_dir/applied.hash.tmp" 2>/dev/null || true
  rollback "cause=$CAUSE_COMMIT_FAILED" "step=$1"
}

# Persists what was proven. Any step that fails rolls the whole transaction back: the host never
# boots a table other than the one it runs, and `committed` is written only when all of it held.
commit() {
  if ! err=$(install_file "$txn/new/nft" "$nft_path" 2>&1); then commit_failed install-table "writing $nft_path: ${err:-failed}"; return 0; fi
  if [ -f "$txn/new/unit" ]; then
    if ! err=$(install_file "$txn/new/unit" "$unit_file" 2>&1); then commit_failed install-unit "writing $unit_file: ${err:-failed}"; return 0; fi
    if ! err=$({ mkdir -p "$(dirname "$unit_link")" && ln -sfn "$unit_file" "$unit_link"; } 2>&1); then commit_failed enable-unit "linking $unit_link: ${err:-failed}"; return 0; fi
  fi
  if ! err=$(record_state 2>&1); then commit_failed record-state "writing $state_dir: ${err:-the listing could not be written whole}"; return 0; fi
  flushed=$(flush_helper_connections) || flushed=0
  finish "$STATUS_COMMITTED" "flushed=$flushed"
}

# Should this script itself fail unexpectedly before a verdict, it still rolls back.
on_guardian_exit() {
  rc=$?
  trap - EXIT
  if [ ! -f "$txn/result" ]; then
    note "the guardian failed unexpectedly (exit $rc); rolling back"
    rollback "cause=$CAUSE_GUARDIAN_FAILED"
  fi
}
trap on_guardian_exit EXIT

while :; do
  if [ -f "$txn/confirm.$token" ]; then commit; exit 0; fi
  if [ -f "$txn/abort" ]; then break; fi
  now=$(date +%s)
  # date +%s has whole seconds: -gt waits at least the full timeout (at most one second more)
  [ $((now - start)) -gt "$timeout" ] && break
  sleep 0.2
done
# A confirmation that landed between the last look and the deadline still counts.
if [ ! -f "$txn/abort" ] && [ -f "$txn/confirm.$token" ]; then commit; exit 0; fi
if [ -f "$txn/abort" ]; then rollback "cause=$CAUSE_APPLY_FAILED"; else rollback; fi
