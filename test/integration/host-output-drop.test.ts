/**
 * The first apply of a table with `output.policy: drop` onto a host whose ruleset did not use
 * conntrack yet (a fresh machine: no firewall, or only stateless rules) must not be taken for a
 * lock-out (found by the end-to-end proofs of issue #5).
 *
 * Why it could be: conntrack registers its hooks in a network namespace only once a ruleset needs
 * them, so the SSH session that carries the apply was never tracked. When the new table loads, the
 * next packet the server sends on that session is picked up mid-stream as a NEW connection and the
 * output chain (policy drop, `ct state established accept`) drops it; the session stays silent
 * until the CLIENT sends something (its packet passes `tcp dport 22 accept` and creates the entry
 * in the right direction). With the 15 s SSH keepalive the apply step stalled for 15 s, so any
 * `confirmTimeoutSeconds` under ~15 rolled a perfectly good table back as "would lock you out".
 * The session now sends a keepalive every 2 s, which bounds that stall.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyPolicy } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS, listTable, TABLE, wipeHost } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

describe.runIf(requireRoot("host output drop", ["ip", "sshd", "nft"]))(
  "host layer: first apply of an output-drop table",
  () => {
    let lab: Lab;
    let host: LabHost;

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "host-output-drop" });
      [host] = lab.hosts as [LabHost];
    });
    afterAll(async () => {
      if (host) await wipeHost(host);
      await lab?.destroy();
    });

    it("commits within the shortest confirm window on a host that tracked no connection before", async () => {
      // nothing uses conntrack in the host's namespace yet: the apply's own SSH session is untracked
      expect((await host.sh("nft list ruleset")).stdout.trim()).toBe("");
      expect((await host.sh("cat /proc/net/nf_conntrack 2>/dev/null | wc -l")).stdout.trim()).toBe("0");

      const t0 = Date.now();
      const result = await applyPolicy(
        connectionFor(host),
        assertPolicy({ table: TABLE, output: { policy: "drop" }, exposures: [{ service: "ssh" }] }),
        { paths: HOST_PATHS, confirmTimeoutSeconds: 5 },
      );
      const ms = Date.now() - t0;
      expect(result.changed).toBe(true);
      expect(await listTable(host)).toMatch(
        /chain output \{\n\s+type filter hook output priority filter; policy drop;/,
      );
      expect(ms, "the apply did not wait for a 15 s keepalive").toBeLessThan(10_000);
    }, 60_000);
  },
);
