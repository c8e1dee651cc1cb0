/**
 * Real peers for the end-to-end proof tests: real servers and clients started inside lab hosts
 * (network namespaces, see ./lab.ts), each returning a handle whose stop() kills everything it
 * started. Nothing may survive a test: every process is tagged with HNFT_PEER_TAG in its
 * environment and stop() kills the tagged processes, the process group and all descendants
 * (vsftpd puts each session in a new session with setsid(), so the process group alone is not
 * enough). stopAllPeers() and a process 'exit' hook sweep whatever a failing test left behind.
 *
 * Checked on Debian bookworm userspace (vsftpd 3.0.3, tftpd-hpa 5.2, SIPp 3.6.1, curl 7.88,
 * conntrack-tools 1.4.7, python3 3.11) on kernel 6.18 with built-in netfilter.
 *
 * What each server needs to stay inside a fixed range, and quirks hit on the way:
 *
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
 *
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
 *     times out. A firewalled TFTP client needs the tftp helper or `ip saddr SERVER udp sport
 *     A-B accept` for the server's port range.
 *
 * SIPp (startSippUas / runSippUac)
 *   - SIPp 3.6.1 (bookworm) has no -min_rtp_port/-max_rtp_port (those arrived with 3.7 for
 *     rtp_stream). The media port is pinned with `-mp PORT` (plus `-mi ADDR`): the UAS advertises
 *     it in its SDP and, with `-rtp_echo`, echoes RTP received on PORT **and on PORT+2** (second
 *     stream). So a UAS uses exactly rtpMin and rtpMin+2: the declared range must hold both.
 *   - SIPp also binds a UDP remote-control socket on 0.0.0.0:8888 (`-cp`); a firewall must not open
 *     it. startSippUas/runSippUac pass `-cp` explicitly so two SIPps in one host do not collide.
 *   - The UAC plays /usr/share/sip-tester/g711a.pcap with play_pcap_audio from its own media port
 *     (-mp, raw socket, source port = -mp) to the port in the UAS's SDP. The built-in uac_pcap
 *     scenario uses a relative pcap path and a 9 s call, so runSippUac writes its own scenario.
 *   - "Media flowed" is measured at the socket: just before BYE the scenario runs
 *     `ss -Hnuam sport = :MP` (an <exec command>) and a non-zero Recv-Q on the UAC's media socket
 *     means the UAS's echoes came back, i.e. RTP crossed both ways. SIPp's own RTP echo counter
 *     is only printed in periodic screens, not reliably at exit. SIPp's XML parser does not decode
 *     entities inside exec commands (`&amp;` reaches the shell verbatim): no & < > or quotes there.
 *   - `-timeout` does not end a UAS stuck in a call; the UAS is killed by stop(). Over TCP (t1) the
 *     built-in uas scenario counts the call as failed when the UAC closes the connection during
 *     the final 4 s pause: judge a call by the UAC only.
 *
 * GRE (greTunnel)
 *   - This kernel has CONFIG_NET_IPGRE_DEMUX (hence NET_IPGRE) off: `ip link add ... type gre`
 *     fails with "Unknown device type". greTunnel() then falls back to "raw" mode: a raw
 *     IPPROTO_GRE (47) socket on each side sends real GRE packets (RFC 2784 header, protocol
 *     0x0800) that carry an inner IPv4 ICMP echo 198.18.254.1 -> 198.18.254.2, and the far side
 *     answers with the echo reply, GRE-encapsulated. On the wire (and for nftables and conntrack,
 *     which tracks it as gre with key 0) it is the same traffic a kernel tunnel produces. Where the
 *     kernel has GRE, a real tunnel device is used and pinged.
 *   - PPTP (pptpd + pptp-linux) is not possible here: CONFIG_PPP is off and there is no /dev/ppp.
 *
 * FTP helper exploit (ftpHelperExploit, conntrack.md section 5)
 *   - The kernel ftp helper only parses a segment that starts right after a newline it has already
 *     seen: the victim sends `USER anonymous` first, waits for the reply, then `PORT a,b,c,d,p1,p2`
 *     in its own segment (TCP_NODELAY).
 *   - The expectation (attacker, any port -> victim:p) lives up to 5 min and outlives the test:
 *     ftpHelperExploit flushes the victim's expectation table before and after (`conntrack -F
 *     expect`), so a stale expectation can never make a later test pass or fail.
 *
 * Everything here uses /usr/bin/python3 (stdlib only) for probes, listeners and the exploit
 * actors, plus the Debian packages vsftpd, tftpd-hpa, tftp-hpa, sip-tester, curl, conntrack.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { onCleanup } from "../exit-cleanup";

// ---------------------------------------------------------------- types

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The part of lab.ts's LabHost that peers need. */
export interface PeerHost {
  name: string;
  netns: string;
  ipv4: string;
  ipv6: string;
  sh(script: string, opts?: { stdin?: string; allowFail?: boolean; timeoutMs?: number }): Promise<ExecResult>;
}

/** A host, or a literal address. */
export type Target = PeerHost | string;

export interface PeerHandle {
  /** Kills every process this handle started (and their descendants) and removes its files. */
  stop(): Promise<void>;
}

export type PortState = "open" | "closed" | "filtered";

export const PYTHON = "/usr/bin/python3";
const TAG_VAR = "HNFT_PEER_TAG";
const TAG_PREFIX = `hnft-peer-${process.pid}-`;

// ---------------------------------------------------------------- small helpers

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Single-quote for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function addrOf(t: Target, ipv6: boolean): string {
  return typeof t === "string" ? t : ipv6 ? t.ipv6 : t.ipv4;
}

function isV6(addr: string): boolean {
  return addr.includes(":");
}

/** host:port for URLs and sipp ("[v6]:port"). */
function hostPort(addr: string, port: number): string {
  return isV6(addr) ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export function sha256(buf: Buffer): string {
  return createHash("sha256").update(buf).digest("hex");
}

const tempDirs = new Set<string>();

export function makeTempDir(label: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `hnft-peers-${label}-`));
  fs.chmodSync(dir, 0o755); // servers drop privileges (ftp, tftp, nobody) and must traverse it
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}

