/**
 * Proof (issue 19): `denied: "reject"` and `reversePath` through the RENDERED table, APPLIED
 * THROUGH THE HOST API over SSH, with real packets between lab namespaces (topology as in
 * proof-interfaces: the server's public eth0 on the lab bridge, a private eth1 veth to the client,
 * 198.19.<slot>.0/24; the kernel's own rp_filter is off in the server's namespace, so only the
 * table's fib rule filters).
 *
 * What is proved:
 * - reject: a refused TCP connection sees a reset and a refused UDP datagram the ICMP
 *   administratively-prohibited error (EHOSTUNREACH; EACCES over IPv6) at once, measured, over
 *   IPv4 and IPv6; with the default drop the same attempts time out. Negative control: the reset
 *   rule deleted from the live table -> the connection gets the ICMP error instead (the next rule).
 * - reject is rate limited: 40 simultaneous connects get at most 20 answers (reset, then ICMP), the
 *   rest time out;
 * - reverse path, strict: a datagram from the attacker with a spoofed source of the private
 *   network, arriving on the public interface, is dropped and counted by the rule's counter;
 *   the attacker's own address still gets through. Negative control: the fib rule deleted from the
 *   live table -> the spoofed datagram arrives.
 * - loose vs strict: the client sending from its private address over the public interface (an
 *   asymmetric route: the answer would leave by eth1) is dropped by strict and accepted by loose;
 *   loose still drops (and counts) a source with no route back at all.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { formatDrift, observePolicy } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS } from "../support/host-fixtures";
import type { LabHost } from "../support/lab";
import {
  addAddress,
  connectBurst,
  connectFrom,
  datagramFrom,
  datagramLog,
  kernelRpFilterOff,
  linkPrivately,
  type PrivateLink,
  waitListening,
} from "../support/lab-links";
import { requireRoot } from "../support/privileges";
import {
  applyToServer,
  createProofLab,
  deleteRuleByComment,
  destroyProofLab,
  flushConntrack,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const REFUSED_PORT = 7010;
const FEED_PORT = 7020;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(requireRoot("proof reject and reverse path", ["ip", "nft", "sshd", "python3", "ss"]))(
  "proof: reject and reverse-path filtering on the wire",
  () => {
    let p: ProofLab;
    let link: PrivateLink;
    let spoofed: string;
    let unroutable: string;

    beforeAll(async () => {
      p = await createProofLab("proof-reject-rpf");
      link = await linkPrivately(p.server, p.client, p.lab.slot);
      await kernelRpFilterOff(p.server);
      // the attacker claims an address of the server's private network, and one the server has no route to
      spoofed = `198.19.${p.lab.slot}.66`;
      unroutable = `198.19.${(p.lab.slot + 128) % 256}.7`;
      await addAddress(p.attacker, `${spoofed}/32`);
      await addAddress(p.attacker, `${unroutable}/32`);
    }, 120_000);
    afterEach(async () => flushConntrack(p.server));
    afterAll(async () => destroyProofLab(p, "proof-reject-rpf"));

    const feed = (reversePath: string): ProofPolicy => ({
      exposures: [{ service: "ssh" }, { name: "feed", protocol: "udp", ports: FEED_PORT }],
      reversePath,
    });

    /** The sources the server's receiver on udp/FEED_PORT saw while `send` ran. */
    async function received(send: () => Promise<unknown>): Promise<string[]> {
      const receiver = datagramLog(p.server, FEED_PORT);
      await waitListening(p.server, "udp", FEED_PORT);
      await send();
      await sleep(300);
      const out = await receiver.stop();
      return [...out.stdout.matchAll(/^RECV (\S+)$/gm)].map((m) => m[1]!);
    }
    const sendFrom = (host: LabHost, from: string) =>
      datagramFrom(host, p.server.ipv4, FEED_PORT, { from, timeoutS: 0.3 });

    async function reversePathDropped(): Promise<number> {
      const listing = (await p.server.sh(`nft list chain inet ${PROOF_TABLE} input`)).stdout;
      const line = listing.split("\n").find((l) => l.includes("fib saddr"));
      const count = /counter packets (\d+)/.exec(line ?? "");
      if (!count) throw new Error(`no counted fib rule in:\n${listing}`);
      return Number(count[1]);
    }

    it("reject answers at once (TCP reset, ICMP administratively prohibited); drop times out", async () => {
      await applyToServer(p, { exposures: [{ service: "ssh" }] });
      const dropped = {
        tcp: await connectFrom(p.client, p.server.ipv4, REFUSED_PORT, { timeoutS: 2 }),
        udp: await datagramFrom(p.client, p.server.ipv4, REFUSED_PORT, { timeoutS: 2 }),
      };
      expect(dropped.tcp.result).toBe("timeout");
      expect(dropped.tcp.ms).toBeGreaterThanOrEqual(1900);
      expect(dropped.udp.result).toBe("timeout");

      const policy: ProofPolicy = { exposures: [{ service: "ssh" }], denied: "reject" };
      await applyToServer(p, policy);
      const rejected = {
        tcp4: await connectFrom(p.client, p.server.ipv4, REFUSED_PORT, { timeoutS: 2 }),
        tcp6: await connectFrom(p.client, p.server.ipv6, REFUSED_PORT, { timeoutS: 2 }),
        udp4: await datagramFrom(p.client, p.server.ipv4, REFUSED_PORT, { timeoutS: 2 }),
        udp6: await datagramFrom(p.client, p.server.ipv6, REFUSED_PORT, { timeoutS: 2 }),
      };
      expect(rejected.tcp4.result).toBe("reset");
      expect(rejected.tcp6.result).toBe("reset");
      expect(rejected.udp4.result).toBe("EHOSTUNREACH");
      expect(rejected.udp6.result).toBe("EACCES");
      for (const [what, r] of Object.entries(rejected)) expect(r.ms, what).toBeLessThan(200);
      console.info(`reject vs drop (ms): ${JSON.stringify({ dropped, rejected })}`);

      const removed = await deleteRuleByComment(p.server, PROOF_TABLE, "denied reject: tcp reset (10/second)");
      const without = await connectFrom(p.client, p.server.ipv4, REFUSED_PORT, { timeoutS: 2 });
      expect(without.result, "without the reset rule the icmpx rule answers").toBe("EHOSTUNREACH");
      p.controls.push({
        test: "reject tcp",
        change: `removed \`${removed.join("` and `")}\``,
        observed: `tcp connect: ${without.result} after ${without.ms} ms instead of a reset`,
      });
      expect((await applyToServer(p, policy)).changed).toBe(true);
      expect((await connectFrom(p.client, p.server.ipv4, REFUSED_PORT)).result).toBe("reset");
    });

    it("reject is rate limited: a burst of 40 connects gets a handful of answers, the rest time out", async () => {
      await applyToServer(p, { exposures: [{ service: "ssh" }], denied: "reject" });
      const burst = await connectBurst(p.attacker, p.server.ipv4, REFUSED_PORT, 40);
      const answered = (burst.reset ?? 0) + (burst.EHOSTUNREACH ?? 0);
      console.info(`reject burst of 40 connects: ${JSON.stringify(burst)}`);
      // each rule's bucket: 10/second with nft's default burst of 5; the connects take well under a second
      expect(answered).toBeGreaterThanOrEqual(5);
      expect(answered).toBeLessThanOrEqual(20);
      expect(burst.timeout ?? 0).toBeGreaterThanOrEqual(20);
    });

    it("strict drops a spoofed private source arriving on the public interface, and counts it", async () => {
      const policy = feed("strict");
      await applyToServer(p, policy);
      expect(await received(() => sendFrom(p.attacker, p.attacker.ipv4)), "the attacker's own address").toEqual([
        p.attacker.ipv4,
      ]);
      const before = await reversePathDropped();
      expect(await received(() => sendFrom(p.attacker, spoofed)), "spoofed private source").toEqual([]);
      expect(await reversePathDropped()).toBe(before + 1);
      // a counter that moved is no drift (the host lists the table with nft -s)
      const drift = await observePolicy(connectionFor(p.server), assertPolicy({ ...policy, table: PROOF_TABLE }), {
        paths: HOST_PATHS,
      });
      expect(drift.inSync, formatDrift(drift).join("\n")).toBe(true);

      const removed = await deleteRuleByComment(
        p.server,
        PROOF_TABLE,
        "reversePath strict: source not routed back out of the interface it came in on",
      );
      const through = await received(() => sendFrom(p.attacker, spoofed));
      expect(through, "without the fib rule the spoofed datagram arrives").toEqual([spoofed]);
      p.controls.push({
        test: "reversePath strict",
        change: `removed \`${removed.join("")}\``,
        observed: `the datagram from spoofed ${spoofed} reached the server`,
      });
      expect((await applyToServer(p, policy)).changed).toBe(true);
      expect(await received(() => sendFrom(p.attacker, spoofed))).toEqual([]);
    });

    it("loose accepts the asymmetric route strict drops, and still drops a source with no route back", async () => {
      await applyToServer(p, feed("strict"));
      expect(
        await received(() => sendFrom(p.client, link.b.ipv4)),
        "strict: client's private source over eth0",
      ).toEqual([]);

      await applyToServer(p, feed("loose"));
      expect(await received(() => sendFrom(p.client, link.b.ipv4)), "loose: client's private source over eth0").toEqual(
        [link.b.ipv4],
      );
      const before = await reversePathDropped();
      expect(await received(() => sendFrom(p.attacker, unroutable)), "loose: a source with no route").toEqual([]);
      expect(await reversePathDropped()).toBe(before + 1);

      await applyToServer(p, feed("off"));
      expect(await received(() => sendFrom(p.attacker, unroutable)), "off: the same source").toEqual([unroutable]);
    });
  },
);
