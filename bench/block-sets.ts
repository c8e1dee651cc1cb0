/**
 * Block sets at scale (issue 21): an apply that changes the policy while its block set holds
 * 100,000 elements written by another tool, beside the same apply with the set empty. The apply
 * keeps a block set whose declaration is unchanged in place (src/host/scripts/lib.sh
 * prepare_load): target: every element kept, and at most 10% longer than with the set empty.
 *
 * One lab host per size (0 and 100,000 elements), the same policies on each. Each round runs,
 * size after size (interleaved, so a slow moment of a shared machine hits both alike): an apply
 * that changes the policy (http added, then removed), a no-op apply of the same policy, and a
 * drift check (observePolicy); each timed in this process over SSH. The hosts' order alternates
 * from round to round. After each changing apply the
 * set's element count is read on the host (not timed).
 *
 * Run alone: `sudo npx tsx bench/block-sets.ts [rounds] [elements]` (defaults 7 and 100000);
 * or in the full report: `npm run bench -- --only blocksets`.
 */
import { applyPolicy, observePolicy } from "../src/host";
import { type Connection, parseConnection } from "../src/model/connection";
import { assertPolicy } from "../src/model/validate";
import { createLab, type LabHost } from "../test/support/lab";
import { type Log, median, round } from "./util";

export interface BlockSetsMeasure {
  elements: number;
  /** each round's apply that changes the policy, ms */
  applyMs: number[];
  medianApplyMs: number;
  /** each round's no-op apply (the same policy again), ms */
  noopMs: number[];
  medianNoopMs: number;
  /** each round's drift check (observePolicy), ms */
  driftMs: number[];
  medianDriftMs: number;
  /** the fewest elements the set held after an apply */
  keptMin: number;
}

export interface BlockSetsResult {
  method: Record<string, string>;
  measures: BlockSetsMeasure[];
  /** median apply with the most elements / median apply with none */
  ratio: number;
  noopRatio: number;
  driftRatio: number;
}

const TABLE = "hnftbench";
// Lab hosts share /var and /run with the machine: state and lock go into the host's own /etc.
const HOST_PATHS = { stateRoot: "/etc/hardened-nftables/.state", runRoot: "/etc/hardened-nftables/.run" };

function connectionFor(host: LabHost): Connection {
  const r = parseConnection({
    host: host.ipv4,
    user: host.root.user,
    privateKey: host.root.privateKey,
    hostKey: host.hostKey,
  });
  if (!r.ok) throw new Error(`block sets: ${JSON.stringify(r.issues)}`);
  return r.value;
}

async function wipeHost(host: LabHost, table: string): Promise<void> {
  await host.sh(`nft delete table inet ${table} 2>/dev/null; rm -rf /etc/hardened-nftables; true`);
}
const blockSets = [{ name: "crowdsec", family: "ipv4", timeout: "4h", size: 200_000 }];
const policies = [
  { table: TABLE, exposures: [{ service: "ssh" }, { service: "https" }], blockSets },
  { table: TABLE, exposures: [{ service: "ssh" }, { service: "https" }, { service: "http" }], blockSets },
];

/** `add element` lines for n distinct /32s in 10.0.0.0/8, 10,000 per line. */
function elementsFile(n: number): string {
  const lines: string[] = [];
  for (let start = 0; start < n; start += 10_000) {
    const chunk = Array.from({ length: Math.min(10_000, n - start) }, (_, k) => {
      const i = start + k;
      return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    });
    lines.push(`add element inet ${TABLE} crowdsec { ${chunk.join(", ")} }`);
  }
  return `${lines.join("\n")}\n`;
}

async function count(host: LabHost): Promise<number> {
  const out = (
    await host.sh(`nft list set inet ${TABLE} crowdsec | grep -o '10\\.[0-9.]*' | wc -l`, { timeoutMs: 120_000 })
  ).stdout;
  return Number(out.trim());
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await f();
  return [round(performance.now() - t0, 0), r];
}

