/**
 * Amanda peers for the proofs (issue #12): the real Amanda 3.5.1 of Debian bookworm on both sides.
 *
 * - The firewalled host is the Amanda CLIENT: amandad, started per request by a real inetd
 *   (openbsd-inetd, `inetd -d CONF` in the foreground with its own inetd.conf) on udp/10080 with
 *   `-auth=bsd` (the UDP protocol the kernel's amanda helper reads; Debian's own inetd line uses
 *   bsdtcp, everything over one tcp/10080 connection, which neither the helper nor a data range
 *   is about). `unreserved-tcp-port A,B` in amanda-client.conf pins the ports sendbackup listens
 *   on for the data (the reply to the server carries `CONNECT DATA p MESG p INDEX p`; the server
 *   then connects to them: inbound data connections, the range the exposure declares).
 * - The peer host is the Amanda SERVER: `amcheck -c` (selfcheck request/response) and `amdump`
 *   (a full backup cycle: sendsize estimate, sendbackup, dumper, taper onto a chg-disk virtual
 *   tape), run as the `backup` user.
 *
 * What the lab needs, and where it goes (never the machine's /etc, /var/backups or inetd):
 *   - /etc/amanda/... and /etc/amandahosts (Debian's /var/backups/.amandahosts links there) are
 *     written into each lab host's /etc overlay (`ip netns exec` binds them over /etc).
 *   - /etc/hosts: bsd auth resolves the peer address to a name and back, so both hosts get
 *     names for the lab addresses (amclient.hnft.test, amserver.hnft.test).
 *   - /etc/services: bookworm's netbase lists `amanda 10080/tcp` only; without `amanda
 *     10080/udp` amcheck sends its request nowhere and times out ("timeout waiting for ACK").
 *   - state (vtapes, curinfo, logs, gnutar lists) lives in a temp dir. Amanda's debug logs are
 *     compiled to /var/log/amanda (shared with the machine): they stay there, like any run's.
 *   - Debian builds Amanda `--without-ipv6`: IPv4 only.
 *   - The amanda-server perl tools need Encode::Locale (libencode-locale-perl), which the
 *     packages do not depend on.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import type { LabHost } from "../lab";
import { makeHandle, makeTempDir, type PeerHandle, runIn, startProc, waitBound } from "./core";

export const AMANDA_PORT = 10080;
const CONFIG = "hnft";
const CLIENT_NAME = "amclient.hnft.test";
const SERVER_NAME = "amserver.hnft.test";

function backupIds(): { uid: number; gid: number } {
  const line = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("backup:"));
  if (!line) throw new Error("no backup user: install amanda-common");
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function chownR(p: string, uid: number, gid: number): void {
  fs.chownSync(p, uid, gid);
  if (fs.statSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownR(path.join(p, e), uid, gid);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGKILLs every descendant of `root` (not root itself) and waits until they are gone. */
