/**
 * Block sets at scale (issue 21): an apply that changes the policy while its block set holds
 * 100,000 elements written by another tool, beside the same apply with the set empty. The apply
 * carries the live elements into its own nft transaction (src/host/scripts/lib.sh
 * carry_owned_elements); target: they are all kept, and the apply takes at most 10% longer.
 *
 * One lab host; per size, `rounds` applies alternating between two policies (so each is a real
 * change), timed in this process (applyPolicy over SSH: probe, check, back up, arm, load, prove
 * access, commit); after each, the set's element count on the host.
 */
import { applyPolicy } from "../src/host";
import { type Connection, parseConnection } from "../src/model/connection";
import { assertPolicy } from "../src/model/validate";
import { createLab, type LabHost } from "../test/support/lab";
import { type Log, median, round } from "./util";

export interface BlockSetsMeasure {
  elements: number;
  applyMs: number[];
  medianApplyMs: number;
  /** the fewest elements the set held after an apply */
  keptMin: number;
}

export interface BlockSetsResult {
  method: Record<string, string>;
  measures: BlockSetsMeasure[];
  /** median apply with elements / median apply without */
  ratio: number;
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
  const out = (await host.sh(`nft list set inet ${TABLE} crowdsec | grep -o '10\\.[0-9.]*' | wc -l`)).stdout;
  return Number(out.trim());
}

export async function runBlockSets(opts: { sizes: number[]; rounds: number; log: Log }): Promise<BlockSetsResult> {
  const lab = await createLab({ hosts: 1, label: "bench-block-sets" });
  const [host] = lab.hosts as [LabHost];
  const options = { paths: HOST_PATHS, confirmTimeoutSeconds: 20 };
  try {
    const measures: BlockSetsMeasure[] = [];
    for (const elements of opts.sizes) {
      await wipeHost(host, TABLE);
      await applyPolicy(connectionFor(host), assertPolicy(policies[0]), options);
      if (elements > 0) await host.sh(`nft -f -`, { stdin: elementsFile(elements), timeoutMs: 300_000 });
      const applyMs: number[] = [];
      let keptMin = Number.POSITIVE_INFINITY;
      for (let r = 1; r <= opts.rounds; r++) {
        const t0 = performance.now();
        const result = await applyPolicy(connectionFor(host), assertPolicy(policies[r % 2]), options);
        const ms = performance.now() - t0;
        if (!result.changed) throw new Error("block sets: an apply that changes the policy reported no change");
        applyMs.push(round(ms, 0));
        const kept = await count(host);
        keptMin = Math.min(keptMin, kept);
        opts.log(
          `block sets: ${elements} elements: apply ${r}/${opts.rounds} ${round(ms, 0)} ms, ${kept} elements kept`,
        );
      }
      measures.push({ elements, applyMs, medianApplyMs: round(median(applyMs), 0), keptMin });
    }
    await wipeHost(host, TABLE);
    const [none, full] = [measures[0]!, measures[measures.length - 1]!];
    return {
      method: {
        host: "one lab host (network namespace, real sshd), applyPolicy over SSH",
        change: "each apply alternates between two policies (http added, removed): a real change every time",
        elements:
          "distinct IPv4 /32s in 10.0.0.0/8 added with nft add element into a block set (flags interval,timeout, size 200000)",
      },
      measures,
      ratio: round(full.medianApplyMs / none.medianApplyMs, 3),
    };
  } finally {
    await lab.destroy();
  }
}
