/**
 * A persistent one-host lab for trying the component by hand:
 *   npm run sandbox -- up [--json]   create (or repair) it and print connection settings
 *   npm run sandbox -- status [--json]
 *   npm run sandbox -- down
 * Same code path as the test labs (createLab({ persistent: true })); recorded in /run/hnft-lab/sandbox.json.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { createLab, LAB_ROOT, type Lab, type LabHost, openLab, slotDir, sshdAnswers } from "./lab";

const STATE = path.join(LAB_ROOT, "sandbox.json");

interface SandboxState {
  slot: number;
  created: string;
}

interface Settings {
  host: string;
  ipv6: string;
  port: number;
  user: string;
  privateKeyPath: string;
  hostKey: string;
  knownHostsPath: string;
  operator: { user: string; privateKeyPath: string; password: string | undefined; sudo: string };
  netns: string;
  etcOverlay: string;
  slot: number;
}

function readState(): SandboxState | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(STATE, "utf8")) as SandboxState;
    return Number.isInteger(s.slot) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The recorded sandbox, if its slot still exists and is the persistent one. */
function openSandbox(): Lab | undefined {
  const st = readState();
  if (!st) return undefined;
  if (!fs.existsSync(path.join(slotDir(st.slot), "owner.persistent"))) return undefined;
  const lab = openLab(st.slot);
  return lab && lab.hosts.length > 0 ? lab : undefined;
}

function settings(lab: Lab): Settings {
  const h = lab.hosts[0] as LabHost;
  return {
    host: h.ipv4,
    ipv6: h.ipv6,
    port: h.sshPort,
    user: h.root.user,
    privateKeyPath: h.root.keyPath,
    hostKey: h.hostKey,
    knownHostsPath: lab.knownHostsPath,
    operator: {
      user: h.operator.user,
      privateKeyPath: h.operator.keyPath,
      password: h.operator.password,
      sudo: "sudo -n (passwordless)",
    },
    netns: h.netns,
    etcOverlay: h.etc,
    slot: lab.slot,
  };
}

function sshLoginWorks(s: Settings): boolean {
  const r = spawnSync(
    "ssh",
    [
      "-F",
      "/dev/null",
      "-o",
      "BatchMode=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "ConnectTimeout=5",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `UserKnownHostsFile=${s.knownHostsPath}`,
      "-i",
      s.privateKeyPath,
      "-p",
      String(s.port),
      `${s.user}@${s.host}`,
      "true",
    ],
    { stdio: "ignore", timeout: 15_000 },
  );
  return r.status === 0;
}

function print(s: Settings, json: boolean, extra: Record<string, unknown> = {}): void {
  const out = { ...s, ...extra };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  if (json) return;
  const sshOpts = `-o StrictHostKeyChecking=yes -o UserKnownHostsFile=${s.knownHostsPath} -o IdentitiesOnly=yes`;
  process.stdout.write(`
# --- ready to paste -------------------------------------------------------
# shell
ssh ${sshOpts} -i ${s.privateKeyPath} ${s.user}@${s.host}
ssh ${sshOpts} -i ${s.operator.privateKeyPath} ${s.operator.user}@${s.host}   # password: ${s.operator.password ?? "-"}
sudo ip netns exec ${s.netns} nft list ruleset   # look inside from the machine

# ~/.ssh/config
Host hnft-sandbox
  HostName ${s.host}
  Port ${s.port}
  User ${s.user}
  IdentityFile ${s.privateKeyPath}
  IdentitiesOnly yes
  StrictHostKeyChecking yes
  UserKnownHostsFile ${s.knownHostsPath}

# known_hosts lines
${s.host} ${s.hostKey}
${s.ipv6} ${s.hostKey}

# Pulumi (TypeScript) connection args
{ host: "${s.host}", port: ${s.port}, user: "${s.user}", privateKey: fs.readFileSync("${s.privateKeyPath}", "utf8"), hostKey: "${s.hostKey}" }
`);
}

async function up(json: boolean): Promise<number> {
  let lab = openSandbox();
  if (lab) {
    const h = lab.hosts[0] as LabHost;
    if (!(await sshdAnswers(h))) await h.startSshd(); // repair a sandbox whose sshd died
  } else {
    if (readState()) fs.rmSync(STATE, { force: true });
    lab = await createLab({ hosts: 1, label: "sandbox", persistent: true });
    const st: SandboxState = { slot: lab.slot, created: new Date().toISOString() };
    const tmp = `${STATE}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(st, null, 2));
    fs.renameSync(tmp, STATE);
  }
  print(settings(lab), json, { status: "up" });
  return 0;
}

async function status(json: boolean): Promise<number> {
  const lab = openSandbox();
  if (!lab) {
    process.stdout.write(
      json ? `${JSON.stringify({ status: "down" })}\n` : "sandbox: not running (npm run sandbox -- up)\n",
    );
    return 3;
  }
  const s = settings(lab);
  const answers = await sshdAnswers(lab.hosts[0] as LabHost);
  const login = answers && sshLoginWorks(s);
  print(s, json, { status: login ? "up" : "degraded", sshd: answers ? "answering" : "not answering", sshLogin: login });
  return login ? 0 : 4;
}

async function down(): Promise<number> {
  const st = readState();
  const lab = openSandbox();
  if (lab) await lab.destroy();
  fs.rmSync(STATE, { force: true });
  process.stdout.write(lab || st ? `sandbox: removed (slot ${st?.slot ?? "?"})\n` : "sandbox: was not running\n");
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const cmd = argv.find((a) => !a.startsWith("-"));
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    process.stderr.write("sandbox: needs root (network namespaces, sshd)\n");
    return 1;
  }
  switch (cmd) {
    case "up":
      return up(json);
    case "status":
      return status(json);
    case "down":
      return down();
    default:
      process.stderr.write("usage: npm run sandbox -- up|status|down [--json]\n");
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`sandbox: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
