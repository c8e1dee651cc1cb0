# Detached from the SSH session (setsid). Holds the host lock (fd 9). Commits when the controller
# proves access over a new connection; otherwise restores the saved state when time runs out.
txn=$1
B=$txn
. "$txn/lib.sh"
load_common_params
timeout=$(param confirmTimeout); require_number "$timeout" confirmTimeout
token=$(cat "$txn/token")
start=$(date +%s)

rollback() {
  if [ -f "$txn/backup/table.nft" ]; then
    nft -f "$txn/backup/table.nft"
  else
    nft delete table inet "$table" 2>/dev/null
  fi
  managed_files | while read -r name path; do
    if [ -f "$txn/backup/$name.absent" ]; then rm -f "$path"; elif [ -f "$txn/backup/$name" ]; then install_file "$txn/backup/$name" "$path"; fi
  done
  while read -r key value; do
    echo "$value" >"$(sysctl_path "$key")" 2>/dev/null
  done <"$txn/backup/sysctl.live"
  rm -rf "$state_dir"
  if [ -d "$txn/backup/state" ]; then cp -rp "$txn/backup/state" "$state_dir"; fi
  echo "rolled-back" >"$txn/result.tmp" && mv "$txn/result.tmp" "$txn/result"
}

flush_helper_connections() {
  allowed=" $(param allowedHelpers) "
  flushed=0
  command -v conntrack >/dev/null 2>&1 || { echo "no-conntrack-tool"; return; }
  conntrack -L 2>/dev/null | grep ' helper=' | while read -r line; do
    helper=$(echo "$line" | sed -n 's/.* helper=\([^ ]*\).*/\1/p')
    case $allowed in *" $helper "*) continue ;; esac
    proto=$(echo "$line" | awk '{print $1}')
    src=$(echo "$line" | sed -n 's/^[^=]* src=\([^ ]*\) .*/\1/p')
    dst=$(echo "$line" | sed -n 's/^[^=]* src=[^ ]* dst=\([^ ]*\) .*/\1/p')
    sport=$(echo "$line" | sed -n 's/^[^=]* src=[^ ]* dst=[^ ]* sport=\([0-9]*\) .*/\1/p')
    dport=$(echo "$line" | sed -n 's/^[^=]* src=[^ ]* dst=[^ ]* sport=[0-9]* dport=\([0-9]*\) .*/\1/p')
    if [ -n "$sport" ] && [ -n "$dport" ]; then
      conntrack -D -p "$proto" -s "$src" -d "$dst" --sport "$sport" --dport "$dport" >/dev/null 2>&1 && echo flushed
    else
      conntrack -D -p "$proto" -s "$src" -d "$dst" >/dev/null 2>&1 && echo flushed
    fi
  done | wc -l
}

commit() {
  install_file "$txn/new/nft" "$nft_path"
  if [ -f "$txn/new/unit" ]; then
    install_file "$txn/new/unit" "$unit_file"
    mkdir -p "$(dirname "$unit_link")" && ln -sfn "$unit_file" "$unit_link"
  fi
  flushed=$(flush_helper_connections)
  mkdir -p "$state_dir"
  nft -s list table inet "$table" >"$state_dir/applied.listing.tmp" && mv -f "$state_dir/applied.listing.tmp" "$state_dir/applied.listing"
  cp "$txn/params/hash" "$state_dir/applied.hash.tmp" && mv -f "$state_dir/applied.hash.tmp" "$state_dir/applied.hash"
  echo "committed flushed=$flushed" >"$txn/result.tmp" && mv "$txn/result.tmp" "$txn/result"
}

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
rollback
