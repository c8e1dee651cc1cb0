/**
 * IRC peers for the proofs (issue #12): ngircd (Debian's ngircd 26.1) as the real IRC server, and
 * two scripted IRC clients (python3, stdlib) that speak the IRC client protocol to it and make a
 * real DCC SEND file transfer over real sockets: the sender offers a file in a CTCP
 * `PRIVMSG <nick> :\x01DCC SEND <file> <ip> <port> <size>\x01` relayed by ngircd, listens on a
 * port of the declared DCC range, the receiver connects there and downloads the file (with the
 * 4-byte acknowledgements of the DCC protocol). IPv4 addresses go as the decimal integer, IPv6 as
 * the literal (what irssi sends).
 *
 * Interactive clients (irssi, WeeChat) cannot be scripted reliably; the wire is the same.
 *
 * Checked on Debian bookworm with kernel 6.18:
 *   - `ngircd -n -f FILE` stays in the foreground; `Listen = a,b` binds one socket per address;
 *     it drops to ServerUID/ServerGID and writes its pid file after that (the temp dir is chowned).
 *   - The kernel irc helper reads only what the side that OPENED the IRC connection sends, only
 *     a segment that starts with `PRIVMSG ` (kernel >= 6.0 tightened the matching), and only an
 *     IPv4 DCC address equal to that side's own address; it expects a connection from ANY source
 *     to that side's address and port. The sender therefore sends the offer in its own segment
 *     (TCP_NODELAY, after the server has answered).
 */

import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  makeHandle,
  makeTempDir,
  type PeerHandle,
  type PeerHost,
  PYTHON,
  parseJsonLine,
  removeTempDir,
  runIn,
  startProc,
  waitBound,
} from "./core";

export const IRC_PORT = 6667;

const IRC_SCRIPT = path.join(__dirname, "scripts", "irc.py");

export interface NgircdHandle extends PeerHandle {
  addresses: string[];
  log(): string;
}

function ircIds(): { uid: number; gid: number } | undefined {
  const line = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("irc:"));
  if (!line) return undefined;
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** ngircd on `host`, listening on tcp/6667 of the host's IPv4 and IPv6 addresses. */
export async function startNgircd(host: PeerHost): Promise<NgircdHandle> {
  const dir = makeTempDir("ngircd");
  const ids = ircIds();
  const conf = [
    "[Global]",
    "\tName = irc.hnft.test",
    "\tInfo = hnft lab IRC server",
    "\tAdminInfo1 = hnft lab",
    "\tAdminInfo2 = hnft lab",
    "\tAdminEMail = root@localhost",
    `\tListen = ${host.ipv4},${host.ipv6}`,
    `\tPorts = ${IRC_PORT}`,
    "\tMotdPhrase = hnft lab",
    `\tPidFile = ${path.join(dir, "ngircd.pid")}`,
    ...(ids ? ["\tServerUID = irc", "\tServerGID = irc"] : []),
    "[Limits]",
    "\tMaxConnectionsIP = 0",
    "[Options]",
    "\tPAM = no",
    "\tDNS = no",
    "\tIdent = no",
    "",
  ].join("\n");
  const file = path.join(dir, "ngircd.conf");
  fs.writeFileSync(file, conf, { mode: 0o644 });
  if (ids) fs.chownSync(dir, ids.uid, ids.gid);
  const proc = startProc(host, ["ngircd", "-n", "-f", file], { cwd: dir, label: `ngircd ${host.name}` });
  await waitBound(host, "tcp", IRC_PORT, proc);
  return {
    addresses: [host.ipv4, host.ipv6],
    log: () => proc.stdout() + proc.stderr(),
    stop: makeHandle([proc], [dir]),
  };
}

export interface DccOffer {
  from: string;
  file: string;
  ip: string;
  port: number;
  size: number;
}

export interface DccTransfer {
  /** what the receiver got in the PRIVMSG relayed by the IRC server */
  offer: DccOffer | null;
  ok: boolean;
  bytes: number;
  sha256Matches: boolean;
  error: string | null;
  /** what the sender saw: did a DCC connection arrive, from where */
  sender: { offered: boolean; accepted: boolean; from: string | null; sent: number } | null;
}

export interface DccOptions {
  /** IRC server address and the hosts of the two clients */
  ircServer: string;
  sender: PeerHost;
  receiver: PeerHost;
  /** address the sender offers (one of its own) and the port it listens on */
  senderAddress: string;
  dccPort: number;
  size?: number;
  /** how long the receiver tries to connect to the offered port */
  connectMs?: number;
  nicks?: [string, string];
}

/** A DCC SEND from `sender` to `receiver`, both registered on the IRC server `ircServer`. */
export async function dccTransfer(o: DccOptions): Promise<DccTransfer> {
  const dir = makeTempDir("dcc");
  const [sNick, rNick] = o.nicks ?? ["alice", "bob"];
  const data = randomBytes(o.size ?? 200_000);
  const file = path.join(dir, "hnft-dcc.bin");
  fs.writeFileSync(file, data, { mode: 0o644 });
  const connectMs = o.connectMs ?? 4000;
  const receiver = startProc(
    o.receiver,
    [PYTHON, IRC_SCRIPT, "get", o.ircServer, String(IRC_PORT), rNick, "15000", String(connectMs)],
    {
      cwd: dir,
      label: `dcc receiver ${o.receiver.name}`,
    },
  );
  try {
    await receiver.waitLine(/^READY$/, 15_000);
    const sent = await runIn(
      o.sender,
      [
        PYTHON,
        IRC_SCRIPT,
        "send",
        o.ircServer,
        String(IRC_PORT),
        sNick,
        rNick,
        file,
        o.senderAddress,
        String(o.dccPort),
        String(connectMs + 2000),
      ],
      { timeoutMs: connectMs + 20_000, label: `dcc sender ${o.sender.name}` },
    );
    const got = await receiver.exited;
    const r = parseJsonLine<{
      offer: DccOffer | null;
      ok: boolean;
      bytes: number;
      sha256: string | null;
      error: string | null;
    }>(got.stdout);
    if (!r)
      throw new Error(
        `dcc receiver: no result (exit ${got.code})\n${got.stdout}\n${got.stderr}\nsender:\n${sent.stdout}\n${sent.stderr}`,
      );
    const sender = parseJsonLine<DccTransfer["sender"]>(sent.stdout) ?? null;
    if (!sender) throw new Error(`dcc sender: no result (exit ${sent.code})\n${sent.stdout}\n${sent.stderr}`);
    const expected = createHash("sha256").update(data).digest("hex");
    return { offer: r.offer, ok: r.ok, bytes: r.bytes, sha256Matches: r.sha256 === expected, error: r.error, sender };
  } finally {
    await receiver.stop();
    removeTempDir(dir);
  }
}

/** Connects and registers a nick on the IRC server (the "001" welcome), or says why not. */
export async function ircRegister(
  client: PeerHost,
  server: string,
  nick: string,
  timeoutMs = 4000,
): Promise<{ registered: boolean; error: string | null }> {
  const r = await runIn(client, [PYTHON, IRC_SCRIPT, "hello", server, String(IRC_PORT), nick, String(timeoutMs)], {
    timeoutMs: timeoutMs + 5000,
    label: `irc hello ${client.name}`,
  });
  const v = parseJsonLine<{ registered: boolean; error: string | null }>(r.stdout);
  if (!v) throw new Error(`irc hello: no result (exit ${r.code})\n${r.stdout}\n${r.stderr}`);
  return v;
}