export function writeRandomFile(dir: string, name: string, bytes: number): { path: string; size: number; sha256: string } {
  const data = randomBytes(bytes);
  const p = path.join(dir, name);
  fs.writeFileSync(p, data, { mode: 0o644 });
  fs.chmodSync(p, 0o644);
  return { path: p, size: bytes, sha256: sha256(data) };
}

export function parseJsonLine<T>(stdout: string): T | undefined {
  const lines = stdout.trim().split("\n").reverse();
  for (const l of lines) {
    const t = l.trim();
    if (t.startsWith("{")) {
      try {
        return JSON.parse(t) as T;
      } catch {
        /* keep looking */
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- process tracking

export interface Proc {
  tag: string;
  child: ChildProcess;
  label: string;
  /** output so far (capped) */
  stdout(): string;
  stderr(): string;
  exited: Promise<ExecResult>;
  isRunning(): boolean;
  /** resolves with the first stdout line matching re; rejects on exit or timeout */
  waitLine(re: RegExp, timeoutMs: number): Promise<string>;
  stop(): Promise<ExecResult>;
}

const liveProcs = new Set<Proc>();
const OUTPUT_CAP = 1 << 20;

function readProcFile(p: string): string | undefined {
  try {
    return fs.readFileSync(p, "latin1");
  } catch {
    return undefined;
  }
}

/** pids whose environment carries the given tag (or any tag of this process with prefix=true) */
function taggedPids(tag: string, prefix = false): number[] {
  const needle = `${TAG_VAR}=${tag}`;
  const out: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    const env = readProcFile(`/proc/${e}/environ`);
    if (!env) continue;
    for (const kv of env.split("\0")) {
      if (prefix ? kv.startsWith(needle) : kv === needle) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

/** pid -> {ppid, pgid} for every process */
function processTable(): Map<number, { ppid: number; pgid: number }> {
  const m = new Map<number, { ppid: number; pgid: number }>();
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readProcFile(`/proc/${e}/stat`);
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    m.set(Number(e), { ppid: Number(f[1]), pgid: Number(f[2]) });
  }
  return m;
}

function familyOf(root: number): Set<number> {
  const table = processTable();
  const fam = new Set<number>();
  if (table.has(root)) fam.add(root);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, p] of table) {
      if (fam.has(pid)) continue;
      if (fam.has(p.ppid) || p.pgid === root) {
        fam.add(pid);
        grew = true;
      }
    }
  }
  return fam;
}

function killPids(pids: Iterable<number>, sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

function isZombieOrGone(pid: number): boolean {
  const stat = readProcFile(`/proc/${pid}/stat`);
  if (!stat) return true;
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
}

/**
 * Start argv inside the host's netns (`ip netns exec`, like lab.ts: the /etc overlay applies),
 * tagged, in its own process group, with cwd = dir.
 */
export function startProc(host: PeerHost, argv: string[], opts: { cwd: string; label: string; stdin?: string }): Proc {
  const tag = `${TAG_PREFIX}${randomBytes(6).toString("hex")}`;
  const child = spawn("ip", ["netns", "exec", host.netns, ...argv], {
    cwd: opts.cwd,
    env: { ...process.env, [TAG_VAR]: tag, LC_ALL: "C" },
    stdio: [opts.stdin !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let err = "";
  const lineWaiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let pending = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => {
    if (out.length < OUTPUT_CAP) out += d;
    pending += d;
    let i: number;
    while ((i = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, i);
      pending = pending.slice(i + 1);
      for (let k = lineWaiters.length - 1; k >= 0; k--) {
        const w = lineWaiters[k]!;
        if (w.re.test(line)) {
          lineWaiters.splice(k, 1);
          w.resolve(line);
        }
      }
    }
  });
  child.stderr!.on("data", (d: string) => {
    if (err.length < OUTPUT_CAP) err += d;
  });
  child.on("error", (e) => {
    err += `\nspawn error: ${e.message}`;
  });
  if (opts.stdin !== undefined) {
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(opts.stdin);
  }
  let running = true;
  const exited = new Promise<ExecResult>((resolve) => {
    child.on("close", (code, signal) => {
      running = false;
      resolve({ code: code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 255), stdout: out, stderr: err });
    });
  });
  const proc: Proc = {
    tag,
    child,
    label: opts.label,
    stdout: () => out,
    stderr: () => err,
    exited,
    isRunning: () => running,
    waitLine: (re, timeoutMs) => {
      const seen = out.split("\n").find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${opts.label}: no line matching ${re} within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        const waiter = {
          re,
          resolve: (l: string) => {
            cleanup();
            resolve(l);
          },
        };
        const onExit = (r: ExecResult): void => {
          cleanup();
          reject(new Error(`${opts.label}: exited with ${r.code} before printing ${re}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`));
        };
        let done = false;
        const cleanup = (): void => {
          done = true;
          clearTimeout(timer);
          const i = lineWaiters.indexOf(waiter);
          if (i >= 0) lineWaiters.splice(i, 1);
        };
        lineWaiters.push(waiter);
        void exited.then((r) => {
          if (!done) onExit(r);
        });
      });
    },
    stop: async () => {
      await killTree(proc);
      liveProcs.delete(proc);
      return exited;
    },
  };
  liveProcs.add(proc);
  return proc;
}

/** SIGTERM the tagged processes, the group and descendants; SIGKILL whatever is left after a grace period. */
async function killTree(proc: Proc, graceMs = 1500): Promise<void> {
  const root = proc.child.pid;
  const collect = (): Set<number> => {
    const s = new Set<number>(taggedPids(proc.tag));
    if (root) for (const p of familyOf(root)) s.add(p);
    return s;
  };
  let victims = collect();
  if (root) {
    try {
      process.kill(-root, "SIGTERM");
    } catch {
      /* group gone */
    }
  }
  killPids(victims, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    victims = collect();
    if ([...victims].every(isZombieOrGone)) break;
    await sleep(20);
  }
  for (let round = 0; round < 50; round++) {
    victims = collect();
    const alive = [...victims].filter((p) => !isZombieOrGone(p));
    if (alive.length === 0) break;
    if (root) {
      try {
        process.kill(-root, "SIGKILL");
      } catch {
        /* group gone */
      }
    }
    killPids(alive, "SIGKILL");
    await sleep(20);
  }
  // the direct child is reaped by node; wait for it (bounded)
  await Promise.race([proc.exited, sleep(3000)]);
}

/** Run argv to completion inside the host (tagged; killed with its descendants on timeout). */
export async function runIn(
  host: PeerHost,
  argv: string[],
  opts: { timeoutMs: number; label: string; stdin?: string; cwd?: string },
): Promise<ExecResult & { timedOut: boolean; ms: number }> {
  const t0 = Date.now();
  const proc = startProc(host, argv, { cwd: opts.cwd ?? os.tmpdir(), label: opts.label, ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}) });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void killTree(proc, 200);
  }, opts.timeoutMs);
  const r = await proc.exited;
  clearTimeout(timer);
  // leftovers (background grandchildren) never outlive a one-shot
  if (taggedPids(proc.tag).length > 0) await killTree(proc, 200);
  liveProcs.delete(proc);
  return { ...r, timedOut, ms: Date.now() - t0 };
}

