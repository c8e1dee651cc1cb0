/**
 *   - This kernel has CONFIG_NET_IPGRE_DEMUX (hence NET_IPGRE) off: `ip link add ... type gre`
 *     fails with "Unknown device type". greTunnel() then falls back to "raw" mode: a raw
 *     IPPROTO_GRE (47) socket on each side sends real GRE packets (RFC 2784 header, protocol
 *     0x0800) that carry an inner IPv4 ICMP echo 198.18.254.1 -> 198.18.254.2, and the far side
 *     answers with the echo reply, GRE-encapsulated. On the wire (and for nftables and conntrack,
 *     which tracks it as gre with key 0) it is the same traffic a kernel tunnel produces. Where the
 *     kernel has GRE, a real tunnel device is used and pinged.
 *   - PPTP (pptpd + pptp-linux) is not possible here: CONFIG_PPP is off and there is no /dev/ppp.
 *
 */
import * as os from "node:os";
import { agent, agentOnce } from "./agent";
import { makeHandle, type PeerHandle, type PeerHost, startProc } from "./core";

export const GRE_INNER = { a: "198.18.254.1", b: "198.18.254.2", prefix: 30 } as const;

export interface GreTunnelHandle extends PeerHandle {
  /** kernel: real gre devices; raw: GRE packets from raw IPPROTO_GRE sockets (kernel without GRE) */
  mode: "kernel" | "raw";
  /** why kernel mode was not used (raw mode only) */
  kernelUnavailable: string | null;
  /** ICMP echo a(198.18.254.1) -> b(198.18.254.2) through the tunnel; received = replies that came back */
  ping(count?: number, timeoutMs?: number): Promise<{ sent: number; received: number }>;
}

const GRE_DEV = "hnftgre0";

/** A GRE tunnel between a and b (IPv4 outer addresses, inner 198.18.254.0/30), and a ping through it. */
export async function greTunnel(
  a: PeerHost,
  b: PeerHost,
  opts: { mode?: "auto" | "kernel" | "raw" } = {},
): Promise<GreTunnelHandle> {
  const mode = opts.mode ?? "auto";
  let kernelUnavailable: string | null = null;
  if (mode !== "raw") {
    const mk = (local: string, remote: string, inner: string): string =>
      `ip link add ${GRE_DEV} type gre local ${local} remote ${remote} ttl 64 && ip addr add ${inner}/${GRE_INNER.prefix} dev ${GRE_DEV} && ip link set ${GRE_DEV} up`;
    const ra = await a.sh(mk(a.ipv4, b.ipv4, GRE_INNER.a), { allowFail: true, timeoutMs: 10_000 });
    const rb =
      ra.code === 0 ? await b.sh(mk(b.ipv4, a.ipv4, GRE_INNER.b), { allowFail: true, timeoutMs: 10_000 }) : undefined;
    if (ra.code === 0 && rb?.code === 0) {
      const del = async (): Promise<void> => {
        await a.sh(`ip link del ${GRE_DEV} 2>/dev/null; true`, { allowFail: true });
        await b.sh(`ip link del ${GRE_DEV} 2>/dev/null; true`, { allowFail: true });
      };
      return {
        mode: "kernel",
        kernelUnavailable: null,
        ping: (count = 3, timeoutMs = 1000) =>
          agentOnce<{ sent: number; received: number }>(
            a,
            "icmp-ping",
            count * timeoutMs + 10_000,
            "icmp-ping",
            GRE_INNER.b,
            count,
            timeoutMs,
          ),
        stop: makeHandle([], [], del),
      };
    }
    await a.sh(`ip link del ${GRE_DEV} 2>/dev/null; true`, { allowFail: true });
    await b.sh(`ip link del ${GRE_DEV} 2>/dev/null; true`, { allowFail: true });
    kernelUnavailable = `${(ra.code !== 0 ? ra.stderr : (rb?.stderr ?? "")).trim()} (ip link add type gre)`;
    if (mode === "kernel") throw new Error(`greTunnel: kernel GRE unavailable: ${kernelUnavailable}`);
  }
  const responder = startProc(b, agent("gre-responder", b.ipv4, GRE_INNER.b), {
    cwd: os.tmpdir(),
    label: `gre-responder@${b.name}`,
  });
  const stop = makeHandle([responder], []);
  try {
    await responder.waitLine(/^READY$/, 10_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    mode: "raw",
    kernelUnavailable,
    ping: (count = 3, timeoutMs = 1000) =>
      agentOnce<{ sent: number; received: number }>(
        a,
        "gre-ping",
        count * timeoutMs + 10_000,
        "gre-ping",
        a.ipv4,
        b.ipv4,
        GRE_INNER.a,
        GRE_INNER.b,
        count,
        timeoutMs,
      ),
    stop,
  };
}
