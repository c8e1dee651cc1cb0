/**
 * Test lab: real OpenSSH servers in network namespaces on a private bridge.
 *
 * Layout (slot N, 1..250, allocated atomically with mkdir under /run/hnft-lab):
 *   root ns:  bridge hnftbrN (198.18.N.1/24, 2001:2:0:N::1/64) = the controller (test process)
 *   host i:   netns hnft-N-hi, veth hnftNhi (bridge port) <-> eth0 (198.18.N.(10+i), 2001:2:0:N::(10+i))
 *             /etc overlay /etc/netns/hnft-N-hi (bound over /etc/* by `ip netns exec`)
 *             sshd started through `ip netns exec`, so sshd and its sessions see the overlay
 *   files:    /run/hnft-lab/slot-N/{owner.<pid>, lab.json, known_hosts, hi/{keys,authorized_keys,home,...}}
 *
 * Ownership: the slot dir holds exactly one `owner.<pid>` (or `owner.persistent`) file whose
 * content records the pid's start time (so a recycled pid is not mistaken for the owner).
 * A reaper takes over a dead owner's slot by rename(owner.<dead>, owner.<me>), which only one
 * process can win, tears everything down, then renames the slot dir away and deletes it.
 *
 * Only addresses from 198.18.0.0/15 and 2001:2::/48 are ever used.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { onCleanup } from "./exit-cleanup";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LabUser {
  user: string;
  privateKey: string;
  keyPath: string; // ed25519, unencrypted, file mode 0600
  /** added: public key line ("ssh-ed25519 AAAA...") */
  publicKey: string;
  /** added: the user's password on the lab host (operator only) */
  password?: string;
  /** added: numeric uid on the lab host */
  uid: number;
  /** added: home directory as seen on the lab host (lives under the lab dir on the machine) */
  home: string;
}

export interface ShOptions {
  stdin?: string;
  allowFail?: boolean;
  timeoutMs?: number;
}

export interface LabHost {
  name: string; // "h1", "h2", ...
  netns: string; // "hnft-<slot>-h1"
  ipv4: string; // 198.18.<slot>.<10+i>
  ipv6: string; // 2001:2:0:<slot>::<10+i>
  sshPort: number; // 22
  hostKey: string; // "ssh-ed25519 AAAA..." (sshd host key of this host)
  root: LabUser;
  operator: LabUser; // "hnftop", passwordless sudo
  etc: string; // /etc/netns/<netns>
  sh(script: string, opts?: ShOptions): Promise<ExecResult>;
  stopSshd(): Promise<void>;
  startSshd(): Promise<void>;
  /** added: known_hosts lines for this host (v4 and v6 address) */
  knownHosts: string;
  /** added: this host's private dir on the machine (keys, sshd config/log, homes) */
  dir: string;
  /** added: sshd log (sshd -e output) */
  sshdLog: string;
  /** added: the root-namespace end of this host's veth pair */
  veth: string;
  /** added: start a long-running process in the netns (e.g. a server); killed on stop() or lab destroy */
  spawn(script: string): LabProcess;
}

export interface LabProcess {
  pid: number;
  /** resolves when the process exits (never rejects) */
  exited: Promise<ExecResult>;
  /** SIGTERM the process group, SIGKILL after 2 s; resolves when it is gone */
  stop(): Promise<ExecResult>;
}

export interface Lab {
  slot: number;
  controllerIpv4: string;
  controllerIpv6: string;
  hosts: LabHost[];
  destroy(): Promise<void>;
  /** added */
  label: string;
  bridge: string;
  dir: string; // /run/hnft-lab/slot-<slot>
  knownHostsPath: string; // known_hosts file pinning every host's key on v4 and v6
  persistent: boolean;
}

export interface CreateLabOptions {
  hosts: number;
  label?: string;
  /** added: survive the creating process (sshd detached, not reaped by cleanupStaleLabs); for the sandbox CLI */
  persistent?: boolean;
}

export const LAB_ROOT = "/run/hnft-lab";
export const NETNS_ETC = "/etc/netns";
export const OPERATOR_USER = "hnftop";
export const OPERATOR_PASSWORD = "hnft-lab-password";
/** sha512-crypt of OPERATOR_PASSWORD (openssl passwd -6 -salt hnftlabsalt hnft-lab-password) */
const OPERATOR_PASSWORD_HASH =
  "$6$hnftlabsalt$0gndFTqsGg52zTA/HqtqNDXfYV8DduZXH89zhqUyem4jxWuaJSvmV2/LbXJD/7Qb83XNciNJ3ye2jfeA9pile0";
const MAX_SLOT = 250;
const MAX_HOSTS = 200;
const SSHD = "/usr/sbin/sshd";
/** a slot dir without a readable owner file younger than this is still being created */
const OWNERLESS_GRACE_MS = 30_000;

