/**
 * Shared steps of the proofs where a real ban daemon feeds the policy's block sets
 * (test/services/proof-fail2ban.test.ts, test/services/proof-crowdsec.test.ts): whether a lab host
 * reaches the server's sshd, the set's listing, waiting for the daemon, observe's in-sync report,
 * and the checks that a ban drops the attacker and that a policy change applied through the host
 * API keeps it.
 */
import { expect } from "vitest";
import { formatDrift, observePolicy } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS } from "./host-fixtures";
import { applyToServer, PROOF_TABLE, type ProofLab, type ProofPolicy } from "./proof";

export type BanFamily = "ipv4" | "ipv6";

/** One ban: the block set the daemon writes and the address family of the attacker's address in it. */
export interface Ban {
  set: string;
  family: BanFamily;
}

const BANNER = (target: string) =>
  `timeout 2 bash -c 'exec 3<>/dev/tcp/${target}/22; head -c 7 <&3' 2>/dev/null || true`;

/** The first 7 bytes of the server's sshd banner as `from` sees them ("SSH-2.0"), or "" when dropped. */
export async function reachSshd(p: ProofLab, from: "client" | "attacker", family: BanFamily = "ipv4"): Promise<string> {
  return (await p[from].sh(BANNER(family === "ipv4" ? p.server.ipv4 : p.server.ipv6), { allowFail: true })).stdout;
}

/** `nft list set` of one of the proof table's sets on the server. */
export async function setListing(p: ProofLab, name: string): Promise<string> {
  return (await p.server.sh(`nft list set inet ${PROOF_TABLE} ${name}`)).stdout;
}

/** observe reports the proof table in sync with `pol`. */
export async function expectInSync(p: ProofLab, pol: ProofPolicy): Promise<void> {
  const report = await observePolicy(connectionFor(p.server), assertPolicy({ ...pol, table: PROOF_TABLE }), {
    paths: HOST_PATHS,
  });
  expect(formatDrift(report)).toEqual([`root@${p.server.ipv4}:22: table inet ${PROOF_TABLE} in sync`]);
}

/**
 * Polls `check` every 300 ms until it holds; after `ms` throws "timed out waiting for <what>",
 * followed by a line break and `logs()` when given.
 */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  ms = 20_000,
  logs?: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(logs ? `timed out waiting for ${what}\n${await logs()}` : `timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The attacker's packets are dropped on each family while the client reaches sshd; observe in sync with `pol`. */
export async function expectBanned(p: ProofLab, families: readonly BanFamily[], pol: ProofPolicy): Promise<void> {
  for (const family of families) expect(await reachSshd(p, "attacker", family)).toBe("");
  for (const family of families) expect(await reachSshd(p, "client", family)).toBe("SSH-2.0");
  await expectInSync(p, pol);
}

/**
 * A policy change applied through the host API (it must change the host) keeps every ban: each
 * set still lists the attacker, its packets are still dropped, observe in sync with `changed`.
 */
export async function expectApplyKeepsBans(p: ProofLab, changed: ProofPolicy, bans: readonly Ban[]): Promise<void> {
  expect((await applyToServer(p, changed)).changed).toBe(true);
  for (const ban of bans) expect(await setListing(p, ban.set)).toContain(p.attacker[ban.family]);
  for (const ban of bans) expect(await reachSshd(p, "attacker", ban.family)).toBe("");
  await expectInSync(p, changed);
}

/** The input chain's `ip saddr @<set>` rule counted at least one dropped packet. */
export async function expectSetCounted(p: ProofLab, set: string): Promise<void> {
  const counted = new RegExp(`ip saddr @${set} counter packets (\\d+)`).exec(
    (await p.server.sh(`nft list chain inet ${PROOF_TABLE} input`)).stdout,
  )?.[1];
  expect(Number(counted)).toBeGreaterThanOrEqual(1);
}
