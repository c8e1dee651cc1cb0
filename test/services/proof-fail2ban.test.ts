/**
 * Proof (issue 21): real fail2ban (Debian's, its sshd filter and its nftables action) feeding a
 * block set of the RENDERED table APPLIED THROUGH THE HOST API.
 *
 * fail2ban runs only inside the lab server's network namespace (its bans can never touch this
 * machine's firewall), with its own configuration directory, socket, pid and database files, and
 * the lab sshd's log as its log path. Its nftables action is pointed at the policy's block set
 * `f2b-sshd` in our table (table inet, addr_set f2b-sshd); its start, stop and check steps are
 * emptied, because the set is the policy's: fail2ban only adds and deletes elements.
 *
 * What is proved: failed logins from the attacker (real `ssh`) put it into the set and its packets
 * are dropped while the client connects; a policy change applied through the host API keeps the
 * ban; `fail2ban-client unban` lets the attacker in again; observe reports the table in sync
 * throughout; the block set's counter counts the dropped packets.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  expectApplyKeepsBans,
  expectBanned,
  expectInSync,
  expectSetCounted,
  reachSshd,
  setListing,
  until,
} from "../support/ban-proof";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const SSH_ATTEMPT = (target: string) =>
  `ssh -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR intruder@${target} true 2>&1; true`;

describe.runIf(
  requireRoot("proof fail2ban", ["ip", "nft", "sshd", "ssh", "bash", "fail2ban-server", "fail2ban-client"]),
)("proof: fail2ban feeds a block set", () => {
  let p: ProofLab;
  let dir: string;
  const blockSets = [{ name: "f2b-sshd", family: "ipv4", timeout: "1h", comment: "fail2ban sshd" }];
  const policy = (): ProofPolicy => ({ exposures: [{ service: "ssh" }], blockSets });
  const changed = (): ProofPolicy => ({ exposures: [{ service: "ssh" }, { service: "https" }], blockSets });

  beforeAll(async () => {
    p = await createProofLab("proof-fail2ban");
    dir = join(p.server.dir, "fail2ban");
    mkdirSync(dir, { recursive: true });
    cpSync("/etc/fail2ban", dir, { recursive: true });
    writeFileSync(
      join(dir, "fail2ban.local"),
      `[Definition]\nloglevel = INFO\nlogtarget = ${dir}/fail2ban.log\nsocket = ${dir}/fail2ban.sock\npidfile = ${dir}/fail2ban.pid\ndbfile = ${dir}/fail2ban.sqlite3\n`,
    );
    // the lab's sshd logs with -e: no syslog prefix (no date, no "sshd[pid]:") before each message
    writeFileSync(join(dir, "filter.d", "sshd.local"), "[DEFAULT]\n__prefix_line =\n");
    // Debian's nftables action, pointed at the policy's set; the set and its rule are the policy's, not fail2ban's
    writeFileSync(
      join(dir, "action.d", "nftables.local"),
      "[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionflush =\n",
    );
    writeFileSync(
      join(dir, "jail.local"),
      [
        "[DEFAULT]",
        `ignoreip = 127.0.0.1/8 ::1 ${p.lab.controllerIpv4} ${p.lab.controllerIpv6}`,
        "[sshd]",
        "enabled = true",
        "backend = polling",
        `logpath = ${p.server.sshdLog}`,
        // sshd -e writes its lines without a date: fail2ban takes the time it reads them
        "datepattern = {NONE}",
        "maxretry = 3",
        "findtime = 10m",
        "bantime = 1h",
        `action = nftables[name=sshd, table=${PROOF_TABLE}, table_family=inet, addr_set=f2b-sshd, port=ssh, protocol=tcp]`,
        "",
      ].join("\n"),
    );
    // rm the jail.d defaults: Debian's enables sshd with the systemd backend, which reads the machine's journal
    await p.server.sh(`rm -f ${dir}/jail.d/*`);
  }, 120_000);
  afterEach(async () => afterEachProof(p));
  afterAll(async () => {
    await p?.server.sh(`fail2ban-client -c ${dir} -s ${dir}/fail2ban.sock stop >/dev/null 2>&1; true`, {
      allowFail: true,
    });
    await destroyProofLab(p, "proof-fail2ban");
  });

  const client = (cmd: string) =>
    p.server.sh(`fail2ban-client -c ${dir} -s ${dir}/fail2ban.sock ${cmd}`, { allowFail: true });
  const banned = async () => (await setListing(p, "f2b-sshd")).includes(p.attacker.ipv4);

  it("failed logins ban the attacker into the block set; a policy change keeps the ban; unban lets it in; never drift", async () => {
    expect((await applyToServer(p, policy())).changed).toBe(true);
    const server = p.server.spawn(
      `exec fail2ban-server -f -x -c ${dir} -s ${dir}/fail2ban.sock -p ${dir}/fail2ban.pid`,
    );
    try {
      await until("fail2ban's sshd jail", async () => /Currently banned/.test((await client("status sshd")).stdout));
      expect(await reachSshd(p, "attacker")).toBe("SSH-2.0");
      for (let i = 0; i < 5; i++) await p.attacker.sh(SSH_ATTEMPT(p.server.ipv4), { allowFail: true });
      // on a timeout the sshd log and fail2ban's follow the message
      await until("the attacker in the set", banned, 20_000, async () => {
        const tails = `tail -n 15 ${p.server.sshdLog}; echo ----; tail -n 30 ${dir}/fail2ban.log`;
        return (await p.server.sh(tails, { allowFail: true })).stdout;
      });
      await expectBanned(p, ["ipv4"], policy());

      // a policy change applied over SSH: the ban stays, and still drops
      await expectApplyKeepsBans(p, changed(), [{ set: "f2b-sshd", family: "ipv4" }]);
      await expectSetCounted(p, "f2b-sshd");

      // unban through fail2ban: the element goes, the attacker reaches sshd again
      await client(`set sshd unbanip ${p.attacker.ipv4}`);
      await until("the attacker out of the set", async () => !(await banned()));
      expect(await reachSshd(p, "attacker")).toBe("SSH-2.0");
      await expectInSync(p, changed());
      console.info(
        `proof-fail2ban: fail2ban log:\n${(await p.server.sh(`grep -E "Ban|Unban|ERROR" ${dir}/fail2ban.log || true`)).stdout}`,
      );
    } finally {
      await client("stop");
      await server.stop();
    }
  }, 120_000);
});