async function killChildren(root: number | undefined): Promise<void> {
  if (!root) return;
  const descendants = (): number[] => {
    const parent = new Map<number, number>();
    for (const e of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${e}/stat`, "latin1");
        const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (state !== "Z") parent.set(Number(e), Number(ppid));
      } catch {
        /* gone */
      }
    }
    const out = new Set<number>();
    let grew = true;
    while (grew) {
      grew = false;
      for (const [pid, ppid] of parent) {
        if (!out.has(pid) && (ppid === root || out.has(ppid))) {
          out.add(pid);
          grew = true;
        }
      }
    }
    return [...out];
  };
  for (let i = 0; i < 100; i++) {
    const left = descendants();
    if (left.length === 0) return;
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    await sleep(20);
  }
}

export interface AmandaLab extends PeerHandle {
  /** sha256 of the file the backup must carry */
  fileSha256: string;
  /** amcheck -c from an Amanda server host (default the first): the selfcheck request/response through udp/10080 */
  amcheck(from?: LabHost): Promise<{ ok: boolean; output: string }>;
  /** amdump: a full backup of the client's directory onto a virtual tape */
  amdump(): Promise<AmdumpResult>;
}

export interface AmdumpResult {
  ok: boolean;
  /** the SUCCESS/FAIL line of the dumper (or driver) from the run's log */
  outcome: string;
  /** the backed-up file, restored from the virtual tape, matches */
  restoredMatches: boolean;
  /** data connections the Amanda client's host tracked from the Amanda server (dport) */
  dataPorts: number[];
}

/**
 * Amanda between `client` (amandad; the firewalled host) and `server` (amcheck/amdump), IPv4.
 * `dataPorts` goes into the client's `unreserved-tcp-port`. `others` get the same server
 * configuration but are not in the client's amandahosts (amandad refuses them).
 */
export async function startAmanda(
  client: LabHost,
  server: LabHost,
  dataPorts: [number, number],
  others: LabHost[] = [],
): Promise<AmandaLab> {
  const ids = backupIds();
  const dir = makeTempDir("amanda");
  const etcFiles: string[] = [];
  const put = (host: LabHost, rel: string, content: string, mode = 0o644): void => {
    const p = path.join(host.etc, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content, { mode });
    etcFiles.push(p);
  };
  try {
    for (const d of [
      "data",
      "curinfo",
      "log",
      "index",
      "gnutar-lists",
      "restore",
      ...Array.from({ length: 10 }, (_, i) => `vtapes/slot${i + 1}`),
    ]) {
      fs.mkdirSync(path.join(dir, d), { recursive: true });
    }
    const data = randomBytes(300_000);
    fs.writeFileSync(path.join(dir, "data", "payload.bin"), data);
    chownR(dir, ids.uid, ids.gid);

    const servers = [server, ...others];
    const hosts = [
      `127.0.0.1 localhost`,
      `${client.ipv4} ${CLIENT_NAME}`,
      `${server.ipv4} ${SERVER_NAME}`,
      ...others.map((o, i) => `${o.ipv4} amother${i}.hnft.test`),
      "",
    ].join("\n");
    const services = `${fs.readFileSync("/etc/services", "utf8")}\namanda\t\t${AMANDA_PORT}/udp\n`;
    for (const h of [client, ...servers]) {
      put(h, "hosts", hosts);
      put(h, "services", services);
    }
    put(client, "amandahosts", `${SERVER_NAME} backup amdump\n`, 0o600);
    fs.chownSync(path.join(client.etc, "amandahosts"), ids.uid, ids.gid);
    put(
      client,
      "amanda/amanda-client.conf",
      `gnutar_list_dir "${dir}/gnutar-lists"\nunreserved-tcp-port ${dataPorts[0]},${dataPorts[1]}\n`,
    );
    const serverConf = [
      `org "${CONFIG}"`,
      'mailto ""',
      'dumpuser "backup"',
      "dumpcycle 0",
      "runspercycle 1",
      "tapecycle 10",
      "runtapes 1",
      // one request try (10 s) instead of three, so a blocked control port fails in 10 s
      "req_tries 1",
      `tpchanger "chg-disk:${dir}/vtapes"`,
      'labelstr "^HNFT-[0-9][0-9]*$"',
      'autolabel "HNFT-%%" any',
      'tapetype "DISK"',
      `infofile "${dir}/curinfo"`,
      `logdir "${dir}/log"`,
      `indexdir "${dir}/index"`,
      "define tapetype DISK {",
      "  length 100 mbytes",
      "}",
      "define dumptype simple {",
      '  program "GNUTAR"',
      '  auth "bsd"',
      "  compress none",
      "  index no",
      "  record no",
      "  holdingdisk never",
      "}",
      "",
    ].join("\n");
    for (const srv of servers) {
      put(srv, `amanda/${CONFIG}/amanda.conf`, serverConf);
      put(srv, `amanda/${CONFIG}/disklist`, `${CLIENT_NAME} ${dir}/data simple\n`);
    }
    for (const h of [client, ...servers]) chownR(path.join(h.etc, "amanda"), ids.uid, ids.gid);
    // the Amanda server's failed data connections end after one SYN retry, not two minutes
    await server.sh("sysctl -qw net.ipv4.tcp_syn_retries=1");

    const inetdConf = path.join(dir, "inetd.conf");
    fs.writeFileSync(
      inetdConf,
      `${client.ipv4}:${AMANDA_PORT} dgram udp wait backup /usr/lib/amanda/amandad amandad -auth=bsd amdump noop selfcheck sendsize sendbackup\n`,
    );
    const inetd = startProc(client, ["/usr/sbin/inetd", "-d", inetdConf], { cwd: dir, label: `inetd ${client.name}` });
    await waitBound(client, "udp", AMANDA_PORT, inetd);

    const asBackup = (cmd: string, timeoutMs: number, on: LabHost = server) =>
      runIn(on, ["su", "-s", "/bin/sh", "backup", "-c", cmd], { timeoutMs, label: `${cmd} ${on.name}`, cwd: dir });

    return {
      fileSha256: createHash("sha256").update(data).digest("hex"),
      amcheck: async (from = server) => {
        const r = await asBackup(`amcheck -c ${CONFIG}`, 60_000, from);
        const output = `${r.stdout}${r.stderr}`.trim();
        return { ok: r.code === 0 && /0 problems found/.test(output), output };
      },
      amdump: async () => {
        const logs = (): string[] =>
          ["log", "log/oldlog"].flatMap((d) =>
            fs.existsSync(path.join(dir, d))
              ? fs
                  .readdirSync(path.join(dir, d))
                  .filter((f) => f.startsWith("log."))
                  .map((f) => path.join(dir, d, f))
              : [],
          );
        const before = new Set(logs());
        // forget earlier runs' connections, so the data ports read below are this run's
        await client.sh("conntrack -F -f ipv4 >/dev/null 2>&1; true", { allowFail: true });
        const r = await asBackup(`amdump ${CONFIG}`, 120_000);
        // a failed dump leaves amandad and sendbackup waiting for connections that never come
        // (and inetd, in wait mode, answers nothing meanwhile): end what this inetd started
        await killChildren(inetd.child.pid);
        // the run's trace log (amdump moves it to log/oldlog/ when it trims old ones)
        const log = logs()
          .filter((f) => !before.has(f))
          .map((f) => fs.readFileSync(f, "utf8"))
          .join("\n");
        const outcome =
          log.split("\n").find((l) => /^(SUCCESS|FAIL|FAILED) (dumper|driver)/.test(l)) ??
          `no dumper result (amdump exit ${r.code})`;
        // the dump on the virtual tape: a 32 KiB Amanda header, then GNU tar
        let restoredMatches = false;
        const tapes = fs.readdirSync(path.join(dir, "vtapes")).filter((s) => s.startsWith("slot"));
        const dumps = tapes.flatMap((s) =>
          fs
            .readdirSync(path.join(dir, "vtapes", s))
            .filter((f) => f.includes(CLIENT_NAME))
            .map((f) => path.join(dir, "vtapes", s, f)),
        );
        const latest = dumps.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
        if (latest && outcome.startsWith("SUCCESS")) {
          const out = path.join(dir, "restore");
          fs.rmSync(out, { recursive: true, force: true });
          fs.mkdirSync(out);
          await client.sh(`dd if='${latest}' bs=32k skip=1 status=none | tar -xf - -C '${out}'`);
          const restored = path.join(out, "payload.bin");
          restoredMatches =
            fs.existsSync(restored) &&
            createHash("sha256").update(fs.readFileSync(restored)).digest("hex") ===
              createHash("sha256").update(data).digest("hex");
        }
        const ct = (
          await client.sh(`conntrack -L -p tcp --orig-src ${server.ipv4} --orig-dst ${client.ipv4} 2>/dev/null`, {
            allowFail: true,
          })
        ).stdout;
        // the original direction's dport (the reply tuple's dport is the server's source port)
        const dataPortsSeen = ct
          .split("\n")
          .flatMap((l) => {
            const m = / dport=(\d+) /.exec(l);
            return m ? [Number(m[1])] : [];
          })
          .filter((port) => port !== AMANDA_PORT && port !== 22);
        return {
          ok: outcome.startsWith("SUCCESS") && restoredMatches,
          outcome,
          restoredMatches,
          dataPorts: [...new Set(dataPortsSeen)].sort((a, b) => a - b),
        };
      },
      stop: makeHandle([inetd], [dir], async () => {
        for (const f of etcFiles) fs.rmSync(f, { force: true });
        for (const h of [client, ...servers]) fs.rmSync(path.join(h.etc, "amanda"), { recursive: true, force: true });
      }),
    };
  } catch (e) {
    for (const f of etcFiles) fs.rmSync(f, { force: true });
    throw e;
  }
}
