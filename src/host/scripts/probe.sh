# shellcheck shell=sh source-path=SCRIPTDIR
# Facts about the host: reported, never changed.
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"

# The module parameter that turns automatic helper assignment off (gone on kernels >= 6.0).
helper_param() {
  if [ -e /sys/module/nf_conntrack/parameters/nf_conntrack_helper ]; then
    echo yes
  elif [ ! -d /sys/module/nf_conntrack ] && command -v modinfo >/dev/null 2>&1 && modinfo -p nf_conntrack 2>/dev/null | grep -q '^nf_conntrack_helper:'; then
    echo yes
  else
    echo no
  fi
}

# Whether netfilter is built into the kernel or loads as modules (a modprobe.d deny list matters only then).
netfilter_kind() {
  if [ -e /sys/module/nf_conntrack/initstate ]; then echo modular
  elif [ -d /sys/module/nf_conntrack ] || [ -d /proc/sys/net/netfilter ]; then
    if [ -e /proc/modules ] && [ -d "/lib/modules/$kernel" ] && find "/lib/modules/$kernel" -name 'nf_conntrack.ko*' 2>/dev/null | grep -q .; then echo modular; else echo builtin; fi
  elif [ -d "/lib/modules/$kernel" ]; then echo modular
  else echo unknown; fi
}

# Space-separated, in /proc/modules' order (probe.ts sorts them).
loaded_helper_modules() {
  if [ -r /proc/modules ]; then
    awk '$1 ~ /^nf_(conntrack|nat)_/ && $1 !~ /^nf_conntrack_(netlink|ipv4|ipv6)$/ {printf "%s ", $1}' /proc/modules
  fi
}

init_system() {
  if [ -d /run/systemd/system ]; then echo systemd
  elif [ -d /etc/systemd/system ]; then echo systemd-offline
  elif command -v openrc >/dev/null 2>&1; then echo openrc
  else echo none; fi
}

available_tools() {
  for t in flock setsid conntrack unshare sysctl timeout tar base64 cmp; do
    if command -v "$t" >/dev/null 2>&1; then printf ' %s' "$t"; fi
  done
}

# Tables of this project on this host, found by the files every apply writes under /etc (per
# host, unlike the state and run roots, which a caller may move): "<table> <file>" lines.
managed_tables() {
  for f in /etc/hardened-nftables/*.nft /etc/modprobe.d/hardened-nftables-*.conf /etc/sysctl.d/60-hardened-nftables-*.conf /etc/systemd/system/hardened-nftables-*.service; do
    [ -f "$f" ] || continue
    n=${f##*/}
    case $f in
      /etc/hardened-nftables/*) t=${n%.nft} ;;
      /etc/modprobe.d/*) t=${n#hardened-nftables-}; t=${t%.conf} ;;
      /etc/sysctl.d/*) t=${n#60-hardened-nftables-}; t=${t%.conf} ;;
      *) t=${n#hardened-nftables-}; t=${t%.service} ;;
    esac
    case $t in '' | *[!A-Za-z0-9_-]*) continue ;; esac
    echo "$t $f"
  done
}

# Each one's modprobe.d file: the modules it refuses and the ones its scoped exposures need.
managed_modprobe_sections() {
  for f in /etc/modprobe.d/hardened-nftables-*.conf; do
    [ -f "$f" ] || continue
    t=${f##*/hardened-nftables-}; t=${t%.conf}
    case $t in '' | *[!A-Za-z0-9_-]*) continue ;; esac
    section "modprobe $t"
    sed -n -e 's/^install \([A-Za-z0-9_-]*\) \/bin\/false$/deny \1/p' -e 's/^# Allowed for scoped exposures: /need /p' "$f"
  done
}

# And the settings each one's sysctl.d file makes (host-wide as well).
managed_sysctl_sections() {
  for f in /etc/sysctl.d/60-hardened-nftables-*.conf; do
    [ -f "$f" ] || continue
    t=${f##*/60-hardened-nftables-}; t=${t%.conf}
    case $t in '' | *[!A-Za-z0-9_-]*) continue ;; esac
    section "sysctl $t"
    sed -n 's/^\([A-Za-z0-9_.]*\) = \(.*\)$/\1 \2/p' "$f"
  done
}

# The host's interfaces and their addresses ("link <name>", "addr <name> <address>/<length>"):
# reported, and compared with the interfaces and destinations a policy names.
host_interfaces() {
  for d in /sys/class/net/*; do
    [ -e "$d" ] && echo "link ${d##*/}"
  done
  if command -v ip >/dev/null 2>&1; then
    ip -o addr show 2>/dev/null | while read -r _ name _ address _; do echo "addr $name $address"; done
  fi
}

# The legacy iptables tables in use, if any: read only when the kernel already has them (reading
# /proc loads nothing; iptables-legacy-save then lists them without creating any).
legacy_save() {
  if { read -r _ <"/proc/net/$1_names"; } 2>/dev/null && command -v "$2" >/dev/null 2>&1; then
    "$2" 2>/dev/null | grep -E '^[*:]' || true
  fi
}

kernel=$(read_file /proc/sys/kernel/osrelease)
[ -n "$kernel" ] || kernel=$(uname -r)
echo "kernel=$kernel"
nft_version=$(nft --version 2>/dev/null || true)
# its first line only: every line here is a key=value pair
echo "nft=${nft_version%%
*}"
echo "nftPath=$(command -v nft || true)"
echo "uid=$(id -u)"
if [ -e /proc/sys/net/netfilter/nf_conntrack_helper ]; then echo "helperSysctl=yes"; else echo "helperSysctl=no"; fi
echo "helperParam=$(helper_param)"
echo "netfilter=$(netfilter_kind)"
echo "helperModules=$(loaded_helper_modules)"
echo "init=$(init_system)"
echo "tools=$(available_tools)"
section tables
list_tables
# the chains of every table (the runtimes' chains in iptables-nft's tables: DOCKER, LIBVIRT_FWO...)
section chains
nft -j list chains 2>/dev/null || true
section legacy4
legacy_save ip_tables iptables-legacy-save
section legacy6
legacy_save ip6_tables ip6tables-legacy-save
section managed
managed_tables
managed_modprobe_sections
managed_sysctl_sections
section interfaces
host_interfaces
section end
