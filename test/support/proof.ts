/**
 * Shared pieces of the end-to-end proofs (test/services/proof-*.test.ts, issue #5).
 *
 * Every proof runs on its own 3-host lab (./lab.ts): `server` carries the firewall, `client` is
 * the legitimate peer and `attacker` a host that is not supposed to get anything. The ruleset is
 * always the RENDERED one, APPLIED THROUGH THE HOST API (applyPolicy over SSH from the test
 * process, with the on-host rollback and the proof of access over a new connection), never a
 * hand-written table. Lab hosts share /var and /run, so the host state is kept in the host's own
 * /etc (HOST_PATHS).
 *
 * Negative controls: `negativeControl()` deletes exactly the accepting rule(s) with a given
 * comment from the live table (`nft -j -a list chain` -> handle -> `nft delete rule`), flushes
 * conntrack (so no flow of an earlier run of the same operation is still established), runs the
 * caller's "now it must fail" check, flushes conntrack again (see there), re-applies through the
 * host API (which must see the drift and change the host) and runs the "works again" check. Each
 * control is recorded and printed at the end of the file (the table that goes into the issue note).
 */
import { expect } from "vitest";
import { type ApplyResult, applyPolicy } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS } from "./host-fixtures";
import { createLab, type Lab, type LabHost } from "./lab";
import { leftoverPeerPids, nftDeleteTable, stopAllPeers } from "./peers";

/** Name of the project's table on the server in every proof. */
export const PROOF_TABLE = "hnftproof";

export interface ProofLab {
  lab: Lab;
  server: LabHost;
  client: LabHost;
  attacker: LabHost;
  /** the negative controls run so far (printed by destroyProofLab) */
  controls: NegativeControlRecord[];
  /** wall-clock of each step (printed by destroyProofLab) */
  timings: Record<string, number[]>;
}

export interface NegativeControlRecord {
  test: string;
  /** what was changed in the live table: `removed <rule as nft lists it>` (or `added ...` for an attack's control) */
  change: string;
  observed: string;
}

/** A policy as the host API takes it (validated there); the table is set by applyToServer. */
export type ProofPolicy = Record<string, unknown> & { exposures: unknown[] };

export async function createProofLab(label: string): Promise<ProofLab> {
  const lab = await createLab({ hosts: 3, label });
  const [server, client, attacker] = lab.hosts as [LabHost, LabHost, LabHost];
  return { lab, server, client, attacker, controls: [], timings: {} };
}

/** Stops every peer, destroys the lab (namespaces, sshd, /etc overlays) and prints what was recorded. */
export async function destroyProofLab(p: ProofLab | undefined, title: string): Promise<void> {
  await stopAllPeers();
  await p?.lab.destroy();
  if (!p) return;
  const lines = [`${title}: negative controls (change to the live table -> observed failure)`];
  for (const c of p.controls) lines.push(`  - ${c.test}: ${c.change} -> ${c.observed}`);
  lines.push(`${title}: timings (ms) ${JSON.stringify(p.timings)}`);
  console.info(lines.join("\n"));
}

/** afterEach: nothing a test started may survive it; foreign tables a test loaded go away. */
export async function afterEachProof(p: ProofLab, foreignTables: readonly string[] = []): Promise<void> {
  const left = leftoverPeerPids();
  await stopAllPeers();
  for (const t of foreignTables) await nftDeleteTable(p.server, t);
  await flushConntrack(p.server);
  expect(left, "peer processes left running by the test").toEqual([]);
}

/** Forgets every tracked connection and expectation of the host (IPv4 and IPv6). */
export async function flushConntrack(host: LabHost): Promise<void> {
  await host.sh("{ conntrack -F -f ipv4; conntrack -F -f ipv6; conntrack -F expect; } >/dev/null 2>&1; true", {
    allowFail: true,
  });
}

export async function timed<T>(p: ProofLab, name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    (p.timings[name] ??= []).push(Math.round(performance.now() - t0));
  }
}

/**
 * Renders `policy` for the server's kernel and applies it over SSH with the host API (probe,
 * `nft -c` on the host, guardian, apply, proof of access over a new connection, commit).
 * The policy must let the test process (lab.controllerIpv4) in on tcp/22, or the host rolls back.
 */
export async function applyToServer(p: ProofLab, policy: ProofPolicy): Promise<ApplyResult> {
  const result = await timed(p, "applyToServer", () =>
    applyPolicy(connectionFor(p.server), assertPolicy({ ...policy, table: PROOF_TABLE }), {
      paths: HOST_PATHS,
      confirmTimeoutSeconds: 20,
    }),
  );
  await expectHelpersOff(p.server, result);
  // never the blanket related accept the exploit needs
  expect(result.artefacts.nft).not.toMatch(/ct state (established,)?related accept/);
  return result;
}

/**
 * "Helpers off": no conntrack helper is assigned automatically. On kernel >= 6.0 the switch is gone
 * (assignment only ever happens through a ruleset), so there is nothing to turn off and nothing
 * is written for it; on an older kernel the applied sysctl must read 0.
 */
export async function expectHelpersOff(host: LabHost, result: ApplyResult): Promise<void> {
  const { profile } = result.facts;
  if (profile.helperSysctl) {
    expect((await host.sh("cat /proc/sys/net/netfilter/nf_conntrack_helper")).stdout.trim()).toBe("0");
  } else {
    expect(
      Number(profile.kernel.split(".")[0]),
      `kernel ${profile.kernel} without the helper switch`,
    ).toBeGreaterThanOrEqual(6);
    expect(result.artefacts.sysctl).not.toMatch(/nf_conntrack_helper/);
    expect(result.artefacts.modprobe).not.toMatch(/nf_conntrack_helper=/);
  }
}

