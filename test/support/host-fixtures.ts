/**
 * Shared pieces of the host-layer integration suites (test/integration/host-*.test.ts).
 *
 * Lab hosts share /var and /run with the machine; only /etc is per host. Every call into the
 * host layer therefore points its state and run directories into the host's /etc (HOST_PATHS),
 * or two lab hosts (and the machine) would share one lock and one recorded state.
 */
import { expect } from "vitest";
import { formatIssues } from "../../src/fields/issues";
import { HostSession, type RunOptions, type RunResult } from "../../src/host/ssh";
import { type Connection, parseConnection } from "../../src/model/connection";
import type { PathOverrides } from "../../src/render/paths";
import type { LabHost } from "./lab";

export const HOST_PATHS: PathOverrides = {
  stateRoot: "/etc/hardened-nftables/.state",
  runRoot: "/etc/hardened-nftables/.run",
};
export const TABLE = "hnft";

export function connectionFor(
  host: LabHost,
  user: "root" | "operator" = "root",
  extra: Record<string, unknown> = {},
): Connection {
  const u = user === "root" ? host.root : host.operator;
  const r = parseConnection({
    host: host.ipv4,
    user: u.user,
    privateKey: u.privateKey,
    hostKey: host.hostKey,
    ...(user === "operator" ? { sudo: true } : {}),
    dialErrorLimit: 3,
    perDialTimeout: 5,
    ...extra,
  });
  if (!r.ok) throw new Error(formatIssues(r.issues).join("\n"));
  return r.value;
}

/** SSH and HTTPS from anywhere: the everyday policy. */
export const BASE_POLICY = { table: TABLE, exposures: [{ service: "ssh" }, { service: "https" }] };
/** A different policy that still lets SSH in. */
export const ALT_POLICY = { table: TABLE, exposures: [{ service: "ssh" }, { service: "http" }, { service: "smtp" }] };
/** Opens only HTTPS: applying it would lock the operator out. */
export const LOCKOUT_POLICY = { table: TABLE, exposures: [{ service: "https" }] };

/** On-host paths of the managed files for table TABLE (as the host sees them). */
export const MANAGED = {
  nft: `/etc/hardened-nftables/${TABLE}.nft`,
  sysctl: `/etc/sysctl.d/60-hardened-nftables-${TABLE}.conf`,
  modprobe: `/etc/modprobe.d/hardened-nftables-${TABLE}.conf`,
  unit: `/etc/systemd/system/hardened-nftables-${TABLE}.service`,
  unitLink: `/etc/systemd/system/sysinit.target.wants/hardened-nftables-${TABLE}.service`,
  runDir: "/etc/hardened-nftables/.run",
  stateDir: `/etc/hardened-nftables/.state/${TABLE}`,
} as const;

const FILES = [MANAGED.nft, MANAGED.sysctl, MANAGED.modprobe, MANAGED.unit, MANAGED.unitLink] as const;

/** `nft -s list table inet <table>` on the host, or "" when it does not exist. */
export async function listTable(host: LabHost, table = TABLE, family = "inet"): Promise<string> {
  const r = await host.sh(`nft -s list table ${family} ${table} 2>/dev/null`, { allowFail: true });
  return r.code === 0 ? r.stdout : "";
}

/** The whole ruleset, handles included, without counter values (`nft -a -s list ruleset`): traffic must not look like a change. */
export async function listRulesetWithHandles(host: LabHost): Promise<string> {
  return (await host.sh("nft -a -s list ruleset")).stdout;
}

export interface FileState {
  readonly path: string;
  readonly present: boolean;
  readonly content?: string;
  /** `inode mtime-ns` (stat), to prove a file was not rewritten. */
  readonly identity?: string;
}

