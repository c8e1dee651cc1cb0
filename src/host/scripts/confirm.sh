# shellcheck shell=sh source-path=SCRIPTDIR
# Runs over a NEW connection: reaching this line proves the new ruleset lets the operator in.
# Reports the verdict of THIS run's transaction (found by its token), never another run's: once
# its guardian has finished, the next apply may already have moved it to $txn.prev.
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"
load_common_params
token=$(param token); require_name "$token" token
mode=$(param mode)
wait_seconds=$(param wait); require_number "$wait_seconds" wait
catch_failures
own_txn() {
  for d in "$txn" "$txn.prev"; do
    if [ "$(cat "$d/token" 2>/dev/null || true)" = "$token" ]; then echo "$d"; return 0; fi
  done
  return 1
}
# The guardian's verdict, after its record (what failed, what it did instead) as detail lines.
verdict() {
  : >"$1/reported" 2>/dev/null || true
  if [ -f "$1/record" ]; then sed 's/^/hnft-detail guardian: /' "$1/record"; fi
  status "$(cat "$1/result")"
  end_with "$EXIT_OK"
}
step=find-transaction
d=$(own_txn) || { status "$STATUS_NO_TRANSACTION"; end_with "$EXIT_NO_TRANSACTION"; }
step=prove
# Named after the token: should the transaction be replaced meanwhile, the proof cannot confirm another run's.
if [ "$mode" = confirm ]; then : >"$d/confirm.$token"; fi
step="wait"
i=0
while [ $i -lt $((wait_seconds * 5)) ]; do
  d=$(own_txn) || { status "$STATUS_GONE" "(the transaction was removed, or replaced before its verdict was read)"; end_with "$EXIT_OK"; }
  if [ -f "$d/result" ]; then verdict "$d"; fi
  if ! kill -0 "$(cat "$d/guardian.pid" 2>/dev/null || true)" 2>/dev/null; then
    # The guardian may have written its verdict just before it exited.
    if [ -f "$d/result" ]; then verdict "$d"; fi
    status "$STATUS_ABORTED" "(the guardian ended without a verdict: removed or killed)"
    end_with "$EXIT_OK"
  fi
  sleep 0.2
  i=$((i + 1))
done
status "$STATUS_PENDING"