interface NftJsonRule {
  rule?: { family: string; table: string; chain: string; handle: number; comment?: string; expr: unknown[] };
}

/**
 * Deletes every rule of `chain` in table inet `table` whose comment is exactly `comment` (a rule
 * restricted to sources renders once per address family, with one comment). Returns the deleted
 * rules as nft lists them; throws when none matches, so a renamed comment cannot make a control
 * vacuous.
 */
export async function deleteRuleByComment(
  host: LabHost,
  table: string,
  comment: string,
  chain: "input" | "output" | "forward" = "input",
): Promise<string[]> {
  const listed = await host.sh(`nft -j -a list chain inet ${table} ${chain}`);
  const items = (JSON.parse(listed.stdout) as { nftables: NftJsonRule[] }).nftables;
  const handles = items.flatMap((i) => (i.rule && i.rule.comment === comment ? [i.rule.handle] : []));
  if (handles.length === 0)
    throw new Error(`no rule with comment "${comment}" in chain inet ${table} ${chain}:\n${listed.stdout}`);
  const text = (await host.sh(`nft -a list chain inet ${table} ${chain}`)).stdout.split("\n");
  const removed = handles.map((h) =>
    (text.find((l) => l.trimEnd().endsWith(`# handle ${h}`)) ?? `handle ${h}`).replace(/\s*# handle \d+$/, "").trim(),
  );
  for (const h of handles) await host.sh(`nft delete rule inet ${table} ${chain} handle ${h}`);
  const after = (await host.sh(`nft -j -a list chain inet ${table} ${chain}`)).stdout;
  expect((JSON.parse(after) as { nftables: NftJsonRule[] }).nftables.some((i) => i.rule?.comment === comment)).toBe(
    false,
  );
  return removed;
}

/**
 * The issue's negative control: with the service proven to work under `policy`, delete exactly
 * the rule(s) commented `comment`, run `fails` (which asserts that the same client operation now
 * fails and returns a description of the failure), re-apply `policy` through the host API (it must
 * find the drift and change the host) and run `works` (the operation succeeds again).
 */
export async function negativeControl(
  p: ProofLab,
  o: {
    test: string;
    policy: ProofPolicy;
    comment: string;
    chain?: "input" | "output";
    fails: () => Promise<string>;
    works: () => Promise<void>;
  },
): Promise<NegativeControlRecord> {
  const removed = await deleteRuleByComment(p.server, PROOF_TABLE, o.comment, o.chain ?? "input");
  // A deleted rule does not cut flows conntrack already tracks (a SIPp call reuses the same media
  // 5-tuple, and its previous call's entry would still be ESTABLISHED): start from none.
  await flushConntrack(p.server);
  const observed = await timed(p, "failing operation", o.fails);
  const record = {
    test: o.test,
    change: `removed ${removed.map((r) => `\`${r}\``).join(" and ")}${o.chain === "output" ? " (chain output)" : ""}`,
    observed,
  };
  p.controls.push(record);
  // ... and forget what the failed attempt left behind: an expectation whose connection was dropped
  // (or never made: curl falls back from EPSV to PASV) lives on for 5 minutes, and the ftp helper
  // DROPS a later 227/229 reply that announces the same port to the same client ("cannot add
  // expectation": it clashes), which would stall the "works again" session.
  await flushConntrack(p.server);
  const again = await applyToServer(p, o.policy);
  expect(again.changed, "the re-apply must notice the deleted rule and restore it").toBe(true);
  await o.works();
  return record;
}

/** Conntrack expectation counters of a host's network namespace (/proc/net/stat/nf_conntrack, summed over CPUs). */
export interface ExpectStats {
  /** expectations the helpers created */
  create: number;
  /** new connections that matched an expectation (i.e. were RELATED) */
  matched: number;
}

export async function expectStats(host: LabHost): Promise<ExpectStats> {
  const lines = (await host.sh("cat /proc/net/stat/nf_conntrack")).stdout.trim().split("\n");
  const head = lines[0]!.trim().split(/\s+/);
  const col = (name: string): number => {
    const i = head.indexOf(name);
    if (i < 0) throw new Error(`no column ${name} in /proc/net/stat/nf_conntrack: ${lines[0]}`);
    return lines.slice(1).reduce((sum, l) => sum + parseInt(l.trim().split(/\s+/)[i]!, 16), 0);
  };
  return { create: col("expect_create"), matched: col("expect_new") };
}

/** The destination ports of the expectations the host's helpers hold now (/proc/net/nf_conntrack_expect). */
export async function expectedPorts(host: LabHost): Promise<number[]> {
  const r = await host.sh("cat /proc/net/nf_conntrack_expect");
  return [...r.stdout.matchAll(/\bdport=(\d+)/g)].map((m) => Number(m[1]));
}

/** The comments of the rules of a chain of the live table (to show what a proof ran against). */
export async function liveComments(host: LabHost, chain: "input" | "output" = "input"): Promise<string[]> {
  const r = await host.sh(`nft -j list chain inet ${PROOF_TABLE} ${chain}`);
  return (JSON.parse(r.stdout) as { nftables: NftJsonRule[] }).nftables.flatMap((i) =>
    i.rule?.comment ? [i.rule.comment] : [],
  );
}

/** Sampled ports for a scan: common service ports plus a deterministic spread over the whole range. */
export function samplePorts(common: readonly number[], total: number, seed: number): number[] {
  const out = new Set<number>(common);
  let x = seed >>> 0 || 1;
  while (out.size < total) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.add(1 + (x % 65535));
  }
  return [...out].sort((a, b) => a - b);
}
