# Facts about the host: reported, never changed.
B=$1
. "$B/lib.sh"
echo "kernel=$(uname -r)"
echo "nft=$(nft --version 2>/dev/null | head -n 1)"
echo "nftPath=$(command -v nft || true)"
echo "uid=$(id -u)"
[ -e /proc/sys/net/netfilter/nf_conntrack_helper ] && echo "helperSysctl=yes" || echo "helperSysctl=no"
if [ -e /sys/module/nf_conntrack/parameters/nf_conntrack_helper ]; then
  echo "helperParam=yes"
elif [ ! -d /sys/module/nf_conntrack ] && command -v modinfo >/dev/null 2>&1 && modinfo -p nf_conntrack 2>/dev/null | grep -q '^nf_conntrack_helper:'; then
  echo "helperParam=yes"
else
  echo "helperParam=no"
fi
if [ -e /sys/module/nf_conntrack/initstate ]; then echo "netfilter=modular"
elif [ -d /sys/module/nf_conntrack ] || [ -d /proc/sys/net/netfilter ]; then
  if [ -e /proc/modules ] && [ -d "/lib/modules/$(uname -r)" ] && find "/lib/modules/$(uname -r)" -name 'nf_conntrack.ko*' 2>/dev/null | grep -q .; then echo "netfilter=modular"; else echo "netfilter=builtin"; fi
elif [ -d "/lib/modules/$(uname -r)" ]; then echo "netfilter=modular"
else echo "netfilter=unknown"; fi
if [ -r /proc/modules ]; then
  echo "helperModules=$(awk '$1 ~ /^nf_(conntrack|nat)_/ && $1 !~ /^nf_conntrack_(netlink|ipv4|ipv6)$/ {print $1}' /proc/modules | sort | tr '\n' ' ')"
else
  echo "helperModules="
fi
if [ -d /run/systemd/system ]; then echo "init=systemd"
elif [ -d /etc/systemd/system ]; then echo "init=systemd-offline"
elif command -v openrc >/dev/null 2>&1; then echo "init=openrc"
else echo "init=none"; fi
tools=""
for t in flock setsid conntrack unshare sysctl timeout tar base64 cmp; do
  command -v "$t" >/dev/null 2>&1 && tools="$tools $t"
done
echo "tools=$tools"
section tables
nft list tables 2>/dev/null || true
section end
