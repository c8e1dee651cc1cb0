/** Load an nft script in the host (nft -f - from stdin); throws with nft's message on error. */
import type { PeerHost } from "./core";

export async function nftLoad(host: PeerHost, ruleset: string): Promise<void> {
  const r = await host.sh("nft -f -", { stdin: ruleset, allowFail: true, timeoutMs: 15_000 });
  if (r.code !== 0)
    throw new Error(`nft -f failed on ${host.name} (${r.code}):\n${r.stderr}\n--- ruleset ---\n${ruleset}`);
}

/** Delete table inet <table> if present. */
export async function nftDeleteTable(host: PeerHost, table: string): Promise<void> {
  await host.sh(`nft list table inet ${table} >/dev/null 2>&1 && nft delete table inet ${table}; true`, {
    allowFail: true,
    timeoutMs: 15_000,
  });
}

/**
 * The vulnerable baseline of conntrack.md section 5, as one atomic `nft -f` script for table inet <table>:
 * input policy drop with `ct state established,related accept` (the blanket related accept),
 * tcp/22 open, and the ftp helper object assigned to OUTBOUND tcp dport 21 in an output chain
 * (priority filter). With { blanketRelated: false } the related accept becomes
 * `ct state established accept` (what the project renders) and nothing else changes;
 * { assignHelper: false } drops only the helper assignment (control: no helper, no expectation).
 */
export function baselineVulnerableRuleset(
  table: string,
  opts: { blanketRelated?: boolean; assignHelper?: boolean } = {},
): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,30}$/.test(table)) throw new Error(`bad table name ${table}`);
  const related = (opts.blanketRelated ?? true) ? "ct state established,related accept" : "ct state established accept";
  const assign = (opts.assignHelper ?? true) ? `tcp dport 21 ct helper set "ftp-out"` : "# no helper assignment";
  return `table inet ${table}
delete table inet ${table}
table inet ${table} {
  ct helper ftp-out {
    type "ftp" protocol tcp
    l3proto ip
  }

  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ${related}
    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept
    tcp dport 22 accept
  }

  chain output {
    type filter hook output priority filter; policy accept;
    ${assign}
  }
}
`;
}
