# Runs over a NEW connection: reaching this line proves the new ruleset lets the operator in.
# Reports the verdict of THIS run's transaction (found by its token), never another run's: once
# its guardian has finished, the next apply may already have moved it to $txn.prev.
B=$1
. "$B/lib.sh"
load_common_params
token=$(param token); require_name "$token" token
mode=$(param mode)
wait_seconds=$(param wait); require_number "$wait_seconds" wait
own_txn() {
  for d in "$txn" "$txn.prev"; do
    if [ "$(cat "$d/token" 2>/dev/null)" = "$token" ]; then echo "$d"; return 0; fi
  done
  return 1
}
d=$(own_txn) || { echo "hnft-status no-transaction"; exit 4; }
# Named after the token: should the transaction be replaced meanwhile, the proof cannot confirm another run's.
[ "$mode" = confirm ] && : >"$d/confirm.$token"
i=0
while [ $i -lt $((wait_seconds * 5)) ]; do
  d=$(own_txn) || { echo "hnft-status gone (the transaction was removed, or replaced before its verdict was read)"; exit 0; }
  if [ -f "$d/result" ]; then echo "hnft-status $(cat "$d/result")"; exit 0; fi
  if ! kill -0 "$(cat "$d/guardian.pid" 2>/dev/null)" 2>/dev/null; then
    # The guardian may have written its verdict just before it exited.
    if [ -f "$d/result" ]; then echo "hnft-status $(cat "$d/result")"; else echo "hnft-status aborted (the guardian ended without a verdict: removed or killed)"; fi
    exit 0
  fi
  sleep 0.2
  i=$((i + 1))
done
echo "hnft-status pending"
