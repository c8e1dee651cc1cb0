/**
 * H.323 peers for the proofs (issue #12). No H.323 endpoint, gatekeeper or gateway is packaged in
 * Debian bookworm, so both ends are scripted (python3, stdlib): a minimal call over real TCP and
 * UDP sockets.
 *
 * The call: the caller connects to tcp/1720 and sends a TPKT (RFC 1006) carrying a Q.931 SETUP
 * whose User-user information element holds an H.225.0 H323-UserInformation (ASN.1 aligned PER,
 * encoded here by hand: a minimal Setup-UUIE). The callee answers with a Q.931 CONNECT whose
 * Connect-UUIE carries `fastStart`: one H.245 OpenLogicalChannel (nullData, H.225.0 logical
 * channel parameters) whose mediaChannel is the callee's own address and an even media port.
 * The caller reads that address and port from the CONNECT and sends its media (RTP-sized UDP
 * datagrams) there; the callee echoes them.
 *
 * Why fastStart in CONNECT: the kernel's Q.931 helper (nf_conntrack_h323) decodes the message with
 * its own PER decoder (net/netfilter/nf_conntrack_h323_types.c gives the field tables used here),
 * and for every OpenLogicalChannel in fastStart whose media address equals the SENDER's address it
 * expects RTP (port & ~1) and RTCP (port | 1) from the other side of the call, from any port. The
 * expected media connection's master is the Q.931 connection, so `ct helper "Q.931"` matches it:
 * exactly what the rendered `ct state related ct helper "Q.931" ... udp dport <mediaPorts>` rule
 * accepts. An H.245 address (separate H.245 TCP connection) would make the media the child of an
 * H.245 connection (`ct helper "H.245"`), which the project does not open: H.245 must be tunnelled
 * or replaced by fastStart (src/catalog/h323.ts says so).
 *
 * The callee's script is the H.323 "gateway" on the firewalled host; nothing here is a real
 * endpoint (no H.245 capability exchange, no RTP payload), but every packet the firewall and
 * conntrack see is what a fastStart call puts on the wire.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  makeTempDir,
  type PeerHandle,
  type PeerHost,
  PYTHON,
  parseJsonLine,
  removeTempDir,
  startProc,
  startUntilReady,
  waitBound,
} from "./core";

export const Q931_PORT = 1720;
export const RAS_PORT = 1719;

const H323_SCRIPT = path.join(__dirname, "scripts", "h323.py");

export interface H323CalleeHandle extends PeerHandle {
  address: string;
  mediaPort: number;
  /** sources of the media datagrams the callee echoed */
  mediaFrom(): string[];
}

/** The scripted callee on tcp/1720 of one address, echoing media on `mediaPort` (even). */
export async function startH323Callee(
  host: PeerHost,
  opts: { mediaPort: number; ipv6?: boolean },
): Promise<H323CalleeHandle> {
  if (opts.mediaPort % 2 !== 0) throw new Error(`mediaPort ${opts.mediaPort}: RTP uses an even port`);
  const address = opts.ipv6 ? host.ipv6 : host.ipv4;
  const dir = makeTempDir("h323");
  const { proc, stop } = await startUntilReady(host, [PYTHON, H323_SCRIPT, "callee", address, String(opts.mediaPort)], {
    cwd: dir,
    label: `h323 callee ${host.name}`,
    dirs: [dir],
  });
  try {
    await waitBound(host, "tcp", Q931_PORT, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    address,
    mediaPort: opts.mediaPort,
    mediaFrom: () => [...proc.stdout().matchAll(/^MEDIA (\S+) /gm)].map((m) => m[1]!),
    stop,
  };
}

export interface H323CallResult {
  connected: boolean;
  announced: { address: string | null; port: number | null } | null;
  sent: number;
  received: number;
  error: string | null;
  /** /proc/net/nf_conntrack_expect of the callee's host between CONNECT and the first media */
  expectations: string;
}

/**
 * A call from `client` to the callee at `server`: SETUP, CONNECT (fastStart), then `count` media
 * datagrams to the announced port. Between CONNECT and the media, `onConnected` runs (the test
 * reads the callee host's expectation table there).
 */
export async function h323Call(
  client: PeerHost,
  server: string,
  opts: { count?: number; timeoutMs?: number; onConnected?: () => Promise<string> } = {},
): Promise<H323CallResult> {
  const dir = makeTempDir("h323call");
  const go = path.join(dir, "go");
  const timeoutMs = opts.timeoutMs ?? 1500;
  const proc = startProc(
    client,
    [PYTHON, H323_SCRIPT, "caller", server, go, String(opts.count ?? 3), String(timeoutMs)],
    {
      cwd: dir,
      label: `h323 caller ${client.name}`,
    },
  );
  try {
    let expectations = "";
    const connected = await Promise.race([
      proc.waitLine(/^CONNECTED /, timeoutMs + 10_000).then(() => true),
      proc.exited.then(() => false),
    ]);
    if (connected && opts.onConnected) expectations = await opts.onConnected();
    fs.writeFileSync(go, "");
    const r = await proc.exited;
    const v = parseJsonLine<Omit<H323CallResult, "expectations">>(r.stdout);
    if (!v) throw new Error(`h323 caller: no result (exit ${r.code})\n${r.stdout}\n${r.stderr}`);
    return { ...v, expectations };
  } finally {
    await proc.stop();
    removeTempDir(dir);
  }
}
