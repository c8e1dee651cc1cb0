# shellcheck shell=sh source-path=SCRIPTDIR
# Everything the audit judges, gathered in one round trip. Reads only: no file, sysctl, module or
# rule is written (the bundle's own temp dir is the bootstrap's, removed by it).
B=$1
# shellcheck source=lib.sh
. "$B/lib.sh"

# A value read from /proc or /sys, or "absent" (the knob does not exist on this kernel).
knob() { if [ -r "$1" ]; then cat "$1" 2>/dev/null || echo absent; else echo absent; fi; }

# "enabled active" style words for a unit, or "none" without systemd.
unit_state() {
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    printf '%s %s' "$(systemctl is-enabled "$1" 2>/dev/null || true)" "$(systemctl is-active "$1" 2>/dev/null || true)"
  else
    echo none
  fi
}

# Where the helper knobs are set at boot: "file:line:text" for each setting.
helper_settings() {
  for f in /etc/sysctl.conf /etc/sysctl.d/*.conf /usr/lib/sysctl.d/*.conf /run/sysctl.d/*.conf /etc/modprobe.d/*.conf /lib/modprobe.d/*.conf; do
    [ -f "$f" ] || continue
    grep -n 'nf_conntrack_helper' "$f" 2>/dev/null | sed "s|^|$f:|" || true
  done
}

# Boot rulesets of nftables.service and friends: every `flush ruleset` with file and line.
boot_flushes() {
  for f in /etc/nftables.conf /etc/sysconfig/nftables.conf /etc/nftables/*.nft /etc/nftables.d/*.nft; do
    [ -f "$f" ] || continue
    grep -n '^[[:space:]]*flush[[:space:]]\{1,\}ruleset' "$f" 2>/dev/null | sed "s|^|$f:|" || true
  done
}

# Tables of this project, by their persisted file (the same mark probe reads).
managed_tables() {
  for f in /etc/hardened-nftables/*.nft; do
    [ -f "$f" ] || continue
    t=${f##*/}; t=${t%.nft}
    case $t in '' | *[!A-Za-z0-9_-]*) continue ;; esac
    echo "$t"
  done
}

# The data-port settings of FTP servers whose configuration is readable.
ftp_config() {
  for f in /etc/vsftpd.conf /etc/vsftpd/vsftpd.conf; do
    [ -r "$f" ] || continue
    grep -n '^[[:space:]]*\(listen_port\|pasv_min_port\|pasv_max_port\|pasv_enable\)=' "$f" 2>/dev/null | sed "s|^|$f:|" || true
  done
}

echo "kernel=$(uname -r)"
echo "uid=$(id -u)"
echo "helperSysctl=$(knob /proc/sys/net/netfilter/nf_conntrack_helper)"
echo "helperParam=$(knob /sys/module/nf_conntrack/parameters/nf_conntrack_helper)"
if [ -r /proc/modules ]; then
  echo "helperModules=$(awk '$1 ~ /^nf_(conntrack|nat)_/ && $1 !~ /^nf_conntrack_(netlink|ipv4|ipv6|bridge)$/ {print $1}' /proc/modules | sort | tr '\n' ' ')"
fi
echo "firewalld=$(unit_state firewalld.service)"
echo "ufw=$(unit_state ufw.service)"
echo "nftablesService=$(unit_state nftables.service)"
if command -v ufw >/dev/null 2>&1 && [ -r /etc/ufw/ufw.conf ]; then echo "ufwConf=$(sed -n 's/^ENABLED=//p' /etc/ufw/ufw.conf | head -n 1)"; fi
echo "docker=$(unit_state docker.service)"
echo "nft=$(command -v nft || true)"
echo "conntrackTool=$(command -v conntrack || true)"
section ruleset
nft list ruleset 2>/dev/null || true
# Legacy rules live beside nft's and are invisible to it.
for save in iptables-legacy-save ip6tables-legacy-save; do
  if command -v "$save" >/dev/null 2>&1; then
    section "$save"
    "$save" 2>/dev/null || true
  fi
done
section conntrack
if command -v conntrack >/dev/null 2>&1; then conntrack -L 2>/dev/null | grep 'helper=' | head -n 200 || true; fi
section listen
if command -v ss >/dev/null 2>&1; then ss -H -l -n -t -u -p 2>/dev/null || true; fi
section settings
helper_settings
section boot
boot_flushes
section managed
managed_tables
section ftp
ftp_config
section end
