/**
 * SANE peers for the proofs (issue #12): saned (sane-utils) with libsane's `test` backend on the
 * server, scanimage (net backend) on the client. Both read their configuration from
 * SANE_CONFIG_DIR, so each handle writes its own dll.conf/saned.conf/net.conf into a temp dir and
 * nothing under the machine's /etc/sane.d is used.
 *
 * Checked on Debian bookworm (sane-utils 1.2.1):
 *   - `saned -l -e -b ADDR -p 6566` listens in the foreground on one address (one family per
 *     process; `-b` takes an IPv6 literal), forks one child per client; `-u saned` drops privileges.
 *   - `data_portrange = A - B` in saned.conf pins the data port: after SANE_NET_START the server
 *     listens on the first free port of the range and tells the client in the reply; the client
 *     connects to it (inbound, client -> server). The log line "start_scan: using port N for data"
 *     names it (debug level >= 3). saned waits 4 s for that connection.
 *   - saned.conf lists the hosts allowed in (addresses/prefixes); others get "access denied".
 *   - scanimage takes `-d net:ADDR:test:0` (`net:[v6]:test:0`); `scanimage -L` does not list
 *     IPv6 servers from net.conf on this version, so the proofs name the device.
 *   - The test backend produces a deterministic grey image: `--format=pnm -x 20 -y 20` gives a
 *     1554-byte P5 file at the default 50 dpi (with the packaged test.conf; without one, or with an
 *     empty one, the backend scans 0 lines and scanimage still exits 0 with a 32-byte header).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  makeHandle,
  makeTempDir,
  type PeerHandle,
  type PeerHost,
  removeTempDir,
  runIn,
  startProc,
  type Target,
  waitBound,
} from "./core";

export const SANE_PORT = 6566;

export interface SanedOptions {
  dataPorts: [number, number];
  ipv6?: boolean;
  /** saned.conf access list; default: the whole lab network of both families */
  allow?: string[];
}

export interface SanedHandle extends PeerHandle {
  address: string;
  /** data ports saned announced so far ("start_scan: using port N for data") */
  dataPortsUsed(): number[];
  log(): string;
}

function userExists(name: string): boolean {
  return fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .some((l) => l.startsWith(`${name}:`));
}

export async function startSaned(host: PeerHost, opts: SanedOptions): Promise<SanedHandle> {
  const dir = makeTempDir("saned");
  const address = opts.ipv6 ? host.ipv6 : host.ipv4;
  const allow = opts.allow ?? ["198.18.0.0/15", "2001:2::/48"];
  fs.writeFileSync(
    path.join(dir, "saned.conf"),
    `data_portrange = ${opts.dataPorts[0]} - ${opts.dataPorts[1]}\n${allow.join("\n")}\n`,
    { mode: 0o644 },
  );
  fs.writeFileSync(path.join(dir, "dll.conf"), "test\n", { mode: 0o644 });
  // the packaged defaults of the test backend (without a test.conf it scans 0 lines)
  fs.copyFileSync("/etc/sane.d/test.conf", path.join(dir, "test.conf"));
  const user = userExists("saned") ? ["-u", "saned"] : [];
  const proc = startProc(
    host,
    ["env", `SANE_CONFIG_DIR=${dir}`, "saned", "-l", "-e", "-d", "3", "-b", address, "-p", String(SANE_PORT), ...user],
    {
      cwd: dir,
      label: `saned ${host.name}`,
    },
  );
  await waitBound(host, "tcp", SANE_PORT, proc);
  return {
    address,
    dataPortsUsed: () => [...proc.stderr().matchAll(/start_scan: using port (\d+) for data/g)].map((m) => Number(m[1])),
    log: () => proc.stderr(),
    stop: makeHandle([proc], [dir]),
  };
}

export interface ScanResult {
  ok: boolean;
  bytes: number;
  /** first line of the image ("P5" for a grey PNM) */
  format: string;
  error: string | null;
  timedOut: boolean;
}

/** scanimage over the network from `client` to saned on `server` (the test backend's first device). */
export async function scanimage(
  client: PeerHost,
  server: Target,
  opts: { ipv6?: boolean; timeoutMs?: number } = {},
): Promise<ScanResult> {
  const addr = typeof server === "string" ? server : opts.ipv6 ? server.ipv6 : server.ipv4;
  const dir = makeTempDir("scanimage");
  try {
    fs.writeFileSync(path.join(dir, "dll.conf"), "net\n", { mode: 0o644 });
    fs.writeFileSync(path.join(dir, "net.conf"), "connect_timeout = 3\n", { mode: 0o644 });
    const device = `net:${addr.includes(":") ? `[${addr}]` : addr}:test:0`;
    const out = path.join(dir, "scan.pnm");
    const r = await runIn(
      client,
      ["sh", "-c", `SANE_CONFIG_DIR=${dir} exec scanimage -d '${device}' --format=pnm -x 20 -y 20 > ${out}`],
      { timeoutMs: opts.timeoutMs ?? 20_000, label: `scanimage ${client.name}` },
    );
    const image = fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0);
    const format = image.subarray(0, 2).toString("latin1");
    const ok = r.code === 0 && !r.timedOut && format === "P5" && image.length > 100;
    const error = ok ? null : r.timedOut ? "timed out" : `exit ${r.code}, ${image.length} bytes: ${r.stderr.trim()}`;
    return { ok, bytes: image.length, format, error, timedOut: r.timedOut };
  } finally {
    removeTempDir(dir);
  }
}
