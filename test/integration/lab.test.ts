import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupStaleLabs,
  createLab,
  type ExecResult,
  LAB_ROOT,
  type Lab,
  type LabHost,
  type LabUser,
  slotDir,
  sshdAnswers,
} from "../support/lab";
import { requireRoot } from "../support/privileges";

const REPO = path.resolve(__dirname, "../..");
const LAB_MODULE = path.join(REPO, "test/support/lab.ts");

function exec(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 20_000,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? 255, stdout, stderr });
    });
  });
}

let tmp = "";

function sshArgs(knownHosts: string, extra: string[] = []): string[] {
  return [
    "-F",
    "/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `UserKnownHostsFile=${knownHosts}`,
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "LogLevel=ERROR",
    ...extra,
  ];
}

/** real OpenSSH client, key auth, host key pinned */
function sshKey(
  host: LabHost,
  user: LabUser,
  addr: string,
  command: string,
  knownHosts = pinned(host),
): Promise<ExecResult> {
  return exec("ssh", [
    ...sshArgs(knownHosts, [
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
      "-i",
      user.keyPath,
    ]),
    `${user.user}@${addr}`,
    command,
  ]);
}

/** real OpenSSH client, password auth through SSH_ASKPASS (no sshpass needed, OpenSSH >= 8.4) */
function sshPassword(host: LabHost, user: string, password: string, command: string): Promise<ExecResult> {
  const askpass = path.join(tmp, `askpass-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' '${password}'\n`, { mode: 0o700 });
  const env = { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: "" };
  return exec(
    "ssh",
    [
      ...sshArgs(pinned(host), [
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        "IdentityAgent=none",
      ]),
      `${user}@${host.ipv4}`,
      command,
    ],
    env,
  );
}

function pinned(host: LabHost): string {
  const file = path.join(tmp, `known_hosts-${host.netns}`);
  if (!fs.existsSync(file)) fs.writeFileSync(file, host.knownHosts);
  return file;
}

const netnsList = (): string => spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
const linkList = (): string => spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" }).stdout;

/**
 * Everything a lab may leave behind, for one slot. `formerOwner`: the pid that owned the lab; if the
 * slot now belongs to somebody else (a concurrent vitest run reused the number), nothing is ours.
 */
