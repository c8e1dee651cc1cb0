/**
 * Scale, end to end: a policy with 12,000 and 100,000 source prefixes rendered, checked and
 * applied over SSH to a lab host, as an operator pushes it, beside firewalld's published reload of
 * 12,000 set entries (1.2-2.6 s after firewalld PR #1544; 78 min before it, firewalld#881).
 *
 * One fresh `node` process per size (bench/workers/scale.ts) does all of it, so its peak RSS is that size's:
 *   render   parse + render of the policy (what `pulumi preview` and every apply do first)
 *   apply    applyPolicy over SSH: probe, `nft -c` on the host, back up, arm the guardian, load,
 *            prove access over a new connection, commit (the whole safe apply)
 *   no-op    applyPolicy again (the host finds nothing to change)
 *   observe  observePolicy (the drift check)
 * and, on the host, the bare nft costs of the same file: `nft -c -f` (check) and `nft -f` into a
 * fresh network namespace (load), each timed on the host itself.
 * Prefixes: 30% IPv4 /32 in 198.18.0.0/15, 70% IPv6 /96 in 2001:2::/48, none adjacent or
 * overlapping (so the model keeps every one), on one exposure (tcp/8443); SSH stays open.
 */
import { createLab, type LabHost } from "../test/support/lab";
import { type Log, round, runWorker } from "./util";
import type { ScaleAnswer, ScaleRequest } from "./workers/scale";

export interface ScaleMeasure {
  prefixes: number;
  nftBytes: number;
  renderMs: number;
  applyMs: number;
  noopApplyMs: number;
  observeMs: number;
  /** peak RSS of the process that did all of the above */
  peakRssMiB: number;
  /** on the host: `nft -c -f` and `nft -f` into a fresh netns */
  hostCheckMs: number;
  hostLoadMs: number;
  changed: boolean;
  noopChanged: boolean;
  inSync: boolean;
}

export interface ScaleResult {
  method: Record<string, string>;
  measures: ScaleMeasure[];
  /** firewalld's published reload time for 12,000 set entries (firewalld PR #1544) */
  firewalldReloadMs: { entries: number; fromMs: number; toMs: number };
}

const PATHS = { stateRoot: "/etc/hardened-nftables/.state", runRoot: "/etc/hardened-nftables/.run" } as const;

/** `n` distinct, non-adjacent prefixes inside the test ranges: 30% IPv4 /32, 70% IPv6 /96. */
export function scalePrefixes(n: number): string[] {
  const v4 = Math.round(n * 0.3);
  const out: string[] = [];
  const base = (198 << 24) | (18 << 16);
  for (let i = 0; i < v4; i++) {
    const a = (base + i * 4) >>> 0; // 30,000 x 4 = 120,000 addresses < 131,072 in the /15
    out.push(`${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/32`);
  }
  for (let i = 0; i < n - v4; i++)
    out.push(`2001:2:0:${(i >> 12).toString(16)}:${((i & 0xfff) * 2).toString(16)}::/96`);
  return out;
}

async function hostNftTimes(h: LabHost, nft: string): Promise<{ checkMs: number; loadMs: number }> {
  const file = "/etc/hardened-nftables/.scale.nft"; // the host's own /etc
  await h.sh(`cat > ${file}`, { stdin: nft, timeoutMs: 120_000 });
  const ns = (s: string) => Number(s.trim()) / 1e6;
  const check = await h.sh(`s=$(date +%s%N); nft -c -f ${file} >/dev/null; e=$(date +%s%N); echo $((e - s))`, {
    timeoutMs: 600_000,
  });
  const load = await h.sh(
    `unshare -n sh -c 's=$(date +%s%N); nft -f ${file} >/dev/null; e=$(date +%s%N); echo $((e - s))'`,
    { timeoutMs: 600_000 },
  );
  await h.sh(`rm -f ${file}`);
  return { checkMs: ns(check.stdout), loadMs: ns(load.stdout) };
}

export async function runScale(opts: { sizes: number[]; log: Log }): Promise<ScaleResult> {
  const lab = await createLab({ hosts: 1, label: "bench-scale" });
  const [h] = lab.hosts as [LabHost];
  const measures: ScaleMeasure[] = [];
  try {
    for (const n of opts.sizes) {
      const policy = {
        table: "scale",
        exposures: [{ service: "ssh" }, { name: "bulk", protocol: "tcp", ports: 8443, sources: scalePrefixes(n) }],
      };
      const req: ScaleRequest = {
        policy,
        paths: PATHS,
        connection: { host: h.ipv4, user: "root", privateKey: h.root.privateKey, hostKey: h.hostKey },
      };
      opts.log(`scale: ${n} prefixes: render, apply, no-op apply and observe over SSH`);
      const { out } = await runWorker<ScaleAnswer>("scale", [], req, 1_800_000);
      const host = await hostNftTimes(h, out.nft);
      const m: ScaleMeasure = {
        prefixes: n,
        nftBytes: Buffer.byteLength(out.nft),
        renderMs: round(out.renderMs, 0),
        applyMs: round(out.applyMs, 0),
        noopApplyMs: round(out.noopApplyMs, 0),
        observeMs: round(out.observeMs, 0),
        peakRssMiB: round(out.peakRssMiB, 1),
        hostCheckMs: round(host.checkMs, 0),
        hostLoadMs: round(host.loadMs, 0),
        changed: out.changed,
        noopChanged: out.noopChanged,
        inSync: out.inSync,
      };
      measures.push(m);
      opts.log(
        `scale: ${n} prefixes: render ${m.renderMs} ms, apply ${m.applyMs} ms, no-op ${m.noopApplyMs} ms, observe ${m.observeMs} ms, peak ${m.peakRssMiB} MiB; on the host nft -c ${m.hostCheckMs} ms, nft -f ${m.hostLoadMs} ms`,
      );
      await h.sh(
        "nft delete table inet scale 2>/dev/null; rm -rf /etc/hardened-nftables/scale.nft /etc/hardened-nftables/.state/scale /etc/sysctl.d/60-hardened-nftables-scale.conf /etc/modprobe.d/hardened-nftables-scale.conf; true",
      );
    }
  } finally {
    await lab.destroy();
  }
  return {
    method: {
      policy:
        "ssh from anywhere + one tcp/8443 exposure with N source prefixes (30% IPv4 /32, 70% IPv6 /96, none adjacent)",
      process:
        "one fresh node process per size: render, applyPolicy over SSH (the whole safe apply), applyPolicy again (no-op), observePolicy; peak RSS = that process's maxRSS",
      host: "the same nft file on the lab host: nft -c -f, and nft -f into a fresh network namespace (unshare -n), timed on the host with date +%s%N",
      firewalld:
        "firewalld PR #1544: reload with 12,000 ipset entries 1.2-2.6 s (was 78 min for 19k entries, firewalld#881)",
    },
    measures,
    firewalldReloadMs: { entries: 12000, fromMs: 1200, toMs: 2600 },
  };
}
