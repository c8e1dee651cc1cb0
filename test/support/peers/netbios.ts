/**
 * NetBIOS name service peers for the proofs (issue #12): Samba's `nmbd` inside a lab host and
 * `nmblookup` as the client, from the Debian packages samba and samba-common-bin (Samba 4.17).
 *
 * - nmbd runs in the foreground (`--foreground --no-process-group`) with its own smb.conf in a temp
 *   dir (`-s`), and every directory it writes (lock, state, cache, pid, private, ncalrpc, log) in
 *   that dir: the machine's /etc/samba and /var/lib/samba are neither read nor written, and two
 *   nmbd in different lab hosts do not share a pid file.
 * - `interfaces = ADDR/24` + `bind interfaces only = yes`: nmbd binds udp/137 and udp/138 on the
 *   host's address, on the subnet's broadcast address and on 0.0.0.0 (the last one receives the
 *   broadcast queries). NetBIOS over TCP/IP is IPv4 only.
 * - nmbd answers broadcast queries for its name only once it has registered it on the broadcast
 *   subnet, after its registration broadcasts went unanswered (about 3 s; unicast queries are
 *   answered earlier): startNmbd waits for that line of nmbd's log (`-d 3`).
 * - It is never a browse master here (`local master = no`), so it does not hold elections.
 * - nmblookup: `-U ADDR` queries one server (unicast), `-B BCAST` broadcasts the query; every
 *   host that holds the name answers by unicast from udp/137 to the querier's port. Success is a
 *   line `ADDR NAME<00>`; "name_query failed to find name" and exit 1 otherwise. nmblookup needs
 *   an smb.conf too (a temp one naming the client's interface).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  makeHandle,
  makeTempDir,
  type PeerHandle,
  type PeerHost,
  removeTempDir,
  runIn,
  startProc,
  waitBound,
} from "./core";

export interface NmbdHandle extends PeerHandle {
  host: PeerHost;
  /** the NetBIOS name nmbd registers and answers for */
  name: string;
  log(): string;
  /** resolves with the first log line matching re (rejects after timeoutMs or when nmbd exits) */
  waitLog(re: RegExp, timeoutMs?: number): Promise<string>;
}

function smbConf(dir: string, host: PeerHost, extra: string[]): string {
  const sub = (d: string): string => {
    const p = path.join(dir, d);
    fs.mkdirSync(p, { recursive: true });
    return p;
  };
  const conf = path.join(dir, "smb.conf");
  fs.writeFileSync(
    conf,
    [
      "[global]",
      `  interfaces = ${host.ipv4}/24`,
      "  bind interfaces only = yes",
      `  lock directory = ${sub("lock")}`,
      `  state directory = ${sub("state")}`,
      `  cache directory = ${sub("cache")}`,
      `  pid directory = ${sub("pid")}`,
      `  private dir = ${sub("private")}`,
      `  ncalrpc dir = ${sub("ncalrpc")}`,
      `  log file = ${path.join(sub("log"), "log.%m")}`,
      ...extra.map((l) => `  ${l}`),
      "",
    ].join("\n"),
    { mode: 0o644 },
  );
  return conf;
}

/** The broadcast address of a lab host's /24. */
export function broadcastOf(host: PeerHost): string {
  return host.ipv4.replace(/\.\d+$/, ".255");
}

/** `waitRegistered: false` returns as soon as nmbd listens (to watch a registration that cannot complete). */
export async function startNmbd(
  host: PeerHost,
  opts: { name?: string; workgroup?: string; waitRegistered?: boolean } = {},
): Promise<NmbdHandle> {
  const name = (opts.name ?? `HNFT${host.name.toUpperCase()}`).slice(0, 15);
  const dir = makeTempDir("nmbd");
  const conf = smbConf(dir, host, [
    `netbios name = ${name}`,
    `workgroup = ${opts.workgroup ?? "HNFTLAB"}`,
    "disable netbios = no",
    "local master = no",
    "preferred master = no",
    "domain master = no",
    "wins support = no",
    "dns proxy = no",
  ]);
  const proc = startProc(
    host,
    ["/usr/sbin/nmbd", "--foreground", "--no-process-group", "--debug-stdout", "-d", "3", "-s", conf],
    {
      cwd: dir,
      label: `nmbd@${host.name}`,
    },
  );
  const stop = makeHandle([proc], [dir]);
  try {
    await waitBound(host, "udp", 137, proc);
    // Registered on the broadcast subnet: from then on nmbd answers broadcast queries too (unicast
    // ones a few seconds earlier). The line is nmbd's debug level 3.
    const esc = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    if (opts.waitRegistered ?? true)
      await proc.waitLine(new RegExp(`Added netbios name ${esc(name)}<00> .* to subnet ${esc(host.ipv4)}$`), 30_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host,
    name,
    log: () => proc.stdout(),
    waitLog: (re, timeoutMs = 30_000) => proc.waitLine(re, timeoutMs),
    stop,
  };
}

export interface NmbLookupResult {
  ok: boolean;
  /** every `ADDR NAME<00>` line: who answered */
  answers: Array<{ address: string; name: string }>;
  output: string;
}

/** nmblookup from `client`: unicast to one server, or broadcast on an address. */
export async function nmbLookup(
  client: PeerHost,
  name: string,
  opts: { unicast?: string; broadcast?: string; timeoutMs?: number },
): Promise<NmbLookupResult> {
  const dir = makeTempDir("nmblookup");
  try {
    const conf = smbConf(dir, client, []);
    const target = opts.unicast ? ["-U", opts.unicast] : ["-B", opts.broadcast ?? broadcastOf(client)];
    const r = await runIn(client, ["nmblookup", "-s", conf, ...target, name], {
      timeoutMs: opts.timeoutMs ?? 15_000,
      label: `nmblookup@${client.name}`,
      cwd: os.tmpdir(),
    });
    const answers = [...r.stdout.matchAll(/^(\d+\.\d+\.\d+\.\d+) (\S+)<00>$/gm)].map((m) => ({
      address: m[1]!,
      name: m[2]!,
    }));
    return { ok: r.code === 0 && answers.length > 0, answers, output: `${r.stdout}${r.stderr}`.trim() };
  } finally {
    removeTempDir(dir);
  }
}