function leftovers(slot: number, formerOwner = process.pid): string[] {
  try {
    const owners = fs.readdirSync(slotDir(slot)).filter((e) => e.startsWith("owner."));
    if (owners.length > 0 && !owners.includes(`owner.${formerOwner}`)) return [];
  } catch {
    /* no slot dir */
  }
  const found: string[] = [];
  for (const l of netnsList().split("\n")) if (new RegExp(`^hnft-${slot}-h\\d+\\b`).test(l)) found.push(`netns ${l}`);
  for (const l of linkList().split("\n")) {
    const name = l.split(": ")[1]?.split("@")[0] ?? "";
    if (name === `hnftbr${slot}` || new RegExp(`^hnft${slot}h\\d+$`).test(name)) found.push(`link ${name}`);
  }
  if (fs.existsSync("/etc/netns"))
    for (const e of fs.readdirSync("/etc/netns")) if (e.startsWith(`hnft-${slot}-`)) found.push(`/etc/netns/${e}`);
  if (fs.existsSync(slotDir(slot))) found.push(slotDir(slot));
  for (const pid of fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(`${slotDir(slot)}/`)) found.push(`process ${pid} ${cmd.replace(/\0/g, " ")}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

/** a separate process that creates a lab and reports it, then waits (to be killed) */
function labInChild(
  hosts: number,
  then: "wait" | "exit" = "wait",
): Promise<{ child: ChildProcess; pid: number; slot: number; sshdPids: number[] }> {
  const code = `
    const { createLab } = require(${JSON.stringify(LAB_MODULE)});
    const fs = require("node:fs");
    createLab({ hosts: ${hosts}, label: "child" }).then((lab) => {
      const sshdPids = lab.hosts.map((h) => Number(fs.readFileSync(h.dir + "/sshd.pid", "utf8")));
      process.stdout.write(JSON.stringify({ slot: lab.slot, sshdPids }) + "\\n");
      if (${JSON.stringify(then)} === "wait") setInterval(() => {}, 1 << 30);
    }, (e) => { console.error(e); process.exit(1); });
  `;
  // node itself (not the tsx wrapper, which would forward signals to a grandchild)
  const child = spawn(process.execPath, ["--import", "tsx", "-e", code], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: REPO,
  });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n")[0];
      if (out.includes("\n") && line) {
        const r = JSON.parse(line) as { slot: number; sshdPids: number[] };
        resolve({ child, pid: child.pid!, ...r });
      }
    });
    child.on("exit", (c) => {
      if (!out.includes("\n")) reject(new Error(`child exited ${c}: ${err}`));
    });
  });
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => child.once("exit", () => r()));

async function eventually(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

describe.runIf(requireRoot("lab", ["ip", "sshd", "nft"]))("test lab (real sshd in network namespaces)", () => {
  let lab: Lab;
  let createMs = 0;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-lab-test-"));
    const t = Date.now();
    lab = await createLab({ hosts: 3, label: "lab-test" });
    createMs = Date.now() - t;
  });

  afterAll(async () => {
    await lab?.destroy();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("creates a 3-host lab with the documented addressing", () => {
    console.log(`lab: 3 hosts created in ${createMs} ms`); // a figure, not an assertion: speed belongs to benchmarks
    expect(lab.slot).toBeGreaterThanOrEqual(1);
    expect(lab.slot).toBeLessThanOrEqual(250);
    expect(lab.controllerIpv4).toBe(`198.18.${lab.slot}.1`);
    expect(lab.controllerIpv6).toBe(`2001:2:0:${lab.slot}::1`);
    lab.hosts.forEach((h, i) => {
      expect(h.name).toBe(`h${i + 1}`);
      expect(h.netns).toBe(`hnft-${lab.slot}-h${i + 1}`);
      expect(h.ipv4).toBe(`198.18.${lab.slot}.${11 + i}`);
      expect(h.ipv6).toBe(`2001:2:0:${lab.slot}::${11 + i}`);
      expect(h.sshPort).toBe(22);
      expect(h.hostKey).toMatch(/^ssh-ed25519 AAAA[0-9A-Za-z+/=]+$/);
      expect(h.etc).toBe(`/etc/netns/${h.netns}`);
      expect(h.operator.user).toBe("hnftop");
      for (const u of [h.root, h.operator]) {
        expect(fs.statSync(u.keyPath).mode & 0o777).toBe(0o600);
        expect(u.privateKey).toContain("BEGIN OPENSSH PRIVATE KEY");
        expect(fs.readFileSync(u.keyPath, "utf8")).toBe(u.privateKey);
      }
    });
    expect(fs.statSync(path.join(lab.hosts[0]!.dir, "keys", "ssh_host_ed25519_key")).mode & 0o777).toBe(0o600);
  });

  it("root logs in by key over IPv4 and IPv6, host key pinned", async () => {
    const h = lab.hosts[0]!;
    for (const addr of [h.ipv4, h.ipv6]) {
      const r = await sshKey(h, h.root, addr, "id -u; ip -o -4 addr show dev eth0");
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout.split("\n")[0]).toBe("0");
      expect(r.stdout).toContain(`${h.ipv4}/24`); // the session runs inside the host's netns
    }
  });

  it("rejects a wrong pinned host key and a key of another host", async () => {
    const [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    const wrongKnown = path.join(tmp, "known_hosts-wrong");
    fs.writeFileSync(wrongKnown, `${h1.ipv4} ${h2.hostKey}\n`);
    const r1 = await sshKey(h1, h1.root, h1.ipv4, "true", wrongKnown);
    expect(r1.code).toBe(255);
    expect(r1.stderr).toMatch(/HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    const r2 = await sshKey(h1, h2.root, h1.ipv4, "true");
    expect(r2.code).toBe(255);
    expect(r2.stderr).toContain("Permission denied");
  });

  it("the operator logs in by key and has passwordless sudo", async () => {
    const h = lab.hosts[1]!;
    const r = await sshKey(h, h.operator, h.ipv6, "id -un; id -u; sudo -n id -u; pwd");
    expect(r.code).toBe(0);
    const [name, uid, sudoUid, home] = r.stdout.trim().split("\n");
    expect(name).toBe("hnftop");
    expect(uid).toBe(String(h.operator.uid));
    expect(sudoUid).toBe("0");
    expect(home).toBe(h.operator.home);
  });

  it("password login works for the operator, not for root, not with a wrong password", async () => {
    const h = lab.hosts[0]!;
    const ok = await sshPassword(h, "hnftop", h.operator.password!, "sudo -n id -u");
    expect(ok.stderr).toBe("");
    expect(ok.stdout.trim()).toBe("0");
    expect((await sshPassword(h, "hnftop", "not-the-password", "true")).code).toBe(255);
    expect((await sshPassword(h, "root", h.operator.password!, "true")).code).toBe(255); // prohibit-password
  });

  it("each host has its own /etc overlay; nothing reaches the machine or the other hosts", async () => {
    const [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    const probe = `99-hnft-lab-probe-${lab.slot}.conf`;
    await h1.sh(`echo 'net.ipv4.ip_forward = 0' > /etc/sysctl.d/${probe}`);
    expect(fs.existsSync(path.join(h1.etc, "sysctl.d", probe))).toBe(true);
    expect(fs.existsSync(path.join("/etc/sysctl.d", probe))).toBe(false);
    expect((await h2.sh(`test -e /etc/sysctl.d/${probe}`, { allowFail: true })).code).toBe(1);

    // through an SSH session (sshd was started inside the overlay), as the operator with sudo
    const r = await sshKey(
      h2,
      h2.operator,
      h2.ipv4,
      `echo hello | sudo -n tee /etc/hardened-nftables/probe >/dev/null && sudo -n sh -c 'echo "options x y=0" > /etc/modprobe.d/probe.conf'`,
    );
    expect(r.code).toBe(0);
    expect(fs.readFileSync(path.join(h2.etc, "hardened-nftables", "probe"), "utf8")).toBe("hello\n");
    expect(fs.existsSync(path.join(h2.etc, "modprobe.d", "probe.conf"))).toBe(true);
    expect(fs.existsSync("/etc/hardened-nftables/probe")).toBe(false);
    expect(fs.existsSync("/etc/modprobe.d/probe.conf")).toBe(false);
    expect((await h1.sh("ls -A /etc/hardened-nftables; ls -A /etc/modprobe.d")).stdout).toBe("");

    // the user database exists only inside the hosts
    expect((await h1.sh("grep -c '^hnftop:' /etc/passwd /etc/shadow /etc/group")).stdout).not.toMatch(/:0$/m);
    expect(fs.readFileSync("/etc/passwd", "utf8")).not.toMatch(/^hnftop:/m);
    expect(fs.readdirSync("/etc/sudoers.d")).not.toContain("hnft-lab");
  });

  it("hosts reach each other and the controller over the bridge (v4 and v6)", async () => {
    const [h1, h2, h3] = [lab.hosts[0]!, lab.hosts[1]!, lab.hosts[2]!];
    const server = h2.spawn(`exec socat TCP6-LISTEN:7777,ipv6only=0,reuseaddr,fork SYSTEM:'echo pong-from-h2'`);
    try {
      const probe = async (from: LabHost, target: string): Promise<string> => {
        for (let i = 0; i < 50; i++) {
          const r = await from.sh(`socat -T 2 - TCP:${target}:7777 </dev/null`, { allowFail: true });
          if (r.code === 0 && r.stdout) return r.stdout.trim();
          await new Promise((res) => setTimeout(res, 20));
        }
        return "";
      };
      expect(await probe(h1, h2.ipv4)).toBe("pong-from-h2");
      expect(await probe(h3, `[${h2.ipv6}]`)).toBe("pong-from-h2");
    } finally {
      await server.stop();
    }
    // controller -> host is what SSH uses; host -> controller too
    expect((await h3.sh(`ip route get ${lab.controllerIpv4}`)).stdout).toContain("dev eth0");
    expect(await sshdAnswers(h3)).toBe(true);
  });

  it("a lab host works as a jump host (TCP forwarding) to another lab host", async () => {
    const [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    const base = sshArgs(lab.knownHostsPath, [
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
    ]);
    const jump = ["ssh", ...base, "-i", h1.operator.keyPath, "-W", "[%h]:%p", `${h1.operator.user}@${h1.ipv4}`].join(
      " ",
    );
    const r = await exec("ssh", [
      ...base,
      "-o",
      `ProxyCommand=${jump}`,
      "-i",
      h2.root.keyPath,
      `root@${h2.ipv6}`,
      "ip -o -4 addr show dev eth0",
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(`${h2.ipv4}/24`);
  });

  it("nftables rulesets are per host", async () => {
    const [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    await h1.sh("nft add table inet hnft_lab_probe");
    expect((await h1.sh("nft list tables")).stdout).toContain("hnft_lab_probe");
    expect((await h2.sh("nft list tables")).stdout).not.toContain("hnft_lab_probe");
    expect(spawnSync("nft", ["list", "tables"], { encoding: "utf8" }).stdout).not.toContain("hnft_lab_probe");
    await h1.sh("nft delete table inet hnft_lab_probe");
  });

  it("sh(): exit codes, stdin, allowFail, timeouts kill the whole process group", async () => {
    const h = lab.hosts[2]!;
    const ok = await h.sh("cat; echo err >&2", { stdin: "in\n" });
    expect(ok).toEqual({ code: 0, stdout: "in\n", stderr: "err\n" });
    expect((await h.sh("exit 3", { allowFail: true })).code).toBe(3);
    await expect(h.sh("echo boom >&2; exit 4")).rejects.toThrow(/exit 4/);

    const marker = `hnft-lab-timeout-${lab.slot}`;
    const t = Date.now();
    await expect(h.sh(`sleep 30 & sleep 31 & echo ${marker} >/dev/null; wait`, { timeoutMs: 300 })).rejects.toThrow(
      /timed out/,
    );
    expect(Date.now() - t).toBeLessThan(3000);
    const sleepers = (
      await h.sh(
        "for p in $(ip netns pids $(ip netns identify $$)); do cat /proc/$p/cmdline 2>/dev/null | tr '\\0' ' '; echo; done",
        { allowFail: true },
      )
    ).stdout;
    expect(sleepers).not.toMatch(/sleep 3[01]/);
  });

  it("stopSshd/startSshd for fault tests", async () => {
    const h = lab.hosts[2]!;
    await h.stopSshd();
    expect(await sshdAnswers(h, 500)).toBe(false);
    expect((await sshKey(h, h.root, h.ipv4, "true")).code).toBe(255);
    await h.startSshd();
    expect(await sshdAnswers(h)).toBe(true);
    expect((await sshKey(h, h.root, h.ipv4, "echo back")).stdout).toBe("back\n");
  });

  it("destroy leaves nothing behind and is idempotent; parallel labs get distinct slots", async () => {
    const labs = await Promise.all([createLab({ hosts: 1 }), createLab({ hosts: 2 }), createLab({ hosts: 1 })]);
    const slots = labs.map((l) => l.slot);
    expect(new Set(slots).size).toBe(3);
    for (const l of labs) expect(leftovers(l.slot).length).toBeGreaterThan(0);
    await Promise.all(labs.map((l) => l.destroy()));
    await Promise.all(labs.map((l) => l.destroy())); // idempotent
    for (const s of slots) expect(leftovers(s)).toEqual([]);
  });

  it("labs created by several processes at once get distinct slots; a kill -9'd owner's lab is reaped", async () => {
    const children = await Promise.all([labInChild(2), labInChild(1), labInChild(1)]);
    const slots = children.map((c) => c.slot);
    expect(new Set([...slots, lab.slot]).size).toBe(4);
    for (const c of children) expect(leftovers(c.slot, c.pid).length).toBeGreaterThan(0);
    for (const c of children) c.child.kill("SIGKILL");
    await Promise.all(children.map((c) => exited(c.child)));
    // crashed: nothing ran its cleanup, its sshd keeps running (unless a concurrent test run's
    // cleanupStaleLabs was quicker than us, which is the point of it)
    const reapedElsewhere = (c: { slot: number; pid: number }): boolean => {
      try {
        return !fs.readdirSync(slotDir(c.slot)).includes(`owner.${c.pid}`); // a reaper renamed it first
      } catch {
        return true;
      }
    };
    for (const c of children) {
      for (const pid of c.sshdPids) {
        const alive = !/\) Z /.test(readOr(`/proc/${pid}/stat`, ") Z "));
        expect(alive || reapedElsewhere(c)).toBe(true);
      }
    }
    await cleanupStaleLabs();
    for (const c of children) expect(leftovers(c.slot, c.pid)).toEqual([]);
    // our own live lab is untouched
    expect(leftovers(lab.slot).length).toBeGreaterThan(0);
    expect(await sshdAnswers(lab.hosts[0]!)).toBe(true);
  });

  it("a lab whose owner pid is dead (faked) is reaped, and its stale handle cannot hurt the slot's next owner", async () => {
    const victim = await createLab({ hosts: 1, label: "fake-dead" });
    const dead = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout.trim());
    const dir = slotDir(victim.slot);
    fs.renameSync(path.join(dir, `owner.${process.pid}`), path.join(dir, `owner.${deadPid}`));
    fs.writeFileSync(
      path.join(dir, `owner.${deadPid}`),
      JSON.stringify({ pid: deadPid, start: "1", persistent: false, label: "x", created: "" }),
    );
    await cleanupStaleLabs();
    expect(leftovers(victim.slot, deadPid)).toEqual([]);
    await victim.destroy(); // no longer ours: a no-op, must not throw
  });

  it("reaps an ownerless slot dir older than the grace period and orphaned resources without a slot dir", async () => {
    const claimFree = (): number => {
      for (;;) {
        const n = 1 + Math.floor(Math.random() * 250);
        try {
          fs.mkdirSync(slotDir(n));
          return n;
        } catch {
          /* taken */
        }
      }
    };
    const ownerless = claimFree();
    fs.mkdirSync(path.join(slotDir(ownerless), "h1"));
    const old = new Date(Date.now() - 120_000);
    fs.utimesSync(slotDir(ownerless), old, old);

    // an orphan: bridge + netns + overlay of a slot whose dir is gone (e.g. /run wiped)
    const orphan = claimFree();
    const made = spawnSync("sh", [
      "-c",
      `ip link add hnftbr${orphan} type bridge && ip netns add hnft-${orphan}-h1 && mkdir -p /etc/netns/hnft-${orphan}-h1`,
    ]);
    expect(made.status).toBe(0);
    fs.rmdirSync(slotDir(orphan)); // (from here on a concurrent test run may reap it first: fine)

    await cleanupStaleLabs();
    expect(fs.existsSync(slotDir(ownerless))).toBe(false);
    expect(leftovers(orphan)).toEqual([]);
  });

  it("a process that exits or is terminated without destroy() cleans up its labs", async () => {
    const exiting = await labInChild(1, "exit");
    await exited(exiting.child);
    expect(await eventually(() => leftovers(exiting.slot, exiting.pid).length === 0)).toBe(true);

    const terminated = await labInChild(1, "wait");
    terminated.child.kill("SIGTERM");
    await exited(terminated.child);
    expect(terminated.child.signalCode).toBe("SIGTERM"); // still dies by the signal
    expect(leftovers(terminated.slot, terminated.pid)).toEqual([]);
  });

  it("leaves no trash in the lab root", () => {
    // (trash of live processes is a release in progress, e.g. of a concurrent vitest worker)
    const deadTrash = fs.readdirSync(LAB_ROOT).filter((e) => {
      const m = e.match(/^\.trash-(\d+)-/);
      return m !== null && !fs.existsSync(`/proc/${m[1]}`);
    });
    expect(deadTrash).toEqual([]);
    expect(fs.readdirSync(LAB_ROOT).filter((e) => e.startsWith(`.trash-${process.pid}-`))).toEqual([]);
  });
});