/** Content and identity of every managed file (and the unit link target). */
export async function managedFiles(host: LabHost): Promise<FileState[]> {
  const out: FileState[] = [];
  for (const p of FILES) {
    const r = await host.sh(
      `if [ -L '${p}' ]; then printf 'link %s\\n' "$(readlink '${p}')"; stat -c '%i %.9Y' '${p}'; elif [ -f '${p}' ]; then echo file; stat -c '%i %.9Y' '${p}'; cat '${p}'; else echo absent; fi`,
    );
    const [kind, identity, ...rest] = r.stdout.split("\n");
    if (kind === "absent") out.push({ path: p, present: false });
    else if (kind!.startsWith("link "))
      out.push({ path: p, present: true, content: kind!.slice(5), identity: rest[0] });
    else out.push({ path: p, present: true, content: rest.join("\n"), identity });
  }
  // identity of a symlink is that of its target; the link line above already records where it points
  return out;
}

/** Files as content only (rewrites with the same content compare equal). */
export function contents(files: FileState[]): Record<string, string | null> {
  return Object.fromEntries(files.map((f) => [f.path, f.present ? (f.content ?? "") : null]));
}

/** Everything a run may change on a host: the table listing and the managed files' contents. */
export async function hostSnapshot(
  host: LabHost,
  table = TABLE,
): Promise<{ table: string; files: Record<string, string | null> }> {
  return { table: await listTable(host, table), files: contents(await managedFiles(host)) };
}

/** Is an apply guardian process alive on the host (its pid file names a live process)? */
export async function guardianAlive(host: LabHost, table = TABLE): Promise<boolean> {
  const r = await host.sh(
    `t='${MANAGED.runDir}/${table}.txn'; [ -f "$t/guardian.pid" ] && [ ! -f "$t/result" ] && kill -0 "$(cat "$t/guardian.pid")" 2>/dev/null && echo yes || echo no`,
  );
  return r.stdout.trim() === "yes";
}

/** Can the host lock be taken right now (nobody holds it)? */
export async function lockFree(host: LabHost, table = TABLE): Promise<boolean> {
  const r = await host.sh(
    `l='${MANAGED.runDir}/${table}.lock'; [ -e "$l" ] || { echo free; exit; }; flock -n "$l" true && echo free || echo held`,
  );
  return r.stdout.trim() === "free";
}

/** Wait until `check` holds, polling every 50 ms. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Expect `p` to reject with an instance of `type`; returns the error. */
export async function expectRejects<T extends Error>(
  p: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  try {
    await p;
  } catch (err) {
    expect(err, String((err as Error)?.stack ?? err)).toBeInstanceOf(type);
    return err as T;
  }
  throw new Error(`expected a ${type.name}`);
}

/** Reset a host to "never hardened": no table of ours, no files, no state, no transaction. */
export async function wipeHost(host: LabHost, table = TABLE): Promise<void> {
  await host.sh(
    [
      `t='${MANAGED.runDir}/${table}.txn'`,
      `[ -f "$t/guardian.pid" ] && kill "$(cat "$t/guardian.pid")" 2>/dev/null`,
      `nft delete table inet ${table} 2>/dev/null`,
      `rm -rf ${FILES.join(" ")} '${MANAGED.stateDir}' "$t" "$t.prev"`,
      "true",
    ].join("; "),
  );
}

export type RealRun = (script: string, o?: RunOptions) => Promise<RunResult>;

/**
 * A session whose every run goes through `hook` (n counts the runs: for applyOnSession 1 is the
 * apply step, 2 the wait for the host's verdict). `run()` performs the real run.
 */
export function intercept(
  real: HostSession,
  hook: (n: number, run: () => Promise<RunResult>, realRun: RealRun) => Promise<RunResult>,
): HostSession {
  let n = 0;
  const realRun: RealRun = (s, o) => real.run(s, o);
  return {
    target: real.target,
    redact: (t: string) => real.redact(t),
    get stats() {
      return real.stats;
    },
    run: (script: string, o?: RunOptions) => hook(++n, () => real.run(script, o), realRun),
    answers: (timeoutMs: number) => real.answers(timeoutMs),
    close: () => real.close(),
  } as unknown as HostSession;
}

/** A script as root over a NEW SSH connection: it runs in the lab sshd's mount namespace, and it proves access. */
export async function runOverNewSession(host: LabHost, script: string): Promise<RunResult> {
  const session = await HostSession.open(connectionFor(host));
  try {
    return await session.run(script);
  } finally {
    await session.close();
  }
}
