/**
 * Proof (issue #12): Amanda through the RENDERED table, APPLIED THROUGH THE HOST API, with the real
 * Amanda 3.5.1 of Debian on both sides (support/peers/amanda.ts): the firewalled server is the Amanda
 * client (amandad under a real inetd on udp/10080, bsd auth, `unreserved-tcp-port 40500,40509`),
 * the lab client is the Amanda server (amcheck and amdump as user backup). IPv4 only: Debian
 * builds Amanda `--without-ipv6`.
 *
 * What was exercised: `amcheck -c` (the selfcheck request/response: REQ, ACK, REP over udp/10080
 * through inetd and amandad) and a full `amdump` cycle (sendsize estimate, sendbackup, the
 * server's dumper connecting to the data ports amandad announced, taper onto a chg-disk virtual
 * tape); the payload is restored from the virtual tape and compared by sha256.
 *
 * Policy: ssh; amanda from the client's address, dataPorts 40500-40509; helper "none", then
 * helper "scoped" (the kernel amanda helper reads the `CONNECT DATA ...` reply and expects the
 * data connections).
 *
 * What is proved:
 * - helper none: amcheck finds 0 problems; amdump succeeds and the restored payload matches; the
 *   data connections went to ports inside the declared range; no expectation is created; an
 *   Amanda server on the attacker host (not in sources) gets no answer (its amcheck times out
 *   waiting for the ACK), and the data range is filtered to it;
 * - helper scoped: the amanda helper is attached to the control flow (helper=amanda) and
 *   expects the DATA and MESG connections amandad announces; those two pass as RELATED. But
 *   Amanda 3.x opens a fourth connection, STATE, which the kernel helper (net/netfilter/
 *   nf_conntrack_amanda.c searches only "DATA ", "MESG " and "INDEX ") does not expect: it is
 *   dropped and the backup FAILS ("could not connect STATE stream ... Connection timed out").
 *   That is a limitation of the kernel helper, not of the table: the catalog now warns that
 *   helper "scoped" cannot carry Amanda 3 and points to helper "none" with dataPorts. A data
 *   port no reply announced is filtered for the admitted client too.
 *
 * Negative controls (removed from the live table -> observed failure; re-applied -> works):
 * - helper none: `ip saddr @amanda_v4 tcp dport 40500-40509 accept comment "amanda: backup
 *   data"` -> amcheck still passes, amdump fails (the dumper cannot connect);
 * - helper none: `ip saddr @amanda_v4 udp dport 10080 accept comment "amanda: control"` ->
 *   amcheck: timeout waiting for ACK;
 * - helper scoped: `ct state related ct helper "amanda" ... tcp dport 40500-40509 accept comment
 *   "amanda: backup data, expected by helper amanda"` -> the helper expects the data connections
 *   and they match, yet none passes (not even DATA and MESG); re-applied, DATA and MESG pass again.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { tcpListener, tcpProbe } from "../support/peers";
import { AMANDA_PORT, type AmandaLab, type AmdumpResult, startAmanda } from "../support/peers/amanda";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  expectedPorts,
  expectStats,
  negativeControl,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const DATA: [number, number] = [40500, 40509];

describe.runIf(
  requireRoot("proof amanda", [
    "ip",
    "nft",
    "sshd",
    "conntrack",
    "ss",
    "amcheck",
    "amdump",
    "/usr/lib/amanda/amandad",
    "/usr/sbin/inetd",
    "su",
    "tar",
  ]),
)("proof: Amanda (amandad under inetd, amcheck, amdump) through the rendered table applied over SSH", () => {
  let p: ProofLab;
  let none: ProofPolicy;
  let scoped: ProofPolicy;

  beforeAll(async () => {
    p = await createProofLab("proof-amanda");
    none = {
      exposures: [
        { service: "ssh" },
        { service: "amanda", sources: [p.client.ipv4], dataPorts: `${DATA[0]}-${DATA[1]}` },
      ],
    };
    scoped = {
      exposures: [
        { service: "ssh" },
        { service: "amanda", sources: [p.client.ipv4], helper: "scoped", dataPorts: `${DATA[0]}-${DATA[1]}` },
      ],
    };
  }, 120_000);
  afterEach(async () => afterEachProof(p));
  afterAll(async () => destroyProofLab(p, "proof-amanda"));

  async function checkOk(a: AmandaLab): Promise<void> {
    const r = await a.amcheck();
    expect(r.ok, r.output).toBe(true);
  }

  async function dumpOk(a: AmandaLab): Promise<AmdumpResult> {
    const r = await a.amdump();
    expect(r.outcome).toMatch(/^SUCCESS dumper /);
    expect(r.restoredMatches, "payload restored from the virtual tape").toBe(true);
    expect(r.dataPorts.length, "data connections tracked").toBeGreaterThan(0);
    for (const port of r.dataPorts) expect(port >= DATA[0] && port <= DATA[1], `data port ${port}`).toBe(true);
    return r;
  }

  async function dumpFails(a: AmandaLab): Promise<string> {
    const r = await a.amdump();
    expect(r.ok).toBe(false);
    expect(r.outcome).toMatch(/^FAIL/);
    return `amdump: ${r.outcome.slice(0, 200)}`;
  }

  it("helper none: amcheck and a full amdump through the declared data range; an Amanda server not in sources is filtered", async () => {
    await applyToServer(p, none);
    const a = await startAmanda(p.server, p.client, DATA, [p.attacker]);
    try {
      const before = await expectStats(p.server);
      await checkOk(a);
      await dumpOk(a);
      expect(await expectStats(p.server), "no helper: no expectation").toEqual(before);

      const mallory = await a.amcheck(p.attacker);
      expect(mallory.ok).toBe(false);
      expect(mallory.output).toMatch(/timeout waiting for ACK/);
      const data = await tcpListener(p.server, DATA[0] + 5);
      expect((await tcpProbe(p.attacker, p.server.ipv4, data.port, 1000)).state).toBe("filtered");
      expect((await tcpProbe(p.client, p.server.ipv4, data.port, 1000)).state).toBe("open");
      await data.stop();

      await negativeControl(p, {
        test: "Amanda backup data (helper none)",
        policy: none,
        comment: "amanda: backup data",
        fails: async () => {
          await checkOk(a);
          return `amcheck still 0 problems; ${await dumpFails(a)}`;
        },
        works: async () => void (await dumpOk(a)),
      });
      await negativeControl(p, {
        test: "Amanda control udp/10080 (helper none)",
        policy: none,
        comment: "amanda: control",
        fails: async () => {
          const r = await a.amcheck();
          expect(r.ok).toBe(false);
          expect(r.output).toMatch(/timeout waiting for ACK/);
          return `amcheck: ${r.output.split("\n").find((l) => l.includes("ERROR")) ?? r.output}`;
        },
        works: async () => checkOk(a),
      });
    } finally {
      await a.stop();
    }
  }, 240_000);

  it("helper scoped: the amanda helper expects DATA and MESG, not the STATE stream of Amanda 3, so the backup fails (kernel limitation)", async () => {
    const applied = await applyToServer(p, scoped);
    expect(applied.artefacts.nft).toMatch(/type "amanda" protocol udp/);
    expect(applied.artefacts.warnings.join("\n")).toMatch(/STATE/);
    const a = await startAmanda(p.server, p.client, DATA);
    try {
      // the control flow carries the helper and the selfcheck works
      await checkOk(a);
      const ct = (await p.server.sh(`conntrack -L -p udp --dport ${AMANDA_PORT} 2>/dev/null`)).stdout
        .trim()
        .split("\n");
      expect(ct.length).toBeGreaterThan(0);
      for (const l of ct) expect(l).toContain("helper=amanda");

      const s0 = await expectStats(p.server);
      const r = await a.amdump();
      const s1 = await expectStats(p.server);
      expect(r.ok).toBe(false);
      const state = /could not connect STATE stream: can't connect stream to \S+ port (\d+): Connection timed out/.exec(
        r.outcome,
      );
      expect(state, r.outcome).not.toBeNull();
      const statePort = Number(state![1]);
      expect(statePort >= DATA[0] && statePort <= DATA[1], `STATE port ${statePort} inside the declared range`).toBe(
        true,
      );
      // DATA and MESG: expected by the helper, matched, accepted as RELATED
      expect(r.dataPorts.length, `connections that passed: ${r.dataPorts.join(", ")}`).toBe(2);
      for (const port of r.dataPorts) expect(port >= DATA[0] && port <= DATA[1] && port !== statePort).toBe(true);
      expect(s1.create - s0.create, "expectations for DATA and MESG").toBeGreaterThanOrEqual(2);
      expect(s1.matched - s0.matched, "DATA and MESG matched them").toBeGreaterThanOrEqual(2);

      // a data port no reply announced is filtered for the admitted client too (an announced
      // port the dumper did not use, INDEX for one, stays expected until the helper's timeout)
      const announced = new Set([...r.dataPorts, statePort, ...(await expectedPorts(p.server))]);
      const unannounced = Array.from({ length: DATA[1] - DATA[0] + 1 }, (_, i) => DATA[0] + i).find(
        (port) => !announced.has(port),
      );
      expect(
        unannounced,
        `a port of ${DATA.join("-")} no reply announced (announced: ${[...announced].join(", ")})`,
      ).toBeDefined();
      const direct = await tcpListener(p.server, unannounced!);
      try {
        expect((await tcpProbe(p.client, p.server.ipv4, direct.port, 1000)).state).toBe("filtered");
        expect(direct.accepted()).toEqual([]);
      } finally {
        await direct.stop();
      }

      await negativeControl(p, {
        test: "Amanda backup data (helper scoped)",
        policy: scoped,
        comment: "amanda: backup data, expected by helper amanda",
        fails: async () => {
          const x = await expectStats(p.server);
          const f = await a.amdump();
          const y = await expectStats(p.server);
          expect(f.ok).toBe(false);
          expect(f.dataPorts, "no data connection passes").toEqual([]);
          expect(y.create, "the helper still expects the data connections").toBeGreaterThan(x.create);
          expect(y.matched, "and the dumper's SYN matches").toBeGreaterThan(x.matched);
          return `amdump: ${f.outcome.slice(0, 260)}; no data connection passed (expectations created +${y.create - x.create}, matched +${y.matched - x.matched})`;
        },
        works: async () => {
          const w = await a.amdump();
          expect(w.dataPorts.length, "DATA and MESG pass again (STATE still fails)").toBe(2);
        },
      });
    } finally {
      await a.stop();
    }
  }, 300_000);
});
