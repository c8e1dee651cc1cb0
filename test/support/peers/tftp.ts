/**
 * tftpd-hpa (startTftpd)
 *   - `--port-range a:b` pins the port the server replies from (the transfer ID); the reply
 *     comes from the address the request was sent to. `-L` = foreground, `-a ADDR:PORT` binds one
 *     address (`[v6]:69` for IPv6; one family per process), `-s DIR` chroots, `-u tftp` drops
 *     privileges.
 *   - The tftp-hpa client exits 0 even on "File not found" / "Transfer timed out" and leaves an
 *     empty local file: success is read from its "Received N bytes" line (verbose) and the size.
 *     Its total timeout (default 25 s) is set with the interactive `timeout N` command (and
 *     `rexmt 1`, the default retransmit interval is 5 s), so the client is driven through stdin,
 *     not -c. `tftp -R a:b` pins the client's own port.
 *   - TFTP FINDING (proved by test/services/peers.test.ts, IPv4 and IPv6): on the SERVER, with
 *     output accepted and input = `ct state established accept` + `udp dport 69 accept`, no inbound
 *     data range is needed. The server's first DATA packet (server:P -> client:C, P from the
 *     --port-range) is a NEW outbound flow; the client's ACKs (client:C -> server:P) are its reply
 *     direction, i.e. ESTABLISHED. The RRQ flow (client:C -> server:69) stays [UNREPLIED].
 *     The CLIENT side is the one that breaks: the DATA from server:P is not a reply to the
 *     client's flow to server:69, so a client with input policy drop + established-only
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  addrOf,
  hostPort,
  makeHandle,
  makeTempDir,
  type PeerHandle,
  type PeerHost,
  removeTempDir,
  runIn,
  sha256,
  startProc,
  type Target,
  userExists,
  waitBound,
  writeRandomFile,
} from "./core";

export interface TftpdOptions {
  portRange: [number, number];
  ipv6?: boolean;
  port?: number;
  /** name of the known file in the tftp root (random bytes) */
  file?: string;
  fileBytes?: number;
}

export interface TftpdHandle extends PeerHandle {
  host: PeerHost;
  address: string;
  port: number;
  portRange: [number, number];
  root: string;
  file: { name: string; size: number; sha256: string };
}

export async function startTftpd(host: PeerHost, opts: TftpdOptions): Promise<TftpdHandle> {
  const [a, b] = opts.portRange;
  if (!(a > 1023 && a <= b && b <= 65535)) throw new Error(`startTftpd: bad port range ${a}-${b}`);
  const ipv6 = opts.ipv6 ?? false;
  const port = opts.port ?? 69;
  const address = ipv6 ? host.ipv6 : host.ipv4;
  const dir = makeTempDir("tftpd");
  const root = path.join(dir, "root");
  fs.mkdirSync(root, { mode: 0o755 });
  fs.chmodSync(root, 0o755);
  const name = opts.file ?? "hnft-boot.bin";
  const f = writeRandomFile(root, name, opts.fileBytes ?? 100_000);
  const user = userExists("tftp") ? "tftp" : "nobody";
  const argv = ["/usr/sbin/in.tftpd", "-L", "-a", hostPort(address, port), "-R", `${a}:${b}`, "-u", user, "-s", root];
  const proc = startProc(host, argv, { cwd: dir, label: `in.tftpd@${host.name}` });
  const stop = makeHandle([proc], [dir]);
  try {
    await waitBound(host, "udp", port, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return { host, address, port, portRange: [a, b], root, file: { name, size: f.size, sha256: f.sha256 }, stop };
}

export interface TftpFetchOptions {
  ipv6?: boolean;
  port?: number;
  /** tftp's total timeout in seconds (default 3) */
  timeoutSec?: number;
  /** client local port range (tftp -R a:b) */
  localPortRange?: [number, number];
}

export interface TftpFetchResult {
  ok: boolean;
  bytes: number;
  sha256: string | null;
  error: string | null;
  output: string;
  ms: number;
}

export async function tftpFetch(
  client: PeerHost,
  server: Target,
  file: string,
  opts: TftpFetchOptions = {},
): Promise<TftpFetchResult> {
  const ipv6 = opts.ipv6 ?? false;
  const addr = addrOf(server, ipv6);
  const timeoutSec = opts.timeoutSec ?? 3;
  const dir = makeTempDir("tftp");
  try {
    const local = path.join(dir, "out.bin");
    const argv = ["tftp", ipv6 ? "-6" : "-4"];
    if (opts.localPortRange) argv.push("-R", `${opts.localPortRange[0]}:${opts.localPortRange[1]}`);
    argv.push(addr, String(opts.port ?? 69));
    // rexmt 1: retransmit every second, so a short total timeout is honoured (the default rexmt is 5 s)
    const script = [
      "verbose",
      "mode octet",
      "rexmt 1",
      `timeout ${timeoutSec}`,
      `get ${file} ${local}`,
      "quit",
      "",
    ].join("\n");
    const r = await runIn(client, argv, {
      timeoutMs: timeoutSec * 1000 + 10_000,
      label: `tftp@${client.name}`,
      stdin: script,
      cwd: dir,
    });
    const output = `${r.stdout}${r.stderr}`;
    const received = /Received (\d+) bytes/.exec(output);
    const data = fs.existsSync(local) ? fs.readFileSync(local) : undefined;
    const ok = received !== null && data !== undefined && data.length === Number(received[1]);
    const err = /(Error code \d+: .*|Transfer timed out\.?|tftp: .*)/.exec(output);
    return {
      ok,
      bytes: ok && data ? data.length : 0,
      sha256: ok && data ? sha256(data) : null,
      error: ok ? null : (err?.[1] ?? `no transfer (exit ${r.code})`),
      output,
      ms: r.ms,
    };
  } finally {
    removeTempDir(dir);
  }
}
