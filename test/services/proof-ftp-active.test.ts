/**
 * Proof (issue #12, part 1): ACTIVE-mode FTP through the RENDERED table, APPLIED THROUGH THE HOST
 * API, with real peers: vsftpd on the server with `port_enable=YES` and `connect_from_port_20=YES`
 * (its data connections leave from tcp/20 to the port the client names), curl on the client with
 * `--ftp-port ADDR:40000-40009` (EPRT, and PORT with --disable-eprt), a bare host as the attacker.
 *
 * Policy: ssh; ftp on tcp/21 from the client's addresses only, passivePorts 50000-50009,
 * `activeMode: true`; `output.policy: drop`. The same with helper "scoped".
 *
 * What is proved:
 * - active FTP (LIST + RETR) works over IPv4 (EPRT and PORT) and IPv6 (EPRT) with outbound
 *   traffic restricted: conntrack shows the data connections leaving the server from port 20 to
 *   the ports the client announced;
 * - the attacker (not among the sources) does not get the control port;
 * - without `activeMode` (same policy otherwise) the rendered table blocks active mode: the
 *   transfer fails, although the control connection works;
 * - with output accepted (the default) active mode works with `activeMode` unset, as the
 *   explanation says;
 * - helper "scoped": the ftp helper on the control connection expects the data connection
 *   (expect_create/expect_new grow) and active transfers pass through the same output rule.
 *
 * Negative control (rule removed from the live table -> observed failure; then re-applied through
 * the host API, which reports a change, and the transfer works again):
 * - removed (chain output) `tcp sport 20 accept` commented "ftp: active data from tcp/20" (one rule
 *   per family, to the client's sets) -> curl logs in and announces its port (EPRT, port 40000),
 *   vsftpd's SYN from port 20 is dropped in the output chain, and curl times out waiting for the
 *   data connection (`curl: (28)`), IPv4 and IPv6. The same failure with activeMode unset.
 *
 * Finding (vsftpd, not the table): a session whose connect back was blocked keeps trying for
 * its connect_timeout (60 s) from port 20 to the same client port; a new session's connect to that
 * same address pair then fails at once (`425 Failed to establish connection`, curl exit 19). The
 * test restarts vsftpd after each blocked attempt. curl 7.88 prints `sa_addr inet_ntop() failed
 * with errno 97` in its verbose trace of every active transfer (harmless); the exit code tells
 * what failed.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { render } from "../../src/render";
import { type FtpFetchResult, ftpFetch, startVsftpd, tcpProbe, type VsftpdHandle } from "../support/peers";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  expectStats,
  liveComments,
  negativeControl,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const PASV: [number, number] = [50000, 50009];
const CLIENT_PORTS: [number, number] = [40000, 40009];
const COMMENT = "ftp: active data from tcp/20";

const inRange = (p: number, [a, b]: [number, number]): boolean => p >= a && p <= b;

describe.runIf(requireRoot("proof ftp active", ["ip", "nft", "sshd", "vsftpd", "curl", "conntrack"]))(
  "proof: active FTP through the rendered table applied over SSH",
  () => {
    let p: ProofLab;
    let policy: (o: { activeMode?: boolean; output?: "accept" | "drop"; helper?: "none" | "scoped" }) => ProofPolicy;
    let v4: VsftpdHandle;
    let v6: VsftpdHandle;

    beforeAll(async () => {
      p = await createProofLab("proof-ftp-active");
      policy = (o) => ({
        exposures: [
          { service: "ssh" },
          {
            service: "ftp",
            sources: [p.client.ipv4, p.client.ipv6],
            passivePorts: `${PASV[0]}-${PASV[1]}`,
            helper: o.helper ?? "none",
            ...(o.activeMode === undefined ? {} : { activeMode: o.activeMode }),
          },
        ],
        output: { policy: o.output ?? "drop" },
      });
    }, 120_000);
    // every test starts from the declared table (a failed test may have left a rule deleted), with fresh servers
    beforeEach(async () => {
      await applyToServer(p, policy({ activeMode: true }));
      await startServers();
    });
    afterEach(async () => {
      await v4?.stop();
      await v6?.stop();
      await afterEachProof(p);
    });
    afterAll(async () => destroyProofLab(p, "proof-ftp-active"));

    async function startServers(): Promise<void> {
      v4 = await startVsftpd(p.server, { pasvMin: PASV[0], pasvMax: PASV[1], activeFromPort20: true });
      v6 = await startVsftpd(p.server, { pasvMin: PASV[0], pasvMax: PASV[1], activeFromPort20: true, ipv6: true });
    }

    /**
     * After a blocked attempt the vsftpd session that could not connect back keeps trying (its
     * connect_timeout is 60 s) from port 20 to the same client port, and a new session's connect
     * to that same address pair then fails (425): the next attempt starts from new servers.
     */
    async function restartServers(): Promise<void> {
      await v4.stop();
      await v6.stop();
      await startServers();
    }

    async function activeFetch(v: VsftpdHandle, extended: boolean, timeoutMs?: number): Promise<FtpFetchResult> {
      return ftpFetch(p.client, p.server, {
        file: v.file.name,
        ipv6: v.ipv6,
        passive: false,
        extended,
        activePortRange: CLIENT_PORTS,
        ...(timeoutMs ? { timeoutMs, list: false } : {}),
      });
    }

    async function activeOk(v: VsftpdHandle, extended = true): Promise<void> {
      const r = await activeFetch(v, extended);
      const what = `IPv${v.ipv6 ? 6 : 4} ${extended ? "EPRT" : "PORT"}`;
      expect(r.error, what).toBeNull();
      expect(r.listing, what).toContain(v.file.name);
      expect(r.sha256, what).toBe(v.file.sha256);
      // LIST and RETR: two announced client ports, both in the pinned range
      expect(r.dataPorts.length, what).toBe(2);
      for (const port of r.dataPorts) expect(inRange(port, CLIENT_PORTS), `${what}: ${port}`).toBe(true);
    }

    async function activeFails(v: VsftpdHandle): Promise<string> {
      const r = await activeFetch(v, true, 6000);
      const what = `IPv${v.ipv6 ? 6 : 4}`;
      expect(r.ok, what).toBe(false);
      expect(r.bytes, what).toBe(0);
      expect(r.dataPorts.length, `${what}: the client announced its port (control worked)`).toBeGreaterThan(0);
      // curl's last message may be a verbose note ("sa_addr inet_ntop() failed"); its code says what failed
      const why: Record<number, string> = {
        19: "RETR answered 425 (the server could not connect back)",
        28: "timed out waiting for the data connection",
      };
      expect(Object.keys(why), `${what}: curl exit ${r.exitCode}`).toContain(String(r.exitCode));
      return `${what}: port ${r.dataPorts[0]} announced, curl (${r.exitCode}) ${why[r.exitCode]}`;
    }

    /** Deletes the output rule by its comment: active mode fails on both families; a re-apply restores it. */
    async function activeModeControl(test: string, applied: ProofPolicy): Promise<void> {
      await negativeControl(p, {
        test,
        policy: applied,
        comment: COMMENT,
        chain: "output",
        fails: async () => {
          const observed = (await Promise.all([activeFails(v4), activeFails(v6)])).join("; ");
          await restartServers();
          return observed;
        },
        works: async () => void (await Promise.all([activeOk(v4), activeOk(v6)])),
      });
    }

    /** Data flows the server opened from port 20 (conntrack's original direction). */
    async function flowsFromPort20(): Promise<Array<{ src: string; dst: string; dport: number }>> {
      const ct = (await p.server.sh("conntrack -L -p tcp 2>/dev/null")).stdout;
      return [...ct.matchAll(/src=(\S+) dst=(\S+) sport=20 dport=(\d+) /g)]
        .filter((m) => m[1] === p.server.ipv4 || m[1] === p.server.ipv6)
        .map((m) => ({ src: m[1]!, dst: m[2]!, dport: Number(m[3]) }));
    }

    it("the rendered output rule: new connections from tcp/20 to the client's sets only", async () => {
      expect(await liveComments(p.server, "output")).toContain(COMMENT);
      const rendered = render({ ...policy({ activeMode: true }), table: "t" });
      expect(rendered.ruleLines.filter((l) => l.includes(COMMENT))).toEqual([
        `chain output: ip daddr @ftp_v4 tcp sport 20 counter accept comment "${COMMENT}"`,
        `chain output: ip6 daddr @ftp_v6 tcp sport 20 counter accept comment "${COMMENT}"`,
      ]);
      const explain = rendered.explain.find((e) => e.service === "ftp")!;
      expect(explain.serverSettings).toContain(
        "vsftpd: port_enable=YES, connect_from_port_20=YES (ftp_data_port=20, the default)",
      );
      // the attacker is not among the sources: the control port is filtered for it
      const [a4, a6] = await Promise.all([
        tcpProbe(p.attacker, p.server.ipv4, 21, 1000),
        tcpProbe(p.attacker, p.server.ipv6, 21, 1000),
      ]);
      expect([a4.state, a6.state]).toEqual(["filtered", "filtered"]);
    }, 60_000);

    it("helper none, output drop, activeMode: LIST + RETR over IPv4 (EPRT, PORT) and IPv6; negative control", async () => {
      await activeOk(v4);
      await activeOk(v4, false);
      await activeOk(v6);
      const flows = await flowsFromPort20();
      expect(flows.map((f) => f.dst)).toEqual(expect.arrayContaining([p.client.ipv4, p.client.ipv6]));
      for (const f of flows) expect(inRange(f.dport, CLIENT_PORTS), `data flow to ${f.dst}:${f.dport}`).toBe(true);

      await activeModeControl("FTP active (helper none, output drop), IPv4+IPv6", policy({ activeMode: true }));
    }, 120_000);

    it("without activeMode the output-drop table blocks active mode; with output accepted it passes without it", async () => {
      const off = await applyToServer(p, policy({ activeMode: false }));
      expect(off.artefacts.ruleLines.some((l) => l.includes("sport 20"))).toBe(false);
      const observed = (await Promise.all([activeFails(v4), activeFails(v6)])).join("; ");
      p.controls.push({
        test: "FTP active without activeMode (output drop)",
        change: "policy applied with activeMode unset",
        observed,
      });
      await restartServers();
      // passive mode still works on the same table (the control connection and the passive range are open)
      const passive = await ftpFetch(p.client, p.server, { file: v4.file.name });
      expect(passive.error).toBeNull();

      await applyToServer(p, policy({ output: "accept" }));
      await activeOk(v4);
      await activeOk(v6);
    }, 120_000);

    it("helper scoped, output drop, activeMode: the helper expects the data connection, the transfer passes", async () => {
      const scoped = policy({ activeMode: true, helper: "scoped" });
      await applyToServer(p, scoped);
      const before = await expectStats(p.server);
      await activeOk(v4);
      await activeOk(v6);
      const after = await expectStats(p.server);
      expect(after.create - before.create, "expectations created by the ftp helper").toBeGreaterThanOrEqual(4);
      expect(after.matched - before.matched, "data connections that matched them").toBe(4);
      const ct = (await p.server.sh("conntrack -L -p tcp 2>/dev/null")).stdout.split("\n");
      const control = ct.filter(
        (l) => / dport=21 /.test(l) && (l.includes(`dst=${p.server.ipv4} `) || l.includes(`dst=${p.server.ipv6} `)),
      );
      expect(control.length).toBeGreaterThan(0);
      for (const l of control) expect(l).toContain("helper=ftp");

      await activeModeControl("FTP active (helper scoped, output drop), IPv4+IPv6", scoped);
    }, 120_000);
  },
);
