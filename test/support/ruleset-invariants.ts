import type { Artefacts } from "../../src/render";

/**
 * A related accept is allowed only for ICMP errors or for one named kernel helper.
 * Returns the offending rule lines (empty = hardened).
 */
export function blanketRelatedAccepts(nft: string): string[] {
  return nft
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /\bct state\b[^\n]*\brelated\b/.test(l) && /\baccept\b/.test(l))
    .filter((l) => !/\bct helper "[^"]+"/.test(l) && !/\bicmp(v6)? type \{/.test(l));
}

export function inputPolicies(nft: string): string[] {
  const lines = nft.split("\n");
  const out: string[] = [];
  lines.forEach((line, i) => {
    if (/type filter hook input/.test(line)) out.push(line.trim());
    else if (/chain input/.test(line) && lines[i + 1]) out.push(lines[i + 1]!.trim());
  });
  return [...new Set(out)];
}

export function assertHardened(artefacts: Artefacts): void {
  const blanket = blanketRelatedAccepts(artefacts.nft);
  if (blanket.length > 0) throw new Error(`blanket related accept:\n${blanket.join("\n")}`);
  const policies = inputPolicies(artefacts.nft);
  if (policies.length !== 1 || !policies[0]!.includes("policy drop;"))
    throw new Error(`input policy is not drop: ${policies.join(" | ")}`);
}