/** Kill every process any peer handle of this test process started; remove every temp dir. */
export async function stopAllPeers(): Promise<void> {
  for (const p of [...liveProcs]) await p.stop();
  for (const pid of taggedPids(TAG_PREFIX, true)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  for (const d of [...tempDirs]) removeTempDir(d);
}

/** pids of peer processes of this test process that are still alive (for "nothing survives" checks). */
export function leftoverPeerPids(): number[] {
  return taggedPids(TAG_PREFIX, true).filter((p) => !isZombieOrGone(p));
}

// Killed on exit and on SIGINT/SIGTERM/SIGHUP, like the lab itself.
onCleanup(() => {
  for (const p of liveProcs) {
    try {
      if (p.child.pid) process.kill(-p.child.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  for (const pid of taggedPids(TAG_PREFIX, true)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A handle over a set of processes and temp dirs, stoppable once (idempotent). */
export function makeHandle(procs: Proc[], dirs: string[], extra?: () => Promise<void>): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () => {
    stopping ??= (async () => {
      for (const p of procs) await p.stop();
      if (extra) await extra();
      for (const d of dirs) removeTempDir(d);
    })();
    return stopping;
  };
}

/**
 * Starts a peer that prints READY once it listens, and waits for that line; a peer that does not
 * get there is stopped (with its temp dirs) before the error is thrown.
 */
export async function startUntilReady(
  host: PeerHost,
  argv: string[],
  opts: { cwd: string; label: string; dirs?: string[]; timeoutMs?: number },
): Promise<{ proc: Proc; stop: () => Promise<void> }> {
  const proc = startProc(host, argv, opts);
  const stop = makeHandle([proc], opts.dirs ?? []);
  try {
    await proc.waitLine(/^READY$/, opts.timeoutMs ?? 10_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc, stop };
}

/** Wait until a socket is listening (tcp) or bound (udp) on port in the host; fail fast if proc died. */
export async function waitBound(host: PeerHost, proto: "tcp" | "udp", port: number, proc: Proc, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const flag = proto === "tcp" ? "-Hltn" : "-Hlun";
  for (;;) {
    if (!proc.isRunning()) {
      const r = await proc.exited;
      throw new Error(`${proc.label} exited (${r.code}) before binding ${proto}/${port}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    }
    const r = await host.sh(`ss ${flag} 'sport = :${port}'`, { allowFail: true, timeoutMs: 5000 });
    if (r.stdout.trim().length > 0) return;
    if (Date.now() > deadline) throw new Error(`${proc.label}: nothing bound on ${proto}/${port} after ${timeoutMs} ms\nstderr:\n${proc.stderr()}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------- python agent (stdlib only)

const AGENT_PY = String.raw`
import errno, json, socket, struct, sys, threading, time

def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET

def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()

def say(*parts):
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()

def tcp_probe(addr, port, timeout_ms, read_banner=True):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.settimeout(timeout_ms / 1000.0)
    t0 = time.time()
    try:
        s.connect((addr, port))
    except socket.timeout:
        return {"state": "filtered", "detail": "timeout", "ms": int((time.time() - t0) * 1000)}
    except ConnectionRefusedError:
        return {"state": "closed", "detail": "refused", "ms": int((time.time() - t0) * 1000)}
    except OSError as e:
        return {"state": "filtered", "detail": errno.errorcode.get(e.errno, str(e)), "ms": int((time.time() - t0) * 1000)}
    banner = ""
    if read_banner:
        s.settimeout(min(timeout_ms / 1000.0, 1.0))
        try:
            banner = s.recv(256).decode("latin-1")
        except OSError:
            pass
    s.close()
    return {"state": "open", "banner": banner, "ms": int((time.time() - t0) * 1000)}

def udp_probe(addr, port, timeout_ms, payload=b"probe\n"):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.settimeout(timeout_ms / 1000.0)
    try:
        s.connect((addr, port))
        s.send(payload)
        data = s.recv(65535)
        return {"state": "open", "reply": data.decode("latin-1")}
    except socket.timeout:
        return {"state": "filtered", "detail": "no reply (open|filtered)"}
    except ConnectionRefusedError:
        return {"state": "closed", "detail": "icmp port unreachable"}
    except OSError as e:
        return {"state": "filtered", "detail": errno.errorcode.get(e.errno, str(e))}
    finally:
        s.close()

def cmd_tcp_listen(addr, port, banner):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(64)
    say("READY")
    while True:
        c, peer = s.accept()
        say("ACCEPT", peer[0], peer[1])
        try:
            c.sendall((banner + "\n").encode())
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        c.close()

def cmd_udp_echo(addr, port):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    say("READY")
    while True:
        data, peer = s.recvfrom(65535)
        say("RECV", peer[0], peer[1], len(data))
        s.sendto(data, peer)

def cmd_send_udp(addr, port, payload, wait_ms, sport):
    s = socket.socket(fam(addr), socket.SOCK_DGRAM)
    if int(sport) > 0:
        s.bind(("::" if ":" in addr else "0.0.0.0", int(sport)))
    s.connect((addr, int(port)))
    res = {"sent": True, "localPort": s.getsockname()[1], "reply": None, "refused": False}
    s.send(payload.encode())
    if int(wait_ms) > 0:
        s.settimeout(int(wait_ms) / 1000.0)
        try:
            res["reply"] = s.recv(65535).decode("latin-1")
        except socket.timeout:
            pass
        except ConnectionRefusedError:
            res["refused"] = True
    out(res)

def cmd_scan(addr, timeout_ms, tcp_ports, udp_ports):
    res = {"tcp": {}, "udp": {}}
    lock = threading.Lock()
    def run(kind, p):
        r = tcp_probe(addr, p, timeout_ms, False) if kind == "tcp" else udp_probe(addr, p, timeout_ms)
        with lock:
            res[kind][str(p)] = r["state"]
    threads = [threading.Thread(target=run, args=("tcp", p)) for p in tcp_ports]
    threads += [threading.Thread(target=run, args=("udp", p)) for p in udp_ports]
    for i in range(0, len(threads), 64):
        batch = threads[i:i + 64]
        for t in batch:
            t.start()
        for t in batch:
            t.join()
    out(res)

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF

def inner_icmp(src, dst, icmp_type, ident, seq, payload):
    icmp = struct.pack("!BBHHH", icmp_type, 0, 0, ident, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), ident, 0, 64, 1, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + icmp

def gre_wrap(inner):
    # RFC 2784: no checksum/key/sequence, version 0, protocol type IPv4
    return struct.pack("!HH", 0, 0x0800) + inner

def gre_parse(pkt):
    # IPv4 raw sockets deliver the outer IP header too
    ihl = (pkt[0] & 0x0F) * 4
    outer_src = socket.inet_ntoa(pkt[12:16])
    gre = pkt[ihl:]
    if len(gre) < 4:
        return outer_src, None
    flags, proto = struct.unpack("!HH", gre[:4])
    off = 4 + (4 if flags & 0x8000 else 0) + (4 if flags & 0x2000 else 0) + (4 if flags & 0x1000 else 0)
    if proto != 0x0800:
        return outer_src, None
    inner = gre[off:]
    if len(inner) < 28:
        return outer_src, None
    iihl = (inner[0] & 0x0F) * 4
    if inner[9] != 1:
        return outer_src, None
    itype, _, _, ident, seq = struct.unpack("!BBHHH", inner[iihl:iihl + 8])
    return outer_src, {"src": socket.inet_ntoa(inner[12:16]), "dst": socket.inet_ntoa(inner[16:20]),
                       "type": itype, "id": ident, "seq": seq, "payload": inner[iihl + 8:]}

def cmd_gre_responder(local, inner_local):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    s.bind((local, 0))
    say("READY")
    while True:
        pkt, _ = s.recvfrom(65535)
        src, icmp = gre_parse(pkt)
        if icmp is None or icmp["type"] != 8 or icmp["dst"] != inner_local:
            continue
        say("ECHO", src, icmp["src"], icmp["seq"])
        s.sendto(gre_wrap(inner_icmp(icmp["dst"], icmp["src"], 0, icmp["id"], icmp["seq"], icmp["payload"])), (src, 0))

def cmd_gre_ping(local, remote, inner_src, inner_dst, count, timeout_ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
    s.bind((local, 0))
    ident = (int(time.time() * 1000) ^ 0x5A5A) & 0xFFFF
    received = 0
    for seq in range(1, int(count) + 1):
        s.sendto(gre_wrap(inner_icmp(inner_src, inner_dst, 8, ident, seq, b"hnft-gre-%d" % seq)), (remote, 0))
        deadline = time.time() + int(timeout_ms) / 1000.0
        while True:
            left = deadline - time.time()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                pkt, _ = s.recvfrom(65535)
            except socket.timeout:
                break
            src, icmp = gre_parse(pkt)
            if icmp and src == remote and icmp["type"] == 0 and icmp["id"] == ident and icmp["seq"] == seq:
                received += 1
                break
    out({"sent": int(count), "received": received})

def cmd_icmp_ping(addr, count, timeout_ms):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = (int(time.time() * 1000) ^ 0xA5A5) & 0xFFFF
    received = 0
    for seq in range(1, int(count) + 1):
        icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"hnft-ping"
        icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
        s.sendto(icmp, (addr, 0))
        deadline = time.time() + int(timeout_ms) / 1000.0
        while True:
            left = deadline - time.time()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                pkt, peer = s.recvfrom(65535)
            except socket.timeout:
                break
            ihl = (pkt[0] & 0x0F) * 4
            t, _, _, i, q = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
            if peer[0] == addr and t == 0 and i == ident and q == seq:
                received += 1
                break
    out({"sent": int(count), "received": received})

def cmd_ftp_victim(server, port, own_ip, listen_port, hold_ms):
    s = socket.socket(fam(server), socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(5)
    s.connect((server, int(port)))
    say("BANNER", s.recv(512).decode("latin-1").strip())
    # The helper parses only a segment that starts right after a newline it has already seen:
    # one complete line first, in its own segment, then PORT in the next one.
    s.sendall(b"USER anonymous\r\n")
    say("REPLY", s.recv(512).decode("latin-1").strip())
    lp = int(listen_port)
    cmd = "PORT %s,%d,%d\r\n" % (own_ip.replace(".", ","), lp >> 8, lp & 0xFF)
    s.sendall(cmd.encode())
    say("REPLY", s.recv(512).decode("latin-1").strip())
    say("SENT", cmd.strip())
    time.sleep(int(hold_ms) / 1000.0)
    s.close()

def cmd_fake_ftpd(addr, port):
    s = socket.socket(fam(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(8)
    say("READY")
    while True:
        c, peer = s.accept()
        say("ACCEPT", peer[0], peer[1])
        c.sendall(b"220 hnft fake ftp\r\n")
        buf = b""
        while True:
            try:
                d = c.recv(1024)
            except OSError:
                break
            if not d:
                break
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.decode("latin-1").strip()
                say("LINE", line)
                u = line.upper()
                if u.startswith("USER"):
                    c.sendall(b"331 any password\r\n")
                elif u.startswith("PORT"):
                    c.sendall(b"200 PORT command successful\r\n")
                else:
                    c.sendall(b"502 not implemented\r\n")
        c.close()

def ports(spec):
    return [int(p) for p in spec.split(",") if p]

def main(a):
    cmd, a = a[0], a[1:]
    if cmd == "tcp-listen":
        cmd_tcp_listen(a[0], a[1], a[2])
    elif cmd == "udp-echo":
        cmd_udp_echo(a[0], a[1])
    elif cmd == "tcp-probe":
        out(tcp_probe(a[0], int(a[1]), int(a[2])))
    elif cmd == "udp-probe":
        out(udp_probe(a[0], int(a[1]), int(a[2]), a[3].encode()))
    elif cmd == "send-udp":
        cmd_send_udp(a[0], a[1], a[2], a[3], a[4])
    elif cmd == "scan":
        cmd_scan(a[0], int(a[1]), ports(a[2]), ports(a[3]))
    elif cmd == "gre-responder":
        cmd_gre_responder(a[0], a[1])
    elif cmd == "gre-ping":
        cmd_gre_ping(*a)
    elif cmd == "icmp-ping":
        cmd_icmp_ping(*a)
    elif cmd == "ftp-victim":
        cmd_ftp_victim(*a)
    elif cmd == "fake-ftpd":
        cmd_fake_ftpd(a[0], a[1])
    else:
        raise SystemExit("unknown command " + cmd)

try:
    main(sys.argv[1:])
except KeyboardInterrupt:
    pass
`;

export function agent(...args: Array<string | number>): string[] {
  return [PYTHON, "-c", AGENT_PY, ...args.map(String)];
}

export async function agentOnce<T>(host: PeerHost, label: string, timeoutMs: number, ...args: Array<string | number>): Promise<T> {
  const r = await runIn(host, agent(...args), { timeoutMs, label });
  const v = parseJsonLine<T>(r.stdout);
  if (v === undefined) {
    throw new Error(`${label} on ${host.name}: no result (exit ${r.code}${r.timedOut ? ", timed out" : ""})\n${r.stdout}\n${r.stderr}`);
  }
  return v;
}

// ---------------------------------------------------------------- FTP (vsftpd + curl)

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

function userExists(name: string): boolean {
  const passwd = readProcFile("/etc/passwd") ?? "";
  return passwd.split("\n").some((l) => l.startsWith(`${name}:`));
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

// ---------------------------------------------------------------- TFTP (tftpd-hpa + tftp-hpa)

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

export async function tftpFetch(client: PeerHost, server: Target, file: string, opts: TftpFetchOptions = {}): Promise<TftpFetchResult> {
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
    const script = ["verbose", "mode octet", "rexmt 1", `timeout ${timeoutSec}`, `get ${file} ${local}`, "quit", ""].join("\n");
    const r = await runIn(client, argv, { timeoutMs: timeoutSec * 1000 + 10_000, label: `tftp@${client.name}`, stdin: script, cwd: dir });
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

// ---------------------------------------------------------------- SIP + RTP (SIPp)

export type SipTransport = "u1" | "t1";

export interface SippUasOptions {
  port?: number;
  transport?: SipTransport;
  /** media port pinned with -mp rtpMin; SIPp echoes on rtpMin and rtpMin+2 */
  rtpMin: number;
  rtpMax: number;
  ipv6?: boolean;
  /** SIPp's UDP remote-control port (-cp, bound on 0.0.0.0), default 8888 */
  controlPort?: number;
}

export interface SippUasHandle extends PeerHandle {
  host: PeerHost;
  address: string;
  port: number;
  transport: SipTransport;
  /** the RTP ports the UAS actually uses (echo sockets) */
  rtpPorts: number[];
  output(): string;
}

export async function startSippUas(host: PeerHost, opts: SippUasOptions): Promise<SippUasHandle> {
  const port = opts.port ?? 5060;
  const transport = opts.transport ?? "u1";
  const ipv6 = opts.ipv6 ?? false;
  if (!(opts.rtpMin > 1023 && opts.rtpMin + 2 <= opts.rtpMax && opts.rtpMax <= 65535)) {
    throw new Error(`startSippUas: RTP range ${opts.rtpMin}-${opts.rtpMax} must hold rtpMin and rtpMin+2 (SIPp's two echo ports)`);
  }
  const address = ipv6 ? host.ipv6 : host.ipv4;
  const dir = makeTempDir("sipp-uas");
  const argv = [
    "sipp",
    "-sn",
    "uas",
    "-i",
    address,
    "-p",
    String(port),
    "-t",
    transport,
    "-mi",
    address,
    "-mp",
    String(opts.rtpMin),
    "-rtp_echo",
    "-cp",
    String(opts.controlPort ?? 8888),
    "-nostdin",
  ];
  const proc = startProc(host, argv, { cwd: dir, label: `sipp-uas@${host.name}` });
  const stop = makeHandle([proc], [dir]);
  try {
    await waitBound(host, transport === "t1" ? "tcp" : "udp", port, proc);
    await waitBound(host, "udp", opts.rtpMin, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host,
    address,
    port,
    transport,
    rtpPorts: [opts.rtpMin, opts.rtpMin + 2],
    output: () => proc.stdout() + proc.stderr(),
    stop,
  };
}

export interface SippUacOptions {
  port?: number;
  transport?: SipTransport;
  ipv6?: boolean;
  calls?: number;
  /** play RTP (g711a.pcap) during the call (default true) */
  rtp?: boolean;
  /** the UAC's own media port (-mp), default 6000 */
  mediaPort?: number;
  /** time between ACK and BYE (default 1500 ms) */
  callMs?: number;
  /** SIPp remote-control port of the UAC (-cp), default 8898 */
  controlPort?: number;
  timeoutMs?: number;
}

export interface SippUacResult {
  /** every call got 200 to INVITE and 200 to BYE (UAC exit code 0) */
  completed: boolean;
  successfulCalls: number;
  failedCalls: number;
  /** the UAS's RTP echo reached the UAC's media socket: media crossed both ways */
  mediaFlowed: boolean;
  /** bytes queued on the UAC's media socket just before BYE (echoed RTP) */
  echoedBytes: number;
  /** SIPp's "Total RTP pckts sent" when its final screen shows it (only printed in periodic screens), else null */
  rtpPacketsSent: number | null;
  exitCode: number;
  ms: number;
  output: string;
}

const PCAP_AUDIO = "/usr/share/sip-tester/g711a.pcap";

function uacScenario(opts: { rtp: boolean; callMs: number; mediaPort: number; probeFile: string }): string {
  const sdp = `      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000`;
  const play = opts.rtp
    ? `  <nop>
    <action>
      <exec play_pcap_audio="${PCAP_AUDIO}"/>
    </action>
  </nop>
`
    : "";
  // no & < > or quotes: SIPp hands the command to sh without decoding XML entities
  const probe = `  <nop>
    <action>
      <exec command="ss -Hnuam sport = :${opts.mediaPort} | tee ${opts.probeFile}"/>
    </action>
  </nop>
  <pause milliseconds="200"/>
`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hnft uac with rtp">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: hnft peers
      Content-Type: application/sdp
      Content-Length: [len]

${sdp}
    ]]>
  </send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="200" rtd="true"></recv>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: hnft peers
      Content-Length: 0
    ]]>
  </send>
${play}  <pause milliseconds="${opts.callMs}"/>
${probe}  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: hnft peers
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"></recv>
</scenario>
`;
}

/** A real call (INVITE/200/ACK, RTP, BYE/200) from client to server with SIPp. */
export async function runSippUac(client: PeerHost, server: Target, opts: SippUacOptions = {}): Promise<SippUacResult> {
  const ipv6 = opts.ipv6 ?? false;
  const transport = opts.transport ?? "u1";
  const port = opts.port ?? 5060;
  const calls = opts.calls ?? 1;
  const rtp = opts.rtp ?? true;
  const mediaPort = opts.mediaPort ?? 6000;
  const callMs = opts.callMs ?? 1500;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const local = ipv6 ? client.ipv6 : client.ipv4;
  const dir = makeTempDir("sipp-uac");
  try {
    const probeFile = path.join(dir, "rtpq.txt");
    const scenario = path.join(dir, "uac.xml");
    fs.writeFileSync(scenario, uacScenario({ rtp, callMs, mediaPort, probeFile }));
    const argv = [
      "sipp",
      hostPort(addrOf(server, ipv6), port),
      "-sf",
      scenario,
      "-i",
      local,
      "-t",
      transport,
      "-mi",
      local,
      "-mp",
      String(mediaPort),
      "-cp",
      String(opts.controlPort ?? 8898),
      "-m",
      String(calls),
      "-l",
      "1",
      "-nostdin",
      "-timeout",
      `${Math.max(1, Math.ceil(timeoutMs / 1000))}s`,
      "-timeout_error",
    ];
    const r = await runIn(client, argv, { timeoutMs: timeoutMs + 10_000, label: `sipp-uac@${client.name}`, cwd: dir });
    const output = r.stdout + r.stderr;
    const cumulative = (label: string): number => {
      const m = new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(output);
      return m ? Number(m[1]) : 0;
    };
    const successfulCalls = cumulative("Successful call");
    const failedCalls = cumulative("Failed call");
    const sentMatches = [...output.matchAll(/(\d+) Total RTP pckts sent/g)];
    const rtpPacketsSent = sentMatches.length ? Math.max(...sentMatches.map((m) => Number(m[1]))) : null;
    let echoedBytes = 0;
    if (fs.existsSync(probeFile)) {
      const m = /^\S+\s+(\d+)\s+\d+/.exec(fs.readFileSync(probeFile, "utf8").trim());
      if (m) echoedBytes = Number(m[1]);
    }
    return {
      completed: r.code === 0 && successfulCalls === calls,
      successfulCalls,
      failedCalls,
      mediaFlowed: echoedBytes > 0,
      echoedBytes,
      rtpPacketsSent,
      exitCode: r.code,
      ms: r.ms,
      output: output.length > 20_000 ? output.slice(-20_000) : output,
    };
  } finally {
    removeTempDir(dir);
  }
}

// ---------------------------------------------------------------- UDP helpers

export interface UdpEchoHandle extends PeerHandle {
  host: PeerHost;
  address: string;
  port: number;
  /** datagrams received so far */
  received(): Array<{ from: string; port: number; bytes: number }>;
}

export async function udpEchoListener(host: PeerHost, port: number, opts: { ipv6?: boolean } = {}): Promise<UdpEchoHandle> {
  const address = opts.ipv6 ? host.ipv6 : host.ipv4;
  const { proc, stop } = await startUntilReady(host, agent("udp-echo", address, port), { cwd: os.tmpdir(), label: `udp-echo@${host.name}:${port}` });
  return {
    host,
    address,
    port,
    received: () =>
      proc
        .stdout()
        .split("\n")
        .map((l) => /^RECV (\S+) (\d+) (\d+)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ from: m[1]!, port: Number(m[2]), bytes: Number(m[3]) })),
    stop,
  };
}

export interface SendUdpResult {
  sent: boolean;
  localPort: number;
  /** the echo/reply, null if none arrived within waitMs */
  reply: string | null;
  /** ICMP port unreachable came back */
  refused: boolean;
}

/** One datagram from client to server:port; waits waitMs (default 1000) for a reply. */
export async function sendUdp(
  client: PeerHost,
  server: Target,
  port: number,
  payload: string,
  opts: { ipv6?: boolean; waitMs?: number; sourcePort?: number } = {},
): Promise<SendUdpResult> {
  const addr = addrOf(server, opts.ipv6 ?? false);
  const waitMs = opts.waitMs ?? 1000;
  return agentOnce<SendUdpResult>(client, "send-udp", waitMs + 10_000, "send-udp", addr, port, payload, waitMs, opts.sourcePort ?? 0);
}

// ---------------------------------------------------------------- TCP listener, probes, scan

export interface TcpListenerHandle extends PeerHandle {
  host: PeerHost;
  address: string;
  port: number;
  banner: string;
  /** peers that connected so far */
  accepted(): Array<{ from: string; port: number }>;
}

/** A TCP listener that sends a banner line to every connection and closes it. */
export async function tcpListener(host: PeerHost, port: number, opts: { ipv6?: boolean; banner?: string } = {}): Promise<TcpListenerHandle> {
  const address = opts.ipv6 ? host.ipv6 : host.ipv4;
  const banner = opts.banner ?? `HNFT-LISTENER-${host.name}-${port}`;
  const { proc, stop } = await startUntilReady(host, agent("tcp-listen", address, port, banner), { cwd: os.tmpdir(), label: `tcp-listen@${host.name}:${port}` });
  return {
    host,
    address,
    port,
    banner,
    accepted: () =>
      proc
        .stdout()
        .split("\n")
        .map((l) => /^ACCEPT (\S+) (\d+)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ from: m[1]!, port: Number(m[2]) })),
    stop,
  };
}

export interface ProbeResult {
  state: PortState;
  /** timeout / refused / errno name */
  detail?: string;
  /** TCP: first bytes the server sent (open ports) */
  banner?: string;
  /** UDP: the reply */
  reply?: string;
  ms?: number;
}

/** open = handshake completed; closed = RST; filtered = no answer (or ICMP unreachable other than port). */
export function tcpProbe(client: PeerHost, addr: string, port: number, timeoutMs = 1500): Promise<ProbeResult> {
  return agentOnce<ProbeResult>(client, "tcp-probe", timeoutMs + 10_000, "tcp-probe", addr, port, timeoutMs);
}

/** open = a reply came back; closed = ICMP port unreachable; filtered = nothing (open|filtered). */
export function udpProbe(client: PeerHost, addr: string, port: number, timeoutMs = 1500, payload = "hnft-probe\n"): Promise<ProbeResult> {
  return agentOnce<ProbeResult>(client, "udp-probe", timeoutMs + 10_000, "udp-probe", addr, port, timeoutMs, payload);
}

export interface ScanResult {
  tcp: Record<number, PortState>;
  udp: Record<number, PortState>;
}

/** Sampled scan: every port probed in parallel (64 at a time) from the client. */
export async function scan(client: PeerHost, addr: string, ports: { tcp?: number[]; udp?: number[]; timeoutMs?: number }): Promise<ScanResult> {
  const timeoutMs = ports.timeoutMs ?? 800;
  const tcp = ports.tcp ?? [];
  const udp = ports.udp ?? [];
  const batches = Math.ceil((tcp.length + udp.length) / 64) || 1;
  const raw = await agentOnce<{ tcp: Record<string, PortState>; udp: Record<string, PortState> }>(
    client,
    "scan",
    batches * (timeoutMs + 2000) + 10_000,
    "scan",
    addr,
    timeoutMs,
    tcp.join(","),
    udp.join(","),
  );
  const conv = (r: Record<string, PortState>): Record<number, PortState> =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [Number(k), v])) as Record<number, PortState>;
  return { tcp: conv(raw.tcp), udp: conv(raw.udp) };
}

// ---------------------------------------------------------------- GRE

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
export async function greTunnel(a: PeerHost, b: PeerHost, opts: { mode?: "auto" | "kernel" | "raw" } = {}): Promise<GreTunnelHandle> {
  const mode = opts.mode ?? "auto";
  let kernelUnavailable: string | null = null;
  if (mode !== "raw") {
    const mk = (local: string, remote: string, inner: string): string =>
      `ip link add ${GRE_DEV} type gre local ${local} remote ${remote} ttl 64 && ip addr add ${inner}/${GRE_INNER.prefix} dev ${GRE_DEV} && ip link set ${GRE_DEV} up`;
    const ra = await a.sh(mk(a.ipv4, b.ipv4, GRE_INNER.a), { allowFail: true, timeoutMs: 10_000 });
    const rb = ra.code === 0 ? await b.sh(mk(b.ipv4, a.ipv4, GRE_INNER.b), { allowFail: true, timeoutMs: 10_000 }) : undefined;
    if (ra.code === 0 && rb?.code === 0) {
      const del = async (): Promise<void> => {
        await a.sh(`ip link del ${GRE_DEV} 2>/dev/null; true`, { allowFail: true });
        await b.sh(`ip link del ${GRE_DEV} 2>/dev/null; true`, { allowFail: true });
      };
      return {
        mode: "kernel",
        kernelUnavailable: null,
        ping: (count = 3, timeoutMs = 1000) =>
          agentOnce<{ sent: number; received: number }>(a, "icmp-ping", count * timeoutMs + 10_000, "icmp-ping", GRE_INNER.b, count, timeoutMs),
        stop: makeHandle([], [], del),
      };
    }
    await a.sh(`ip link del ${GRE_DEV} 2>/dev/null; true`, { allowFail: true });
    await b.sh(`ip link del ${GRE_DEV} 2>/dev/null; true`, { allowFail: true });
    kernelUnavailable = `${(ra.code !== 0 ? ra.stderr : (rb?.stderr ?? "")).trim()} (ip link add type gre)`;
    if (mode === "kernel") throw new Error(`greTunnel: kernel GRE unavailable: ${kernelUnavailable}`);
  }
  const responder = startProc(b, agent("gre-responder", b.ipv4, GRE_INNER.b), { cwd: os.tmpdir(), label: `gre-responder@${b.name}` });
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

// ---------------------------------------------------------------- nft helpers

/** Load an nft script in the host (nft -f - from stdin); throws with nft's message on error. */
export async function nftLoad(host: PeerHost, ruleset: string): Promise<void> {
  const r = await host.sh("nft -f -", { stdin: ruleset, allowFail: true, timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`nft -f failed on ${host.name} (${r.code}):\n${r.stderr}\n--- ruleset ---\n${ruleset}`);
}

/** Delete table inet <table> if present. */
export async function nftDeleteTable(host: PeerHost, table: string): Promise<void> {
  await host.sh(`nft list table inet ${table} >/dev/null 2>&1 && nft delete table inet ${table}; true`, { allowFail: true, timeoutMs: 15_000 });
}

/**
 * The vulnerable baseline of conntrack.md section 5, as one atomic `nft -f` script for table inet <table>:
 * input policy drop with `ct state established,related accept` (the blanket related accept),
 * tcp/22 open, and the ftp helper object assigned to OUTBOUND tcp dport 21 in an output chain
 * (priority filter). With { blanketRelated: false } the related accept becomes
 * `ct state established accept` (what the project renders) and nothing else changes;
 * { assignHelper: false } drops only the helper assignment (control: no helper, no expectation).
 */
export function baselineVulnerableRuleset(table: string, opts: { blanketRelated?: boolean; assignHelper?: boolean } = {}): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,30}$/.test(table)) throw new Error(`bad table name ${table}`);
  const related = (opts.blanketRelated ?? true) ? "ct state established,related accept" : "ct state established accept";
  const assign = (opts.assignHelper ?? true) ? `tcp dport 21 ct helper set "ftp-out"` : "# no helper assignment";
  return `table inet ${table}
delete table inet ${table}
table inet ${table} {
  ct helper ftp-out {
    type "ftp" protocol tcp
    l3proto ip
  }

  chain input {
    type filter hook input priority filter; policy drop;
    iif "lo" accept
    ${related}
    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept
    tcp dport 22 accept
  }

  chain output {
    type filter hook output priority filter; policy accept;
    ${assign}
  }
}
`;
}

// ---------------------------------------------------------------- the FTP helper exploit

export interface ExploitResult {
  /** the victim's conntrack had an expectation attacker -> victim:victimListenPort after the PORT line */
  expectationCreated: boolean;
  /** the attacker completed a TCP connection to victim:victimListenPort and read the fake database's banner */
  attackerConnected: boolean;
  /** the victim's /proc/net/nf_conntrack_expect right after the PORT line */
  expectations: string;
  /** what the victim's FTP client printed (banner, replies, SENT line) */
  victimTranscript: string;
  /** lines the attacker's fake FTP server received */
  attackerSaw: string[];
  probe: ProbeResult;
}

/**
 * conntrack.md section 5: a victim process connects OUT to the attacker's tcp/21 and, after one
 * earlier line, sends `PORT <victim ip>,p1,p2` naming a local listener no rule opens (a fake
 * database). If an ftp helper is attached to that connection, the kernel creates an expectation
 * attacker -> victim:port; with a blanket `ct state related accept` the attacker can then connect.
 * IPv4 (the classic PORT command).
 */
export async function ftpHelperExploit(
  victim: PeerHost,
  attacker: PeerHost,
  opts: { victimListenPort?: number; ftpPort?: number; connectTimeoutMs?: number } = {},
): Promise<ExploitResult> {
  const lp = opts.victimListenPort ?? 3306;
  const ftpPort = opts.ftpPort ?? 21;
  const banner = `HNFT-FAKE-DB-${randomBytes(4).toString("hex")}`;
  const flushExpect = (): Promise<ExecResult> => victim.sh("conntrack -F expect >/dev/null 2>&1; true", { allowFail: true, timeoutMs: 10_000 });
  const procs: Proc[] = [];
  const stop = makeHandle(procs, []);
  try {
    await flushExpect();
    const db = startProc(victim, agent("tcp-listen", victim.ipv4, lp, banner), { cwd: os.tmpdir(), label: `fake-db@${victim.name}:${lp}` });
    procs.push(db);
    const ftpd = startProc(attacker, agent("fake-ftpd", attacker.ipv4, ftpPort), { cwd: os.tmpdir(), label: `fake-ftpd@${attacker.name}` });
    procs.push(ftpd);
    await Promise.all([db.waitLine(/^READY$/, 10_000), ftpd.waitLine(/^READY$/, 10_000)]);

    const client = startProc(victim, agent("ftp-victim", attacker.ipv4, ftpPort, victim.ipv4, lp, 60_000), {
      cwd: os.tmpdir(),
      label: `ftp-victim@${victim.name}`,
    });
    procs.push(client);
    await client.waitLine(/^SENT PORT /, 10_000);

    // the expectation is created while the PORT segment passes the output hook; poll briefly anyway
    const re = new RegExp(`src=${attacker.ipv4.replace(/\./g, "\\.")} dst=${victim.ipv4.replace(/\./g, "\\.")} sport=0 dport=${lp}\\b`);
    let expectations = "";
    let expectationCreated = false;
    for (let i = 0; i < 20 && !expectationCreated; i++) {
      expectations = (await victim.sh("cat /proc/net/nf_conntrack_expect 2>/dev/null; true", { allowFail: true })).stdout;
      expectationCreated = re.test(expectations);
      if (!expectationCreated) await sleep(50);
    }

    const probe = await tcpProbe(attacker, victim.ipv4, lp, opts.connectTimeoutMs ?? 3000);
    const dbSawAttacker = db
      .stdout()
      .split("\n")
      .some((l) => l.startsWith(`ACCEPT ${attacker.ipv4} `));
    const attackerConnected = probe.state === "open" && (probe.banner ?? "").includes(banner) && dbSawAttacker;
    return {
      expectationCreated,
      attackerConnected,
      expectations,
      victimTranscript: client.stdout(),
      attackerSaw: ftpd
        .stdout()
        .split("\n")
        .filter((l) => l.startsWith("LINE "))
        .map((l) => l.slice(5)),
      probe,
    };
  } finally {
    await stop();
    await flushExpect();
  }
}
