/**
 * Every example program runs under pulumi.runtime.setMocks: what it registers is checked here
 * (the examples also typecheck in `npm run typecheck:examples`). "pulumi-hardened-nftables"
 * resolves to this repository's src/index.ts (alias in vitest.config.ts).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fromLineMap, type LineMap } from "../../src/pulumi/line-map";
import { check } from "../../src/pulumi/provider-impl";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const PROJECT = "hnft-example";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
let registered: Registered[] = [];
let keyDir = "";

const unsecret = (v: unknown): unknown =>
  v && typeof v === "object" && SECRET_SIG in v ? (v as unknown as { value: unknown }).value : v;

beforeAll(async () => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-ex-"));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(keyDir, "k")]);
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    PROJECT,
    "test",
    false,
  );
});

beforeEach(() => {
  registered = [];
});

function configure(values: Record<string, unknown>): void {
  const all: Record<string, string> = {};
  const secret: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    all[`${PROJECT}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
    if (k === "privateKey") secret.push(`${PROJECT}:${k}`);
  }
  pulumi.runtime.setAllConfig(all, secret);
}

/** Import the example and wait until it has registered everything. */
async function run(example: string): Promise<Registered[]> {
  await import(`../../examples/${example}/index.ts`);
  let seen = -1;
  while (seen !== registered.length) {
    seen = registered.length;
    await new Promise((r) => setTimeout(r, 400));
  }
  return registered;
}

/** The HostTables registered, with the inputs the provider's check makes of them (the rendered lines, the target). */
const tables = (regs: Registered[]): Promise<Registered[]> =>
  Promise.all(
    regs
      .filter((r) => r.type === "hardened-nftables:index:HostTable")
      .map(async (r) => {
        const { inputs, failures } = await check(undefined, { ...r.inputs, connection: unsecret(r.inputs.connection) });
        expect(failures).toEqual([]);
        return { ...r, inputs: { ...(inputs as Record<string, unknown>), connection: r.inputs.connection } };
      }),
  );
const privateKey = () => fs.readFileSync(path.join(keyDir, "k"), "utf8");

