/**
 * Conntrack entries that carry a helper (issue #3 §8): a host that ran with the FTP helper
 * assigned to inbound tcp/21 has live connections with `helper=ftp`. Hardening with helper
 * "none" deletes exactly those entries once the new table is committed; other connections and
 * the operator's SSH session stay up. A policy that keeps the helper (scoped) leaves them alone.
 */
import * as path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyPolicy, HostSession, observePolicy } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS, TABLE, waitFor, wipeHost } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost, type LabProcess } from "../support/lab";
import { requireRoot } from "../support/privileges";

/** What the host ran before hardening: the FTP helper on every inbound tcp/21 connection. */
const VULNERABLE = `
table inet ${TABLE} {
	ct helper ftp-std {
		type "ftp" protocol tcp
		l3proto inet
	}
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 21 ct helper set "ftp-std"
		ct state established,related accept
	}
}
`;

const hardened = (helper: "none" | "scoped") => ({
  table: TABLE,
  exposures: [{ service: "ssh" }, { service: "https" }, { service: "ftp", helper, passivePorts: "50000-50010" }],
});

interface Entry {
  line: string;
  v6: boolean;
  dport: number;
  sport: number;
  helper?: string;
}

describe.runIf(requireRoot("host conntrack", ["ip", "sshd", "nft", "conntrack", "socat"]))(
  "host layer: connections carrying a helper",
  () => {
    let lab: Lab;
    let server: LabHost;
    let client: LabHost;
    let procs: LabProcess[] = [];

    async function entries(): Promise<Entry[]> {
      const out = (await server.sh("conntrack -L -p tcp 2>/dev/null")).stdout;
      return out
        .split("\n")
        .filter(
          (l) => (l.includes(`dst=${server.ipv4} `) || l.includes(`dst=${server.ipv6} `)) && l.includes("ESTABLISHED"),
        )
        .map((line) => ({
          line,
          v6: line.includes(`dst=${server.ipv6} `),
          sport: Number(/ sport=(\d+)/.exec(line)![1]),
          dport: Number(/ dport=(\d+)/.exec(line)![1]),
          helper: / helper=(\S+)/.exec(line)?.[1],
        }));
    }

    /** A client on the other host that sends a numbered line every 100 ms and logs every echo. */
    function talker(port: number, family: 4 | 6 = 4): { file: string; proc: LabProcess; lines: () => Promise<number> } {
      const file = path.join(client.dir, `talk-${port}-v${family}.out`);
      const to = family === 4 ? `TCP4:${server.ipv4}:${port}` : `TCP6:[${server.ipv6}]:${port}`;
      const proc = client.spawn(
        `rm -f '${file}'; i=0; while :; do echo "line $i"; i=$((i+1)); sleep 0.1; done | socat -T 600 - ${to} >'${file}'`,
      );
      procs.push(proc);
      const lines = async () =>
        Number((await client.sh(`wc -l < '${file}' 2>/dev/null || echo 0`)).stdout.trim() || "0");
      return { file, proc, lines };
    }

    /** Prepare: vulnerable table, echo servers on 21 and 443, one client connection to each. */
    async function vulnerableHostWithTraffic() {
      await wipeHost(server);
      await server.sh("conntrack -F 2>/dev/null; true");
      await server.sh("nft -f -", { stdin: VULNERABLE });
      for (const port of [21, 443]) procs.push(server.spawn(`exec socat TCP6-LISTEN:${port},reuseaddr,fork EXEC:cat`)); // v4 and v6
      await waitFor(
        "the echo servers",
        async () => (await server.sh("ss -tlnH '( sport = :21 or sport = :443 )' | wc -l")).stdout.trim() === "2",
      );
      const ftp = talker(21);
      const ftp6 = talker(21, 6);
      const https = talker(443);
      await waitFor(
        "the connections to echo",
        async () => (await ftp.lines()) > 2 && (await ftp6.lines()) > 2 && (await https.lines()) > 2,
      );
      const before = await entries();
      const ftpEntry = before.find((e) => e.dport === 21 && !e.v6);
      const ftp6Entry = before.find((e) => e.dport === 21 && e.v6);
      const httpsEntry = before.find((e) => e.dport === 443);
      expect(ftpEntry?.helper, JSON.stringify(before)).toBe("ftp");
      expect(ftp6Entry?.helper, JSON.stringify(before)).toBe("ftp");
      expect(httpsEntry).toBeDefined();
      expect(httpsEntry!.helper).toBeUndefined();
      return { ftp, https, ftpEntry: ftpEntry!, httpsEntry: httpsEntry! };
    }

    beforeAll(async () => {
      lab = await createLab({ hosts: 2, label: "host-conntrack" });
      [server, client] = lab.hosts as [LabHost, LabHost];
    });
    afterAll(async () => {
      await lab?.destroy();
    });
    beforeEach(() => {
      procs = [];
    });
    afterEach(async () => {
      await Promise.all(procs.map((p) => p.stop()));
    });

    it("helper none: the helper-bearing entry is deleted; the other connection and the SSH sessions stay up", async () => {
      const { https, ftpEntry, httpsEntry } = await vulnerableHostWithTraffic();
      // an operator's interactive session, open across the whole apply
      const operator = await HostSession.open(connectionFor(server, "operator"));
      try {
        expect((await operator.run("echo before")).stdout).toBe("before\n");
        const result = await applyPolicy(connectionFor(server), assertPolicy(hardened("none")), {
          paths: HOST_PATHS,
          confirmTimeoutSeconds: 10,
        });
        expect(result.changed).toBe(true);
        expect(result.flushedConnections).toBeGreaterThanOrEqual(2); // the IPv4 and the IPv6 one
        expect(result.warnings).not.toContain(expect.stringContaining("conntrack tool missing"));

        const after = await entries();
        expect(after.filter((e) => e.helper !== undefined)).toEqual([]);
        expect(after.some((e) => e.dport === 21 && e.sport === ftpEntry.sport && e.helper === "ftp")).toBe(false);
        // the other connection: same entry, and it still carries data both ways
        expect(after.some((e) => e.dport === 443 && e.sport === httpsEntry.sport)).toBe(true);
        const n = await https.lines();
        await waitFor("more echoes on the https connection", async () => (await https.lines()) >= n + 5, 5000);
        expect((await operator.run("echo after")).stdout).toBe("after\n");
        expect(operator.stats.connections).toBe(1);
      } finally {
        await operator.close();
      }
    });

    it("helper scoped on that port: the entry is kept (the helper is allowed)", async () => {
      const { ftp, ftpEntry } = await vulnerableHostWithTraffic();
      const result = await applyPolicy(connectionFor(server), assertPolicy(hardened("scoped")), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: 10,
      });
      expect(result.changed).toBe(true);
      expect(result.flushedConnections).toBe(0);
      expect(result.artefacts.rendered.helpers.map((h) => h.type)).toEqual(["ftp"]);
      const report = await observePolicy(connectionFor(server), assertPolicy(hardened("scoped")), {
        paths: HOST_PATHS,
      });
      expect(report.inSync).toBe(true);
      expect(report.helpers).toEqual([]);
      const after = await entries();
      expect(after.find((e) => e.dport === 21 && e.sport === ftpEntry.sport)?.helper).toBe("ftp");
      const n = await ftp.lines();
      await waitFor("more echoes on the ftp connection", async () => (await ftp.lines()) >= n + 5, 5000);
    });

    it("a no-op re-apply flushes nothing (the check runs only when the table is committed)", async () => {
      await vulnerableHostWithTraffic();
      await applyPolicy(connectionFor(server), assertPolicy(hardened("none")), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: 10,
      });
      const again = await applyPolicy(connectionFor(server), assertPolicy(hardened("none")), {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: 10,
      });
      expect(again.changed).toBe(false);
      expect(again.flushedConnections).toBe(0);
    });
  },
);
