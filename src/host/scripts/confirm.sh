# Runs over a NEW connection: reaching this line proves the new ruleset lets the operator in.
B=$1
. "$B/lib.sh"
load_common_params
token=$(param token); require_name "$token" token
mode=$(param mode)
wait_seconds=$(param wait); require_number "$wait_seconds" wait
if [ "$(cat "$txn/token" 2>/dev/null)" != "$token" ]; then echo "hnft-status no-transaction"; exit 4; fi
[ "$mode" = confirm ] && : >"$txn/confirm"
i=0
while [ ! -f "$txn/result" ] && [ $i -lt $((wait_seconds * 5)) ]; do sleep 0.2; i=$((i + 1)); done
if [ -f "$txn/result" ]; then echo "hnft-status $(cat "$txn/result")"; else echo "hnft-status pending"; fi