describe("examples run under mocks", () => {
  it("quickstart: one firewall with ssh, https and plain-port passive FTP", async () => {
    configure({ host: "198.51.100.10", hostKey: HOST_KEY, privateKeyPath: path.join(keyDir, "k") });
    const regs = await run("quickstart");
    expect(regs.filter((r) => r.type === "hardened-nftables:index:HostFirewall").map((r) => r.name)).toEqual([
      "quickstart",
    ]);
    const [t] = await tables(regs);
    expect(t!.inputs.table).toBe("quickstart");
    expect(t!.inputs.target).toBe("root@198.51.100.10:22");
    expect(Object.keys(t!.inputs.rules as object)).toContain(
      'chain input: tcp dport 443 counter accept comment "https: web requests over TLS"',
    );
    expect(Object.keys(t!.inputs.rules as object)).toContain(
      'chain input: tcp dport 50000-50100 counter accept comment "ftp: passive data"',
    );
  });

  it("ftp-server: @pulumi/command installs and configures vsftpd; the firewall scopes the ftp helper", async () => {
    configure({ host: "198.51.100.21", hostKey: HOST_KEY, privateKey: privateKey() });
    const regs = await run("ftp-server");
    const commands = regs.filter((r) => r.type === "command:remote:Command");
    expect(commands.map((c) => c.name)).toEqual(["ftp-packages", "vsftpd-passive-range"]);
    expect(commands[0]!.inputs.create).toContain("apt-get install -y -qq nftables vsftpd conntrack");
    expect(commands[1]!.inputs.create).toContain("pasv_min_port=50000\\npasv_max_port=50100");
    const [t] = await tables(regs);
    expect(Object.keys(t!.inputs.rules as object)).toContain(
      'chain input: tcp dport 21 counter ct helper set "ftp-helper" accept comment "ftp: control, helper ftp"',
    );
    expect(Object.keys(t!.inputs.rules as object)).toContain(
      'chain input: ct state related ct helper "ftp" tcp dport 50000-50100 counter accept comment "ftp: passive data, expected by helper ftp"',
    );
    expect(fromLineMap(t!.inputs.modprobe as LineMap)).toContain(
      "# Allowed for scoped exposures: nf_conntrack_ftp, nf_nat_ftp",
    );
  });

  it("voip-pbx: SIP with a fixed RTP range, no helper, outbound restricted", async () => {
    configure({ host: "198.51.100.30", hostKey: HOST_KEY, privateKey: privateKey() });
    const regs = await run("voip-pbx");
    const [t] = await tables(regs);
    const lines = Object.keys(t!.inputs.rules as object);
    expect(t!.inputs.table).toBe("pbx");
    expect(lines).toContain("chain output: policy drop");
    expect(lines.some((l) => /udp dport 10000-20000 counter accept/.test(l))).toBe(true);
    expect(lines.some((l) => /ct helper set/.test(l))).toBe(false);
    expect(fromLineMap(t!.inputs.sysctl as LineMap)).toContain("net.netfilter.nf_conntrack_max = 262144");
  });

  it("fleet: one firewall per host, the base policy plus each role's additions", async () => {
    configure({
      privateKey: privateKey(),
      hosts: [
        { name: "web1", host: "203.0.113.11", hostKey: HOST_KEY, role: "web" },
        { name: "db1", host: "203.0.113.12", hostKey: HOST_KEY, role: "db" },
        { name: "mail1", host: "203.0.113.13", hostKey: HOST_KEY, role: "mail", user: "ops" },
      ],
    });
    const regs = await run("fleet");
    const order = ["fw-web1-table", "fw-db1-table", "fw-mail1-table"];
    const ts = (await tables(regs)).sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    expect(ts.map((t) => t.name)).toEqual(order);
    expect(ts.every((t) => t.inputs.table === "fleet")).toBe(true);
    const [web, db, mail] = ts.map((t) => Object.keys(t.inputs.rules as object));
    for (const lines of [web!, db!, mail!])
      expect(lines.some((l) => l.includes('comment "ssh: remote logins"'))).toBe(true);
    expect(web!.some((l) => l.includes("udp dport 443"))).toBe(true);
    expect(db!).toContain("chain output: policy drop");
    expect(
      db!.some((l) => l.includes('tcp dport 5432 counter accept comment "postgres: ports (app servers only)"')),
    ).toBe(true);
    expect(web!.some((l) => l.includes("5432"))).toBe(false);
    expect(ts[2]!.inputs.target).toBe("ops@203.0.113.13:22");
    expect(fromLineMap(ts[2]!.inputs.sysctl as LineMap)).toContain("net.netfilter.nf_conntrack_max = 131072");
  });

  it("bastion: the inner host is reached through the proxy and admits SSH only from the bastion", async () => {
    configure({
      privateKey: privateKey(),
      bastionHost: "203.0.113.5",
      bastionHostKey: HOST_KEY,
      bastionInside: "10.0.0.5",
      privateHost: "10.0.0.20",
      privateHostKey: HOST_KEY,
    });
    const regs = await run("bastion");
    const outer = (await tables(regs)).find((t) => t.name === "bastion-table");
    const inner = (await tables(regs)).find((t) => t.name === "inner-table");
    expect(outer!.inputs.target).toBe("root@203.0.113.5:22");
    expect(inner!.inputs.target).toBe("admin@10.0.0.20:22 via jump@203.0.113.5:22");
    const conn = unsecret(inner!.inputs.connection) as { proxy?: { host: string } };
    expect(conn.proxy?.host).toBe("203.0.113.5");
    expect((inner!.inputs.rules as Record<string, string>)["set ssh_v4"]).toBe("| 1 element\n10.0.0.5\n");
    const command = regs.find((r) => r.type === "command:remote:Command");
    expect((unsecret(command!.inputs.connection) as { proxy?: { host: string } }).proxy?.host).toBe("203.0.113.5");
  });
});