export const bridgeName = (slot: number): string => `hnftbr${slot}`;
export const netnsName = (slot: number, i: number): string => `hnft-${slot}-h${i}`;
export const vethName = (slot: number, i: number): string => `hnft${slot}h${i}`;
export const slotDir = (slot: number): string => path.join(LAB_ROOT, `slot-${slot}`);

// ---------------------------------------------------------------- process helpers

interface RunOptions {
  input?: string;
  timeoutMs?: number;
  allowFail?: boolean;
}

/** Run a command in its own process group; kill the whole group on timeout. */
function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    let exitCode: number | null = null;
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid, "SIGKILL");
    }, timeoutMs);
    child.stdout!.on("data", (d: Buffer) => out.push(d));
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    child.stdin!.on("error", () => undefined); // EPIPE if the command does not read stdin
    const finish = (spawnError?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout!.destroy();
      child.stderr!.destroy();
      const res: ExecResult = {
        code: exitCode ?? (timedOut ? 124 : 255),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      if (spawnError) reject(spawnError);
      else if (timedOut) reject(new ExecError(`timed out after ${timeoutMs} ms: ${describe(cmd, args)}`, res));
      else if (res.code !== 0 && !opts.allowFail) {
        reject(new ExecError(`exit ${res.code}: ${describe(cmd, args)}\n${res.stderr.trim()}`, res));
      } else resolve(res);
    };
    child.on("error", (e) => finish(e));
    child.on("exit", (code, signal) => {
      exitCode = code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 255);
      // A background child that inherited stdout would keep the pipes open forever:
      // give the pipes a moment to drain, then stop waiting for them.
      const grace = setTimeout(() => finish(), 100);
      let closed = 0;
      const onClose = (): void => {
        if (++closed === 2) {
          clearTimeout(grace);
          finish();
        }
      };
      if (child.stdout!.closed) closed++;
      else child.stdout!.once("close", onClose);
      if (child.stderr!.closed) onClose();
      else child.stderr!.once("close", onClose);
      if (closed === 2) {
        clearTimeout(grace);
        finish();
      }
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

export class ExecError extends Error {
  constructor(
    message: string,
    readonly result: ExecResult,
  ) {
    super(message);
    this.name = "ExecError";
  }
  get code(): number {
    return this.result.code;
  }
  get stdout(): string {
    return this.result.stdout;
  }
  get stderr(): string {
    return this.result.stderr;
  }
}

function describe(cmd: string, args: string[]): string {
  const s = [cmd, ...args].join(" ");
  return s.length > 300 ? `${s.slice(0, 300)}...` : s;
}

function signalNumber(sig: NodeJS.Signals): number | undefined {
  const n = (require("node:os") as typeof import("node:os")).constants.signals[sig];
  return typeof n === "number" ? n : undefined;
}

/** Signals a process group, falling back to the single process. */
export function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/** true while the pid exists and is not a zombie (a crashed owner may linger unreaped) */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Start time (clock ticks since boot) of a pid, field 22 of /proc/<pid>/stat; undefined if gone. */
function procStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19]; // field 22 overall; fields[0] is field 3
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- slot ownership

interface OwnerRecord {
  pid: number;
  start: string | undefined;
  persistent: boolean;
  label: string;
  created: string;
}

function ownerFileName(rec: OwnerRecord): string {
  return rec.persistent ? "owner.persistent" : `owner.${rec.pid}`;
}

function myOwnerRecord(label: string, persistent: boolean): OwnerRecord {
  return {
    pid: process.pid,
    start: procStartTime(process.pid),
    persistent,
    label,
    created: new Date().toISOString(),
  };
}

function writeOwner(dir: string, rec: OwnerRecord): void {
  const tmp = path.join(dir, `.owner-tmp.${process.pid}`);
  fs.writeFileSync(tmp, JSON.stringify(rec));
  fs.renameSync(tmp, path.join(dir, ownerFileName(rec)));
}

type OwnerState = { kind: "alive" } | { kind: "dead"; file: string } | { kind: "ownerless-old" } | { kind: "gone" };

function ownerState(dir: string): OwnerState {
  let entries: string[];
  let mtimeMs: number;
  try {
    entries = fs.readdirSync(dir);
    mtimeMs = fs.statSync(dir).mtimeMs;
  } catch {
    return { kind: "gone" };
  }
  const owners = entries.filter((e) => e.startsWith("owner."));
  const young = Date.now() - mtimeMs < OWNERLESS_GRACE_MS;
  if (owners.length === 0) return young ? { kind: "alive" } : { kind: "ownerless-old" };
  for (const file of owners) {
    if (file === "owner.persistent") return { kind: "alive" };
    let rec: OwnerRecord | undefined;
    try {
      rec = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as OwnerRecord;
    } catch {
      rec = undefined;
    }
    // the file name is authoritative for owner.<pid>; the content adds the start time
    const named = Number(file.slice("owner.".length));
    const pid = Number.isInteger(named) && named > 0 ? named : rec?.pid;
    if (pid === undefined || !Number.isInteger(pid) || pid <= 0) {
      // owner.claim being written, or left by a reaper that died right after claiming
      let age = Infinity;
      try {
        age = Date.now() - fs.statSync(path.join(dir, file)).mtimeMs;
      } catch {
        /* renamed meanwhile */
      }
      return age < OWNERLESS_GRACE_MS ? { kind: "alive" } : { kind: "dead", file };
    }
    if (!pidAlive(pid)) return { kind: "dead", file };
    const start = procStartTime(pid);
    if (rec?.start !== undefined && start !== undefined && start !== rec.start) return { kind: "dead", file }; // pid recycled
    return { kind: "alive" };
  }
  return { kind: "alive" };
}

function ensureLabRoot(): void {
  fs.mkdirSync(LAB_ROOT, { recursive: true, mode: 0o755 });
  fs.mkdirSync(NETNS_ETC, { recursive: true, mode: 0o755 });
}

/** Atomically claim a free slot: mkdir succeeds for exactly one process. */
function allocateSlot(rec: OwnerRecord): number {
  ensureLabRoot();
  // Random start: parallel workers rarely contend, and a just-freed number is rarely reused at once.
  const offset = Math.floor(Math.random() * MAX_SLOT);
  for (let k = 0; k < MAX_SLOT; k++) {
    const slot = ((offset + k) % MAX_SLOT) + 1;
    const dir = slotDir(slot);
    try {
      fs.mkdirSync(dir, { mode: 0o755 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw e;
    }
    writeOwner(dir, rec);
    if (slotHasLeftovers(slot)) {
      // resources of a slot whose dir vanished (e.g. /run wiped): we own the number now, sweep them
      teardownSync(slot);
    }
    return slot;
  }
  throw new Error(`no free lab slot in ${LAB_ROOT} (all ${MAX_SLOT} in use)`);
}

/** Remove the slot dir: rename it away first, so the number is free at once and never half-deleted. */
function releaseSlotSync(slot: number): void {
  const dir = slotDir(slot);
  const trash = path.join(LAB_ROOT, `.trash-${process.pid}-${slot}-${Date.now()}`);
  try {
    fs.renameSync(dir, trash);
  } catch {
    return;
  }
  fs.rmSync(trash, { recursive: true, force: true });
}

// ---------------------------------------------------------------- teardown

/** One script used by destroy(), exit handlers and the stale-lab reaper (sync and async). */
function teardownScript(slot: number): string {
  return `
s=${slot}
nss=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^hnft-$s-h[0-9]+$")
for try in 1 2 3 4 5 6 7 8 9 10; do
  pids=$(for ns in $nss; do ip netns pids "$ns" 2>/dev/null; done)
  [ -z "$pids" ] && break
  kill -9 $pids 2>/dev/null
  sleep 0.01
done
for ns in $nss; do ip netns del "$ns" 2>/dev/null & done
for l in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^(hnftbr$s|hnft\${s}h[0-9]+)$"); do
  ip link del "$l" 2>/dev/null &
done
wait
rm -rf /etc/netns/hnft-$s-h*
true
`;
}

function teardownSync(slot: number): void {
  spawnSync("sh", ["-c", teardownScript(slot)], { stdio: "ignore", timeout: 30_000 });
}

async function teardown(slot: number): Promise<void> {
  await run("sh", ["-c", teardownScript(slot)], { allowFail: true, timeoutMs: 30_000 });
}

function slotHasLeftovers(slot: number): boolean {
  return leftoverSlots().has(slot);
}

/** Slot numbers that still have a netns, link or /etc/netns dir on the machine. */
function leftoverSlots(): Set<number> {
  const slots = new Set<number>();
  const add = (m: RegExpMatchArray | null): void => {
    if (m?.[1]) slots.add(Number(m[1]));
  };
  try {
    for (const e of fs.readdirSync("/run/netns")) add(e.match(/^hnft-(\d+)-h\d+$/));
  } catch {
    /* no netns dir */
  }
  try {
    for (const e of fs.readdirSync(NETNS_ETC)) add(e.match(/^hnft-(\d+)-h\d+$/));
  } catch {
    /* none */
  }
  try {
    for (const e of fs.readdirSync("/sys/class/net")) {
      add(e.match(/^hnftbr(\d+)$/));
      add(e.match(/^hnft(\d+)h\d+$/));
    }
  } catch {
    /* none */
  }
  return slots;
}

/** The sshd children this process started in a slot. */
type SlotState = { sshd: Map<string, ChildProcess> };
/** Live labs of this process (non-persistent), torn down synchronously on exit/signals. */
const liveSlots = new Map<number, SlotState>();
let handlersInstalled = false;

/** Does this process (or, for persistent labs, anybody) still own the slot? Guards against
 * tearing down a slot that a reaper already took over and that may since belong to another lab. */
function ownsSlot(slot: number, persistent: boolean): boolean {
  return fs.existsSync(path.join(slotDir(slot), persistent ? "owner.persistent" : `owner.${process.pid}`));
}

function cleanupAllSync(): void {
  for (const slot of [...liveSlots.keys()]) {
    liveSlots.delete(slot);
    if (!ownsSlot(slot, false)) continue;
    teardownSync(slot);
    releaseSlotSync(slot);
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  onCleanup(cleanupAllSync);
}

/**
 * Remove labs whose owner process is dead (crashed test runs), plus orphaned netns/links/
 * overlays of slots that have no slot dir, and trash dirs of dead reapers.
 */
export async function cleanupStaleLabs(): Promise<void> {
  ensureLabRoot();
  const me = myOwnerRecord("reaper", false);
  const jobs: Promise<void>[] = [];
  const entries = fs.readdirSync(LAB_ROOT);
  for (const e of entries) {
    const trash = e.match(/^\.trash-(\d+)-/);
    if (trash) {
      if (!pidAlive(Number(trash[1]))) fs.rmSync(path.join(LAB_ROOT, e), { recursive: true, force: true });
      continue;
    }
    const m = e.match(/^slot-(\d+)$/);
    if (!m) continue;
    const slot = Number(m[1]);
    const dir = path.join(LAB_ROOT, e);
    const st = ownerState(dir);
    if (st.kind === "alive" || st.kind === "gone") continue;
    // take over: exactly one reaper wins the rename
    try {
      if (st.kind === "dead") {
        fs.renameSync(path.join(dir, st.file), path.join(dir, ownerFileName(me)));
        writeOwner(dir, me); // atomic replace of the content (start time of this process)
      } else {
        // ownerless and old: claim with an exclusive create of a fixed name; whoever creates it
        // second (after the first renamed it away) sees the first one's owner file and backs off
        const claim = path.join(dir, "owner.claim");
        fs.writeFileSync(claim, JSON.stringify(me), { flag: "wx" });
        if (fs.readdirSync(dir).filter((f) => f.startsWith("owner.")).length !== 1) {
          fs.rmSync(claim, { force: true });
          continue;
        }
        fs.renameSync(claim, path.join(dir, ownerFileName(me)));
      }
    } catch {
      continue; // someone else is reaping it
    }
    jobs.push(
      teardown(slot).then(() => {
        releaseSlotSync(slot);
      }),
    );
  }
  await Promise.all(jobs);
  // orphans: resources whose slot dir does not exist -> claim the slot number, sweep, release
  for (const slot of leftoverSlots()) {
    const dir = slotDir(slot);
    try {
      fs.mkdirSync(dir, { mode: 0o755 });
    } catch {
      continue; // owned (alive or being created/reaped by someone else)
    }
    writeOwner(dir, me);
    await teardown(slot);
    releaseSlotSync(slot);
  }
}

// ---------------------------------------------------------------- lab description

interface UserDesc {
  user: string;
  uid: number;
  gid: number;
  home: string;
  keyPath: string;
  publicKey: string;
  password?: string;
}

interface HostDesc {
  index: number;
  name: string;
  netns: string;
  veth: string;
  ipv4: string;
  ipv6: string;
  dir: string;
  etc: string;
  hostKey: string;
  sshdConfig: string;
  sshdLog: string;
  sshdPidFile: string;
  root: UserDesc;
  operator: UserDesc;
}

interface LabDesc {
  slot: number;
  label: string;
  persistent: boolean;
  bridge: string;
  controllerIpv4: string;
  controllerIpv6: string;
  dir: string;
  knownHostsPath: string;
  hosts: HostDesc[];
}

function operatorIds(): { uid: number; gid: number } {
  const used = (file: string): Set<number> =>
    new Set(
      fs
        .readFileSync(file, "utf8")
        .split("\n")
        .map((l) => Number(l.split(":")[2]))
        .filter((n) => Number.isInteger(n)),
    );
  const uids = used("/etc/passwd");
  const gids = used("/etc/group");
  let id = 60100;
  while (uids.has(id) || gids.has(id)) id++;
  return { uid: id, gid: id };
}

/**
 * ed25519 key pair via ssh-keygen. (Not ssh2's utils.generateKeyPairSync: it drops a leading zero
 * byte of the key, so ~1 key in 150 is rejected by OpenSSH with "error in libcrypto".)
 */
async function genKey(keyPath: string, comment: string): Promise<{ privateKey: string; publicKey: string }> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", keyPath], { timeoutMs: 20_000 });
  fs.chmodSync(keyPath, 0o600);
  const publicKey = fs.readFileSync(`${keyPath}.pub`, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
  return { privateKey: fs.readFileSync(keyPath, "utf8"), publicKey };
}

/** Replace or append a line keyed by its first colon field. */
function upsertColonLine(content: string, name: string, line: string): string {
  const lines = content.split("\n").filter((l) => l.length > 0 && !l.startsWith(`${name}:`));
  lines.push(line);
  return `${lines.join("\n")}\n`;
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

/** Overlay dirs bind-mount only over existing /etc entries; create missing empty mount points. */
const OVERLAY_DIRS = ["sysctl.d", "modprobe.d", "hardened-nftables", "systemd", "sudoers.d"];

function ensureMountPoints(): void {
  for (const d of OVERLAY_DIRS) {
    const p = path.join("/etc", d);
    if (!fs.existsSync(p)) fs.mkdirSync(p, { recursive: true, mode: 0o755 });
  }
}

function writeHostFiles(h: HostDesc, ids: { uid: number; gid: number }): void {
  // private dir (h.dir and h.dir/keys exist already, with the keys in them)
  fs.mkdirSync(path.join(h.dir, "authorized_keys"), { mode: 0o755 });
  fs.mkdirSync(path.join(h.dir, "home"), { mode: 0o755 });
  fs.mkdirSync(h.root.home, { mode: 0o700 });
  fs.mkdirSync(h.operator.home, { mode: 0o755 });
  fs.chownSync(h.operator.home, ids.uid, ids.gid);
  fs.writeFileSync(path.join(h.dir, "authorized_keys", "root"), `${h.root.publicKey} lab-root\n`, { mode: 0o644 });
  fs.writeFileSync(path.join(h.dir, "authorized_keys", OPERATOR_USER), `${h.operator.publicKey} lab-operator\n`, {
    mode: 0o644,
  });

  // /etc overlay
  const etc = h.etc;
  fs.rmSync(etc, { recursive: true, force: true });
  fs.mkdirSync(etc, { mode: 0o755 });
  for (const d of ["sysctl.d", "modprobe.d", "hardened-nftables", "systemd"])
    fs.mkdirSync(path.join(etc, d), { mode: 0o755 });
  fs.mkdirSync(path.join(etc, "sudoers.d"), { mode: 0o755 });

  let passwd = readOr("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  const rootLine = passwd.split("\n").find((l) => l.startsWith("root:")) ?? "root:x:0:0:root:/root:/bin/bash";
  const rootFields = rootLine.split(":");
  rootFields[5] = h.root.home;
  passwd = upsertColonLine(passwd, "root", rootFields.join(":"));
  passwd = upsertColonLine(
    passwd,
    OPERATOR_USER,
    `${OPERATOR_USER}:x:${ids.uid}:${ids.gid}:hnft lab operator:${h.operator.home}:/bin/bash`,
  );
  fs.writeFileSync(path.join(etc, "passwd"), passwd, { mode: 0o644 });

  const group = upsertColonLine(readOr("/etc/group", "root:x:0:\n"), OPERATOR_USER, `${OPERATOR_USER}:x:${ids.gid}:`);
  fs.writeFileSync(path.join(etc, "group"), group, { mode: 0o644 });

  let shadow = readOr("/etc/shadow", "root:*:19000:0:99999:7:::\n");
  // sshd (UsePAM no) refuses even key logins for accounts whose hash starts with "!" (locked)
  const rootShadow = (shadow.split("\n").find((l) => l.startsWith("root:")) ?? "root:*:19000:0:99999:7:::").split(":");
  if (rootShadow[1]?.startsWith("!")) rootShadow[1] = "*";
  shadow = upsertColonLine(shadow, "root", rootShadow.join(":"));
  shadow = upsertColonLine(shadow, OPERATOR_USER, `${OPERATOR_USER}:${OPERATOR_PASSWORD_HASH}:19000:0:99999:7:::`);
  const shadowGid = Number(
    readOr("/etc/group", "")
      .split("\n")
      .find((l) => l.startsWith("shadow:"))
      ?.split(":")[2] ?? 0,
  );
  fs.writeFileSync(path.join(etc, "shadow"), shadow, { mode: 0o640 });
  fs.chownSync(path.join(etc, "shadow"), 0, Number.isInteger(shadowGid) ? shadowGid : 0);

  const sudoers = readOr(
    "/etc/sudoers",
    'Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nroot\tALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n',
  );
  fs.writeFileSync(
    path.join(etc, "sudoers"),
    sudoers.includes("includedir /etc/sudoers.d") ? sudoers : `${sudoers}\n@includedir /etc/sudoers.d\n`,
    {
      mode: 0o440,
    },
  );
  fs.writeFileSync(path.join(etc, "sudoers.d", "hnft-lab"), `${OPERATOR_USER} ALL=(ALL) NOPASSWD: ALL\n`, {
    mode: 0o440,
  });

  // a private copy so that nothing run on a lab host can rewrite the machine's ruleset file
  // (note: rename() over a bind-mounted file fails with EBUSY; write it in place)
  if (fs.existsSync("/etc/nftables.conf")) fs.copyFileSync("/etc/nftables.conf", path.join(etc, "nftables.conf"));

  // sshd
  fs.writeFileSync(
    h.sshdConfig,
    [
      `ListenAddress ${h.ipv4}:22`,
      `ListenAddress [${h.ipv6}]:22`,
      `HostKey ${path.join(h.dir, "keys", "ssh_host_ed25519_key")}`,
      `PidFile ${h.sshdPidFile}`,
      `AuthorizedKeysFile ${path.join(h.dir, "authorized_keys")}/%u`,
      "PermitRootLogin prohibit-password",
      "PubkeyAuthentication yes",
      "PasswordAuthentication yes",
      "KbdInteractiveAuthentication no",
      "PermitEmptyPasswords no",
      "UsePAM no",
      "StrictModes no",
      "AllowAgentForwarding yes",
      "AllowTcpForwarding yes",
      "X11Forwarding no",
      "PrintMotd no",
      "PrintLastLog no",
      "UseDNS no",
      "MaxStartups 200:30:400",
      "MaxSessions 100",
      "MaxAuthTries 10",
      "LoginGraceTime 30",
      "LogLevel VERBOSE",
      "AcceptEnv LANG LC_*",
      "Subsystem sftp /usr/lib/openssh/sftp-server",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}

function describeLab(
  slot: number,
  n: number,
  label: string,
  persistent: boolean,
  ids: { uid: number; gid: number },
): LabDesc {
  const dir = slotDir(slot);
  const hosts: HostDesc[] = [];
  for (let i = 1; i <= n; i++) {
    const hdir = path.join(dir, `h${i}`);
    const user = (name: string, uid: number, gid: number): UserDesc => ({
      user: name,
      uid,
      gid,
      home: path.join(hdir, "home", name),
      keyPath: path.join(hdir, "keys", `${name}_ed25519`),
      publicKey: "",
    });
    hosts.push({
      index: i,
      name: `h${i}`,
      netns: netnsName(slot, i),
      veth: vethName(slot, i),
      ipv4: `198.18.${slot}.${10 + i}`,
      ipv6: `2001:2:0:${slot}::${10 + i}`,
      dir: hdir,
      etc: path.join(NETNS_ETC, netnsName(slot, i)),
      hostKey: "",
      sshdConfig: path.join(hdir, "sshd_config"),
      sshdLog: path.join(hdir, "sshd.log"),
      sshdPidFile: path.join(hdir, "sshd.pid"),
      root: user("root", 0, 0),
      operator: { ...user(OPERATOR_USER, ids.uid, ids.gid), password: OPERATOR_PASSWORD },
    });
  }
  return {
    slot,
    label,
    persistent,
    bridge: bridgeName(slot),
    controllerIpv4: `198.18.${slot}.1`,
    controllerIpv6: `2001:2:0:${slot}::1`,
    dir,
    knownHostsPath: path.join(dir, "known_hosts"),
    hosts,
  };
}

function topologyScript(d: LabDesc): string {
  const lines = [
    "set -e",
    `ip link add ${d.bridge} type bridge stp_state 0 forward_delay 0 nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0`,
    `ip addr add ${d.controllerIpv4}/24 dev ${d.bridge}`,
    `ip addr add ${d.controllerIpv6}/64 dev ${d.bridge} nodad`,
    `ip link set ${d.bridge} up`,
  ];
  for (const h of d.hosts) {
    lines.push(
      `ip netns add ${h.netns}`,
      `ip link add ${h.veth} type veth peer name eth0 netns ${h.netns}`,
      `ip link set ${h.veth} master ${d.bridge} up`,
      `ip -n ${h.netns} link set lo up`,
      `ip -n ${h.netns} addr add ${h.ipv4}/24 dev eth0`,
      `ip -n ${h.netns} addr add ${h.ipv6}/64 dev eth0 nodad`,
      `ip -n ${h.netns} link set eth0 up`,
    );
  }
  return lines.join("\n");
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once("data", (d) => done(d.toString("latin1").startsWith("SSH-")));
    sock.once("error", () => done(false));
  });
}

async function waitSshd(h: HostDesc, isDead: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set([h.ipv4, h.ipv6]);
  while (pending.size > 0) {
    if (isDead()) throw new Error(`sshd on ${h.name} (${h.netns}) exited during start:\n${readOr(h.sshdLog, "")}`);
    for (const addr of [...pending]) if (await tcpProbe(addr, 22, 1000)) pending.delete(addr);
    if (pending.size === 0) break;
    if (Date.now() > deadline)
      throw new Error(`sshd on ${h.name} not answering on ${[...pending].join(", ")}:\n${readOr(h.sshdLog, "")}`);
    await sleep(5);
  }
}

function readSshdPid(h: HostDesc): number | undefined {
  const n = Number(readOr(h.sshdPidFile, "").trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

// ---------------------------------------------------------------- materialise

function labUser(u: UserDesc): LabUser {
  return {
    user: u.user,
    keyPath: u.keyPath,
    privateKey: readOr(u.keyPath, ""),
    publicKey: u.publicKey,
    uid: u.uid,
    home: u.home,
    ...(u.password !== undefined ? { password: u.password } : {}),
  };
}

/** Starts the host's sshd unless this process's child, or one that the pid file names and answers, runs. */
async function startSshd(h: HostDesc, state: SlotState): Promise<void> {
  const existing = state.sshd.get(h.name);
  if (existing && existing.exitCode === null && existing.signalCode === null) return;
  const pidFromFile = readSshdPid(h);
  if (!existing && pidFromFile && pidAlive(pidFromFile) && (await tcpProbe(h.ipv4, 22, 1000))) return;
  fs.rmSync(h.sshdPidFile, { force: true });
  const log = fs.openSync(h.sshdLog, "a");
  let child: ChildProcess;
  try {
    child = spawn("ip", ["netns", "exec", h.netns, SSHD, "-D", "-e", "-f", h.sshdConfig], {
      stdio: ["ignore", log, log],
      detached: true,
    });
  } finally {
    fs.closeSync(log);
  }
  child.on("error", () => undefined);
  child.unref();
  state.sshd.set(h.name, child);
  await waitSshd(h, () => child.exitCode !== null || child.signalCode !== null);
}

/** SIGTERM the host's sshd, SIGKILL after 5 s, and wait until it is gone. */
async function stopSshd(h: HostDesc, state: SlotState): Promise<void> {
  const child = state.sshd.get(h.name);
  state.sshd.delete(h.name);
  const pid = child?.pid ?? readSshdPid(h);
  if (!pid) return;
  if (child && (child.exitCode !== null || child.signalCode !== null)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const gone = child ? child.exitCode !== null || child.signalCode !== null : !pidAlive(pid);
    if (gone) break;
    await sleep(5);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    /* already gone */
  }
  while (child && child.exitCode === null && child.signalCode === null && Date.now() < deadline + 2000) await sleep(5);
  fs.rmSync(h.sshdPidFile, { force: true });
}

function shInHost(h: HostDesc, script: string, opts: ShOptions = {}): Promise<ExecResult> {
  return run("ip", ["netns", "exec", h.netns, "sh", "-c", script], {
    ...(opts.stdin !== undefined ? { input: opts.stdin } : {}),
    ...(opts.allowFail !== undefined ? { allowFail: opts.allowFail } : {}),
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

/** A script in the host as its own process group, its output collected until it exits. */
function spawnInHost(h: HostDesc, script: string): LabProcess {
  const child = spawn("ip", ["netns", "exec", h.netns, "sh", "-c", script], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on("data", (b: Buffer) => out.push(b));
  child.stderr!.on("data", (b: Buffer) => err.push(b));
  child.on("error", () => undefined);
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  const exited = new Promise<ExecResult>((resolve) => {
    child.on("exit", (code, signal) => {
      killGroup(child.pid, "SIGKILL"); // leftovers of the group
      resolve({
        code: code ?? 128 + (signal ? (signalNumber(signal) ?? 0) : 0),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      });
    });
  });
  return {
    pid: child.pid ?? -1,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        killGroup(child.pid, "SIGTERM");
        const t = setTimeout(() => killGroup(child.pid, "SIGKILL"), 2000);
        const r = await exited;
        clearTimeout(t);
        return r;
      }
      return exited;
    },
  };
}

function labHost(h: HostDesc, state: SlotState): LabHost {
  return {
    name: h.name,
    netns: h.netns,
    ipv4: h.ipv4,
    ipv6: h.ipv6,
    sshPort: 22,
    hostKey: h.hostKey,
    root: labUser(h.root),
    operator: labUser(h.operator),
    etc: h.etc,
    dir: h.dir,
    sshdLog: h.sshdLog,
    veth: h.veth,
    knownHosts: `${h.ipv4} ${h.hostKey}\n${h.ipv6} ${h.hostKey}\n`,
    sh: (script, opts) => shInHost(h, script, opts),
    stopSshd: () => stopSshd(h, state),
    startSshd: () => startSshd(h, state),
    spawn: (script) => spawnInHost(h, script),
  };
}

/** The lab's hosts as handles; destroy() tears the slot down when this process owns it (once). */
function materialize(d: LabDesc): Lab {
  const state: SlotState = liveSlots.get(d.slot) ?? { sshd: new Map<string, ChildProcess>() };
  let destroyed = false;
  return {
    slot: d.slot,
    label: d.label,
    bridge: d.bridge,
    dir: d.dir,
    knownHostsPath: d.knownHostsPath,
    persistent: d.persistent,
    controllerIpv4: d.controllerIpv4,
    controllerIpv6: d.controllerIpv6,
    hosts: d.hosts.map((h) => labHost(h, state)),
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      liveSlots.delete(d.slot);
      const owned = ownsSlot(d.slot, d.persistent);
      if (owned) await teardown(d.slot);
      for (const c of state.sshd.values())
        if (c.exitCode === null && c.signalCode === null) killGroup(c.pid, "SIGKILL");
      state.sshd.clear();
      if (owned) releaseSlotSync(d.slot);
    },
  };
}

// ---------------------------------------------------------------- public entry points

export async function createLab(opts: CreateLabOptions): Promise<Lab> {
  const n = opts.hosts;
  if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS)
    throw new Error(`createLab: hosts must be 1..${MAX_HOSTS}, got ${n}`);
  const label = opts.label ?? "lab";
  const persistent = opts.persistent ?? false;
  await cleanupStaleLabs();
  ensureMountPoints();
  fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege separation dir

  const owner = myOwnerRecord(label, persistent);
  const slot = allocateSlot(owner);
  if (!persistent) {
    installExitHandlers();
    liveSlots.set(slot, { sshd: new Map() });
  }
  try {
    const ids = operatorIds();
    const d = describeLab(slot, n, label, persistent, ids);
    await Promise.all(
      d.hosts.map(async (h) => {
        fs.mkdirSync(h.dir, { mode: 0o755 });
        fs.mkdirSync(path.join(h.dir, "keys"), { mode: 0o700 });
        const [hostKey, rootKey, opKey] = await Promise.all([
          genKey(path.join(h.dir, "keys", "ssh_host_ed25519_key"), `${h.name}@hnft-lab`),
          genKey(h.root.keyPath, `root-${h.name}@hnft-lab`),
          genKey(h.operator.keyPath, `${OPERATOR_USER}-${h.name}@hnft-lab`),
        ]);
        h.hostKey = hostKey.publicKey;
        h.root.publicKey = rootKey.publicKey;
        h.operator.publicKey = opKey.publicKey;
        writeHostFiles(h, ids);
      }),
    );
    fs.writeFileSync(
      d.knownHostsPath,
      d.hosts.map((h) => `${h.ipv4} ${h.hostKey}\n${h.ipv6} ${h.hostKey}\n`).join(""),
      {
        mode: 0o644,
      },
    );
    fs.writeFileSync(path.join(d.dir, "lab.json"), JSON.stringify(d, null, 2), { mode: 0o644 });
    await run("sh", ["-c", topologyScript(d)], { timeoutMs: 30_000 });
    const lab = materialize(d);
    await Promise.all(lab.hosts.map((h) => h.startSshd()));
    return lab;
  } catch (e) {
    liveSlots.delete(slot);
    await teardown(slot);
    releaseSlotSync(slot);
    throw e;
  }
}

/** Re-attach to an existing lab by slot (used by the sandbox CLI); undefined if it does not exist. */
export function openLab(slot: number): Lab | undefined {
  let d: LabDesc;
  try {
    d = JSON.parse(fs.readFileSync(path.join(slotDir(slot), "lab.json"), "utf8")) as LabDesc;
  } catch {
    return undefined;
  }
  return materialize(d);
}

/** Is sshd of this host answering with an SSH banner on both addresses? */
export async function sshdAnswers(
  host: Pick<LabHost, "ipv4" | "ipv6" | "sshPort">,
  timeoutMs = 2000,
): Promise<boolean> {
  const [a, b] = await Promise.all([
    tcpProbe(host.ipv4, host.sshPort, timeoutMs),
    tcpProbe(host.ipv6, host.sshPort, timeoutMs),
  ]);
  return a && b;
}
