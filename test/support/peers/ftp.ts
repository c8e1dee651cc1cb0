/**
 * vsftpd (startVsftpd)
 *   - `pasv_min_port`/`pasv_max_port` pin the passive (PASV and EPSV) data ports; the data
 *     connection comes from the control connection's local address (pasv_address unset).
 *   - Active mode: `connect_from_port_20=YES` makes the server's data connection originate from
 *     tcp/20; the client's port is whatever the client announces (curl -P ADDR:A-B pins it).
 *   - One process listens on one family: `listen=YES` + listen_address (v4) or `listen_ipv6=YES`
 *     + listen_address6 (v6). `background=NO` keeps it in the foreground.
 *   - `seccomp_sandbox=NO` is set defensively; on this kernel vsftpd 3.0.3 worked in a netns with
 *     the sandbox on as well (the well-known "500 OOPS: prctl" failure did not show up here).
 *   - Each session runs in its own session (setsid), outside the listener's process group.
 *   - anon_root must not be writable by the ftp user; files 0644, dirs 0755.
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

export interface VsftpdOptions {
  pasvMin: number;
  pasvMax: number;
  port?: number;
  ipv6?: boolean;
  /** name of the known file in anon_root (random bytes) */
  file?: string;
  fileBytes?: number;
  /** active mode: server data connections from tcp/20 (default true, as Debian's vsftpd.conf) */
  activeFromPort20?: boolean;
}

export interface VsftpdHandle extends PeerHandle {
  host: PeerHost;
  address: string;
  port: number;
  ipv6: boolean;
  pasvMin: number;
  pasvMax: number;
  anonRoot: string;
  file: { name: string; size: number; sha256: string };
  configPath: string;
}