export async function runBlockSets(opts: { sizes: number[]; rounds: number; log: Log }): Promise<BlockSetsResult> {
  const lab = await createLab({ hosts: opts.sizes.length, label: "bench-block-sets" });
  const hosts = lab.hosts as LabHost[];
  const options = { paths: HOST_PATHS, confirmTimeoutSeconds: 20 };
  try {
    const measures: BlockSetsMeasure[] = opts.sizes.map((elements) => ({
      elements,
      applyMs: [],
      medianApplyMs: 0,
      noopMs: [],
      medianNoopMs: 0,
      driftMs: [],
      medianDriftMs: 0,
      keptMin: Number.POSITIVE_INFINITY,
    }));
    for (const [i, elements] of opts.sizes.entries()) {
      const host = hosts[i]!;
      await wipeHost(host, TABLE);
      await applyPolicy(connectionFor(host), assertPolicy(policies[0]), options);
      if (elements > 0) await host.sh(`nft -f -`, { stdin: elementsFile(elements), timeoutMs: 300_000 });
      const kept = await count(host);
      if (kept !== elements) throw new Error(`block sets: ${kept} elements written, ${elements} meant`);
    }
    for (let r = 1; r <= opts.rounds; r++) {
      const policy = assertPolicy(policies[r % 2]);
      // the hosts' order alternates from round to round: neither always runs right after the other
      const order = measures.map((_, i) => i);
      if (r % 2 === 0) order.reverse();
      for (const i of order) {
        const [host, m] = [hosts[i]!, measures[i]!];
        const [applyMs, applied] = await timed(() => applyPolicy(connectionFor(host), policy, options));
        if (!applied.changed) throw new Error("block sets: an apply that changes the policy reported no change");
        const [noopMs, noop] = await timed(() => applyPolicy(connectionFor(host), policy, options));
        if (noop.changed) throw new Error("block sets: the same policy again was not a no-op");
        const [driftMs, drift] = await timed(() => observePolicy(connectionFor(host), policy, { paths: HOST_PATHS }));
        if (!drift.inSync) throw new Error("block sets: the drift check found drift after an apply");
        const kept = await count(host);
        m.applyMs.push(applyMs);
        m.noopMs.push(noopMs);
        m.driftMs.push(driftMs);
        m.keptMin = Math.min(m.keptMin, kept);
        opts.log(
          `block sets: round ${r}/${opts.rounds}, ${m.elements} elements: apply ${applyMs} ms, no-op ${noopMs} ms, drift check ${driftMs} ms; ${kept} elements kept`,
        );
      }
    }
    for (const m of measures) {
      m.medianApplyMs = round(median(m.applyMs), 0);
      m.medianNoopMs = round(median(m.noopMs), 0);
      m.medianDriftMs = round(median(m.driftMs), 0);
    }
    for (const host of hosts) await wipeHost(host, TABLE);
    const [none, full] = [measures[0]!, measures[measures.length - 1]!];
    return {
      method: {
        hosts: "one lab host per size (network namespace, real sshd), the same policies on each, operations over SSH",
        change: "each round's apply alternates between two policies (http added, removed): a real change every time",
        rounds:
          "interleaved: each round runs apply, no-op apply and drift check on every host in turn, the hosts' order alternating",
        elements:
          "distinct IPv4 /32s in 10.0.0.0/8 added with nft add element into a block set (flags interval,timeout, size 200000)",
      },
      measures,
      ratio: round(full.medianApplyMs / none.medianApplyMs, 3),
      noopRatio: round(full.medianNoopMs / none.medianNoopMs, 3),
      driftRatio: round(full.medianDriftMs / none.medianDriftMs, 3),
    };
  } finally {
    await lab.destroy();
  }
}

/** The result as a side-by-side table (markdown). */
export function blockSetsTable(result: BlockSetsResult): string {
  const ms = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs)}-${Math.max(...xs)})`;
  const rows = result.measures.map(
    (m) =>
      `| ${m.elements.toLocaleString("en")} | ${ms(m.applyMs)} | ${ms(m.noopMs)} | ${ms(m.driftMs)} | ${m.keptMin} |`,
  );
  return [
    "| elements | apply, ms median (min-max) | no-op apply | drift check | fewest kept |",
    "|---|---|---|---|---|",
    ...rows,
    `| ratio | ${result.ratio} | ${result.noopRatio} | ${result.driftRatio} | |`,
  ].join("\n");
}

if (require.main === module) {
  const rounds = Number(process.argv[2] ?? 7);
  const elements = Number(process.argv[3] ?? 100_000);
  const log: Log = (line) => console.error(line);
  runBlockSets({ sizes: [0, elements], rounds, log })
    .then((result) => {
      console.log(blockSetsTable(result));
      console.log(JSON.stringify(result));
    })
    .catch((e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    });
}
