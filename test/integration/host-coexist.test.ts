/**
 * Two tables of this project on one lab host. nftables runs every table's input chain and a drop
 * in any of them is final, and modprobe.d is host-wide: so the second table's apply is refused,
 * naming the first, with nothing changed on the host (the compiled CLI: exit 6; the host API: an
 * OtherTablesError). Explicitly allowed, both apply, and every table's modprobe.d deny list leaves
 * loadable the helper modules any of them needs: each table's own drift check finds its files as
 * it renders them on this host; a host-wide sysctl they set to different values is refused. Negative control: the old deny line put back by hand is found as
 * drift, and the next allowed apply takes it out again. Real packets show why two tables are
 * refused by default: a port one table opens and the other does not is closed.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyPolicy,
  HostOperationError,
  OtherTablesError,
  observePolicy,
  probeHost,
  removeTable,
} from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, expectRejects, HOST_PATHS } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { tcpListener, tcpProbe } from "../support/peers";
import { requireRoot } from "../support/privileges";

const bin = join(__dirname, "../../dist/cli/main.js");
const STATE = ["--state-root", HOST_PATHS.stateRoot!, "--run-root", HOST_PATHS.runRoot!];
const FTP = ["nf_conntrack_ftp", "nf_nat_ftp"];
const SIP = ["nf_conntrack_sip", "nf_nat_sip"];

const BASE = { table: "base", exposures: [{ service: "ssh" }] };
const APP = {
  table: "app",
  exposures: [{ service: "ssh" }, { service: "ftp", helper: "scoped", passivePorts: "50000-50100" }],
};
const BASE_WITH_SIP = {
  table: "base",
  exposures: [{ service: "ssh" }, { service: "sip", helper: "scoped", rtpPorts: "10000-10100" }],
};

const modprobeFile = (table: string) => `/etc/modprobe.d/hardened-nftables-${table}.conf`;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { SSH_AUTH_SOCK: _agent, ...env } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

describe.runIf(requireRoot("host coexist", ["ip", "sshd", "nft"]))("two tables of this project on one host", () => {
  let lab: Lab;
  let h: LabHost;
  let client: LabHost;
  let dir: string;
  let key: string;
  const conn = () => connectionFor(h);
  const options = { paths: HOST_PATHS, confirmTimeoutSeconds: 20 };
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text, { mode: 0o600 });
    return p;
  };
  const denies = async (table: string) =>
    (await h.sh(`sed -n 's/^install \\(.*\\) \\/bin\\/false$/\\1/p' ${modprobeFile(table)}`)).stdout
      .split("\n")
      .filter(Boolean);
  /** Everything an apply could touch: the ruleset, and every file under the directories it writes. */
  const snapshot = async () =>
    (
      await h.sh(
        'nft -s list ruleset; find /etc/hardened-nftables /etc/modprobe.d /etc/sysctl.d /etc/systemd/system \\( -type f -o -type l \\) 2>/dev/null | sort | while read -r f; do printf \'%s \' "$f"; if [ -L "$f" ]; then readlink "$f"; else sha256sum <"$f"; fi; done',
      )
    ).stdout;
  const inSync = async (policy: object) => {
    const report = await observePolicy(conn(), assertPolicy(policy), options);
    return { inSync: report.inSync, files: report.files };
  };

  beforeAll(async () => {
    lab = await createLab({ hosts: 2, label: "host-coexist" });
    [h, client] = lab.hosts as [LabHost, LabHost];
    dir = mkdtempSync(join(tmpdir(), "hnft-coexist-"));
    key = file("root_ed25519", h.root.privateKey);
  });
  afterAll(async () => {
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the first table applies; probe reports it as this project's", async () => {
    const r = await applyPolicy(conn(), assertPolicy(BASE), options);
    expect(r.changed).toBe(true);
    expect(await denies("base")).toEqual(expect.arrayContaining([...FTP, ...SIP]));
    const facts = await probeHost(conn());
    expect(facts.managedTables.map((t) => t.table)).toEqual(["base"]);
    expect(facts.managedTables[0]!.files).toEqual(
      expect.arrayContaining([
        "/etc/hardened-nftables/base.nft",
        modprobeFile("base"),
        "/etc/sysctl.d/60-hardened-nftables-base.conf",
      ]),
    );
  }, 90_000);

  it("a second table is refused, naming the first, and nothing on the host changes (CLI exit 6; host API OtherTablesError)", async () => {
    const before = await snapshot();
    expect(before).toContain("table inet base");
    const r = await cli([
      "apply",
      "--policy",
      file("app.json", JSON.stringify(APP)),
      "--host",
      `root@${h.ipv4}`,
      "--identity",
      key,
      "--host-key",
      h.hostKey,
      ...STATE,
    ]);
    expect(r.code, r.stderr).toBe(6);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(
      "refusing to apply table inet app: this host already has table inet base (/etc/hardened-nftables/base.nft",
    );
    expect(r.stderr).toContain("--allow-other-tables");
    expect(r.stderr).toContain("Nothing was changed.");
    expect(await snapshot()).toBe(before);

    const err = await expectRejects(applyPolicy(conn(), assertPolicy(APP), options), OtherTablesError);
    expect(err.others.map((o) => o.table)).toEqual(["base"]);
    expect(err.message).toContain("allowOtherTables");
    // Allowing some other table is not allowing this one.
    await expectRejects(
      applyPolicy(conn(), assertPolicy(APP), { ...options, allowOtherTables: ["web"] }),
      OtherTablesError,
    );
    expect(await snapshot()).toBe(before);
    expect((await h.sh("nft list tables")).stdout).not.toContain("table inet app");
  }, 90_000);

  it("allowed, both apply; base's deny list stops refusing app's ftp modules, app's leaves them loadable; each is in sync", async () => {
    const r = await cli([
      "apply",
      "--policy",
      file("app.json", JSON.stringify(APP)),
      "--host",
      `root@${h.ipv4}`,
      "--identity",
      key,
      "--host-key",
      h.hostKey,
      ...STATE,
      "--allow-other-tables",
      "-v",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("table inet app changed");
    expect(r.stderr).toContain(
      `table inet base's modprobe.d file no longer refuses ${FTP.join(", ")} (table inet app needs them)`,
    );
    const tables = (await h.sh("nft list tables")).stdout;
    expect(tables).toContain("table inet base");
    expect(tables).toContain("table inet app");

    for (const table of ["base", "app"]) {
      const denied = await denies(table);
      for (const m of FTP) expect(denied, `${table} refuses ${m}`).not.toContain(m);
      for (const m of SIP) expect(denied, `${table} refuses ${m}`).toContain(m);
    }
    expect((await h.sh(`cat ${modprobeFile("app")}`)).stdout).toContain(
      `# Allowed for scoped exposures: ${FTP.join(", ")}`,
    );
    expect(await inSync(BASE)).toEqual({ inSync: true, files: [] });
    expect(await inSync(APP)).toEqual({ inSync: true, files: [] });
    const d = await cli([
      "diff",
      "--policy",
      file("base.json", JSON.stringify(BASE)),
      "--host",
      `root@${h.ipv4}`,
      "--identity",
      key,
      "--host-key",
      h.hostKey,
      ...STATE,
    ]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain("table inet base in sync");
    expect(d.stdout).toContain(
      "note: table inet app of this project is also on this host: a packet must pass both tables",
    );
  }, 120_000);

  it("negative control: base's old deny line put back by hand is drift for base; the next allowed apply of app takes it out again", async () => {
    await h.sh(`echo 'install nf_conntrack_ftp /bin/false' >> ${modprobeFile("base")}`);
    const drifted = await inSync(BASE);
    expect(drifted.inSync).toBe(false);
    expect(drifted.files).toEqual([
      expect.objectContaining({
        path: modprobeFile("base"),
        status: "changed",
        added: ["install nf_conntrack_ftp /bin/false"],
      }),
    ]);

    const r = await applyPolicy(conn(), assertPolicy(APP), { ...options, allowOtherTables: ["base"] });
    expect(r.changed).toBe(false); // app itself already matched; only base's file was put right
    expect(await denies("base")).not.toContain("nf_conntrack_ftp");
    expect(await inSync(BASE)).toEqual({ inSync: true, files: [] });
  }, 120_000);

  it("either way round: base now needs the sip helper; app's deny list stops refusing it, and both stay in sync", async () => {
    const r = await applyPolicy(conn(), assertPolicy(BASE_WITH_SIP), { ...options, allowOtherTables: true });
    expect(r.changed).toBe(true);
    for (const table of ["base", "app"]) {
      const denied = await denies(table);
      for (const m of [...FTP, ...SIP]) expect(denied, `${table} refuses ${m}`).not.toContain(m);
      expect(denied, `${table} still refuses the rest`).toEqual(
        expect.arrayContaining(["nf_conntrack_tftp", "nf_conntrack_irc"]),
      );
    }
    expect(await inSync(BASE_WITH_SIP)).toEqual({ inSync: true, files: [] });
    expect(await inSync(APP)).toEqual({ inSync: true, files: [] });
  }, 120_000);

  it("with app removed, base's next apply refuses the ftp modules again and needs no allowance", async () => {
    await removeTable(conn(), "app", options);
    const facts = await probeHost(conn());
    expect(facts.managedTables.map((t) => t.table)).toEqual(["base"]);
    const stale = await inSync(BASE_WITH_SIP);
    expect(stale.inSync).toBe(false); // its file still leaves ftp loadable for a table that is gone
    const r = await applyPolicy(conn(), assertPolicy(BASE_WITH_SIP), options);
    expect(r.changed).toBe(true);
    expect(await denies("base")).toEqual(expect.arrayContaining(FTP));
    expect(await denies("base")).not.toContain("nf_conntrack_sip");
    expect(await inSync(BASE_WITH_SIP)).toEqual({ inSync: true, files: [] });
  }, 120_000);

  it("allowed, a host-wide sysctl the two tables set to different values is refused, naming both; the same value applies", async () => {
    const max = (policy: object, value: number) => ({ ...policy, conntrack: { max: value } });
    expect((await applyPolicy(conn(), assertPolicy(max(BASE_WITH_SIP, 131072)), options)).changed).toBe(true);
    const before = await snapshot();
    const err = await expectRejects(
      applyPolicy(conn(), assertPolicy(max(APP, 262144)), { ...options, allowOtherTables: true }),
      HostOperationError,
    );
    expect(err.message).toContain(
      "table inet app would set net.netfilter.nf_conntrack_max = 262144, but table inet base's sysctl.d file sets 131072",
    );
    expect(err.message).toContain("Nothing was changed.");
    expect(await snapshot()).toBe(before);
    expect(
      (await applyPolicy(conn(), assertPolicy(max(APP, 131072)), { ...options, allowOtherTables: true })).changed,
    ).toBe(true);
    expect(await inSync(max(APP, 131072))).toEqual({ inSync: true, files: [] });
    expect(await inSync(max(BASE_WITH_SIP, 131072))).toEqual({ inSync: true, files: [] });
  }, 120_000);
  it("why it is refused, with real packets: app opens tcp/21, base does not, so nothing reaches it until base is gone", async () => {
    const listener = await tcpListener(h, 21);
    try {
      expect((await tcpProbe(client, h.ipv4, 22)).state, "ssh: both tables accept it").toBe("open");
      expect((await tcpProbe(client, h.ipv4, 21)).state, "ftp control: app accepts it, base drops it").toBe("filtered");
      await removeTable(conn(), "base", options);
      expect((await tcpProbe(client, h.ipv4, 21)).state, "with base removed, app alone admits it").toBe("open");
      expect(listener.accepted().map((a) => a.from)).toEqual([client.ipv4]);
    } finally {
      await listener.stop();
    }
  }, 120_000);

  it("composed in the model instead: base plus app's exposures as ONE table (apply --policy twice) admits both", async () => {
    await removeTable(conn(), "app", options);
    const addition = { exposures: APP.exposures.filter((e) => e.service !== "ssh") };
    const r = await cli([
      "apply",
      "--policy",
      file("base.json", JSON.stringify(BASE)),
      "--policy",
      file("app-addition.json", JSON.stringify(addition)),
      "--host",
      `root@${h.ipv4}`,
      "--identity",
      key,
      "--host-key",
      h.hostKey,
      ...STATE,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("table inet base changed");
    expect((await probeHost(conn())).managedTables.map((t) => t.table)).toEqual(["base"]);
    expect(await denies("base")).not.toContain("nf_conntrack_ftp");
    const listener = await tcpListener(h, 21);
    try {
      expect((await tcpProbe(client, h.ipv4, 21)).state).toBe("open");
      expect((await tcpProbe(client, h.ipv4, 22)).state).toBe("open");
    } finally {
      await listener.stop();
    }
  }, 120_000);
});