export async function startVsftpd(host: PeerHost, opts: VsftpdOptions): Promise<VsftpdHandle> {
  const port = opts.port ?? 21;
  const ipv6 = opts.ipv6 ?? false;
  if (!(opts.pasvMin > 1023 && opts.pasvMin <= opts.pasvMax && opts.pasvMax <= 65535)) {
    throw new Error(`startVsftpd: bad passive range ${opts.pasvMin}-${opts.pasvMax}`);
  }
  const address = ipv6 ? host.ipv6 : host.ipv4;
  const dir = makeTempDir("vsftpd");
  const anonRoot = path.join(dir, "anon");
  const empty = path.join(dir, "empty");
  fs.mkdirSync(anonRoot, { mode: 0o755 });
  fs.mkdirSync(empty, { mode: 0o555 });
  fs.chmodSync(anonRoot, 0o755);
  fs.chmodSync(empty, 0o555);
  const name = opts.file ?? "hnft-peer.bin";
  const f = writeRandomFile(anonRoot, name, opts.fileBytes ?? 65_536);
  const conf = [
    ipv6 ? "listen=NO" : "listen=YES",
    ipv6 ? "listen_ipv6=YES" : "listen_ipv6=NO",
    ipv6 ? `listen_address6=${address}` : `listen_address=${address}`,
    `listen_port=${port}`,
    "background=NO",
    "anonymous_enable=YES",
    "no_anon_password=YES",
    `anon_root=${anonRoot}`,
    userExists("ftp") ? "ftp_username=ftp" : "ftp_username=nobody",
    "local_enable=NO",
    "write_enable=NO",
    "seccomp_sandbox=NO",
    "pasv_enable=YES",
    `pasv_min_port=${opts.pasvMin}`,
    `pasv_max_port=${opts.pasvMax}`,
    "port_enable=YES",
    `connect_from_port_20=${(opts.activeFromPort20 ?? true) ? "YES" : "NO"}`,
    `secure_chroot_dir=${empty}`,
    "xferlog_enable=NO",
    "dirmessage_enable=NO",
    "use_localtime=NO",
    "ssl_enable=NO",
    "pam_service_name=vsftpd",
    "",
  ].join("\n");
  const configPath = path.join(dir, "vsftpd.conf");
  fs.writeFileSync(configPath, conf, { mode: 0o600 });
  const proc = startProc(host, ["/usr/sbin/vsftpd", configPath], { cwd: dir, label: `vsftpd@${host.name}` });
  const stop = makeHandle([proc], [dir]);
  try {
    await waitBound(host, "tcp", port, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host,
    address,
    port,
    ipv6,
    pasvMin: opts.pasvMin,
    pasvMax: opts.pasvMax,
    anonRoot,
    file: { name, size: f.size, sha256: f.sha256 },
    configPath,
    stop,
  };
}

export interface FtpFetchOptions {
  file: string;
  port?: number;
  ipv6?: boolean;
  /** passive (default) or active (PORT/EPRT, server connects back to the client) */
  passive?: boolean;
  /** passive: false forces PASV instead of EPSV; active: false forces PORT instead of EPRT */
  extended?: boolean;
  /** active mode: local port range the client listens on, e.g. [40000, 40010] */
  activePortRange?: [number, number];
  /** also LIST the directory first (default true), on the same control connection */
  list?: boolean;
  timeoutMs?: number;
}

export interface FtpFetchResult {
  ok: boolean;
  bytes: number;
  sha256: string | null;
  /** LIST output (null if not requested or failed) */
  listing: string | null;
  /** data ports seen in curl's trace: passive = server ports connected to; active = client ports announced */
  dataPorts: number[];
  exitCode: number;
  error: string | null;
  ms: number;
}

/** curl from the client: LIST + RETR of one file over one control connection. */
export async function ftpFetch(client: PeerHost, server: Target, opts: FtpFetchOptions): Promise<FtpFetchResult> {
  const ipv6 = opts.ipv6 ?? false;
  const port = opts.port ?? 21;
  const passive = opts.passive ?? true;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const addr = addrOf(server, ipv6);
  const base = `ftp://${hostPort(addr, port)}/`;
  const dir = makeTempDir("curl");
  try {
    const listPath = path.join(dir, "list.txt");
    const filePath = path.join(dir, "file.bin");
    const argv = [
      "curl",
      "-sS",
      "-v",
      "--globoff",
      "--max-time",
      String(Math.max(1, Math.ceil(timeoutMs / 1000))),
      "--connect-timeout",
      String(Math.max(1, Math.ceil(timeoutMs / 2000))),
    ];
    if (passive) {
      if (opts.extended === false) argv.push("--disable-epsv");
    } else {
      const local = ipv6 ? client.ipv6 : client.ipv4;
      const range = opts.activePortRange ? `:${opts.activePortRange[0]}-${opts.activePortRange[1]}` : "";
      argv.push("--ftp-port", `${ipv6 ? `[${local}]` : local}${range}`);
      if (opts.extended === false) argv.push("--disable-eprt");
    }
    if (opts.list ?? true) argv.push(base, "-o", listPath);
    argv.push(`${base}${opts.file}`, "-o", filePath);
    const r = await runIn(client, argv, { timeoutMs: timeoutMs + 5000, label: `curl@${client.name}`, cwd: dir });
    const data = fs.existsSync(filePath) ? fs.readFileSync(filePath) : undefined;
    const listing = fs.existsSync(listPath) ? fs.readFileSync(listPath, "utf8") : null;
    const dataPorts: number[] = [];
    for (const line of r.stderr.split("\n")) {
      let m = /^\* Connecting to \S+ \(\S+\) port (\d+)/.exec(line);
      if (m && Number(m[1]) !== port) dataPorts.push(Number(m[1]));
      m = /^> PORT \d+,\d+,\d+,\d+,(\d+),(\d+)/.exec(line);
      if (m) dataPorts.push(Number(m[1]) * 256 + Number(m[2]));
      m = /^> EPRT \|\d\|[^|]+\|(\d+)\|/.exec(line);
      if (m) dataPorts.push(Number(m[1]));
    }
    const errLine = r.stderr
      .split("\n")
      .filter((l) => l.startsWith("curl:"))
      .join("\n");
    const ok = r.code === 0 && data !== undefined && (opts.list === false || (listing ?? "").includes(opts.file));
    return {
      ok,
      bytes: data?.length ?? 0,
      sha256: data ? sha256(data) : null,
      listing,
      dataPorts,
      exitCode: r.code,
      error: ok ? null : errLine || `curl exit ${r.code}${r.timedOut ? " (killed on timeout)" : ""}`,
      ms: r.ms,
    };
  } finally {
    removeTempDir(dir);
  }
}
