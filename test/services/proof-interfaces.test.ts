/**
 * Proof (issue 19): interfaces, destinations and trusted interfaces through the RENDERED table,
 * APPLIED THROUGH THE HOST API over SSH, with real connections between lab namespaces.
 *
 * Topology: the server has a public interface eth0 on the lab bridge (its lab address and a
 * second address, 198.18.<slot>.100) and a private interface eth1, a veth straight to the client
 * (198.19.<slot>.1 <-> .2). The client is also on the bridge, so it can reach the server both ways;
 * the attacker is on the bridge only. Servers listen on every address, so only the table decides.
 *
 * What is proved, each accepting rule with its negative control (the rule deleted from the live
 * table -> the same connection fails; re-applied through the host API -> works again):
 * - an exposure scoped to eth1 answers the client over the private link, not over the public
 *   interface, and not the attacker;
 * - an exposure scoped to the second address answers on it and not on the server's lab address;
 * - a trusted interface (eth1) accepts an undeclared port; the same port over eth0 does not;
 * - the SSH session that applies works when SSH is scoped to the interface it comes in on, and
 *   the lock-out rollback fires when the new policy scopes SSH to the other interface only.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { applyPolicy, LockoutRolledBackError, probeHost } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS } from "../support/host-fixtures";
import type { LabProcess } from "../support/lab";
import {
  addAddress,
  bannerServer,
  connectFrom,
  kernelRpFilterOff,
  linkPrivately,
  type PrivateLink,
  waitListening,
} from "../support/lab-links";
import { requireRoot } from "../support/privileges";
import {
  applyToServer,
  createProofLab,
  destroyProofLab,
  flushConntrack,
  negativeControl,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

const PRIVATE_PORT = 7001;
const SECOND_PORT = 7002;
const UNDECLARED_PORT = 7003;

describe.runIf(requireRoot("proof interfaces", ["ip", "nft", "sshd", "python3", "ss"]))(
  "proof: interfaces, destinations and trusted interfaces on the wire",
  () => {
    let p: ProofLab;
    let link: PrivateLink;
    let second: string;
    let servers: LabProcess[] = [];

    beforeAll(async () => {
      p = await createProofLab("proof-ifaces");
      link = await linkPrivately(p.server, p.client, p.lab.slot);
      second = `198.18.${p.lab.slot}.100`;
      await addAddress(p.server, `${second}/24`);
      await kernelRpFilterOff(p.server);
      for (const port of [PRIVATE_PORT, SECOND_PORT, UNDECLARED_PORT])
        servers.push(bannerServer(p.server, port, `HNFT-${port}`));
      for (const port of [PRIVATE_PORT, SECOND_PORT, UNDECLARED_PORT]) await waitListening(p.server, "tcp", port);
    }, 120_000);
    afterEach(async () => flushConntrack(p.server));
    afterAll(async () => {
      for (const s of servers) await s.stop();
      servers = [];
      await destroyProofLab(p, "proof-interfaces");
    });

    const scoped = (): ProofPolicy => ({
      exposures: [
        { service: "ssh" },
        { name: "private", protocol: "tcp", ports: PRIVATE_PORT, interfaces: ["eth1"] },
        { name: "second", protocol: "tcp", ports: SECOND_PORT, destinations: [second] },
      ],
    });
    const trusted = (): ProofPolicy => ({ exposures: [{ service: "ssh" }], trustedInterfaces: ["eth1"] });

    it("an exposure scoped to the private interface answers the private peer, not the public side", async () => {
      const policy = scoped();
      const applied = await applyToServer(p, policy);
      expect(applied.artefacts.nft).toContain(
        `iifname "eth1" tcp dport ${PRIVATE_PORT} counter accept comment "private: ports"`,
      );
      const overPrivate = await connectFrom(p.client, link.a.ipv4, PRIVATE_PORT);
      expect(overPrivate).toMatchObject({ result: "open", banner: `HNFT-${PRIVATE_PORT}` });
      expect(
        (await connectFrom(p.client, p.server.ipv4, PRIVATE_PORT, { timeoutS: 1 })).result,
        "client over the public interface",
      ).toBe("timeout");
      expect((await connectFrom(p.attacker, p.server.ipv4, PRIVATE_PORT, { timeoutS: 1 })).result, "attacker").toBe(
        "timeout",
      );
      await negativeControl(p, {
        test: "exposure scoped to eth1",
        policy,
        comment: "private: ports",
        fails: async () => {
          const r = await connectFrom(p.client, link.a.ipv4, PRIVATE_PORT, { timeoutS: 1 });
          expect(r.result).toBe("timeout");
          return `client over eth1 to tcp/${PRIVATE_PORT}: ${r.result} after ${r.ms} ms`;
        },
        works: async () => expect((await connectFrom(p.client, link.a.ipv4, PRIVATE_PORT)).result).toBe("open"),
      });
    });

    it("an exposure scoped to one of two addresses answers on it and not on the other", async () => {
      const policy = scoped();
      await applyToServer(p, policy);
      expect(await connectFrom(p.attacker, second, SECOND_PORT)).toMatchObject({
        result: "open",
        banner: `HNFT-${SECOND_PORT}`,
      });
      expect(
        (await connectFrom(p.attacker, p.server.ipv4, SECOND_PORT, { timeoutS: 1 })).result,
        "the other address",
      ).toBe("timeout");
      await negativeControl(p, {
        test: `exposure scoped to ${second}`,
        policy,
        comment: "second: ports",
        fails: async () => {
          const r = await connectFrom(p.attacker, second, SECOND_PORT, { timeoutS: 1 });
          expect(r.result).toBe("timeout");
          return `tcp/${SECOND_PORT} on ${second}: ${r.result} after ${r.ms} ms`;
        },
        works: async () => expect((await connectFrom(p.attacker, second, SECOND_PORT)).result).toBe("open"),
      });
    });

    it("a trusted interface accepts an undeclared port; the public interface does not", async () => {
      const policy = trusted();
      const applied = await applyToServer(p, policy);
      expect(applied.artefacts.nft).toContain(`iifname "eth1" accept comment "trustedInterfaces: eth1"`);
      expect(await connectFrom(p.client, link.a.ipv4, UNDECLARED_PORT)).toMatchObject({
        result: "open",
        banner: `HNFT-${UNDECLARED_PORT}`,
      });
      expect(
        (await connectFrom(p.client, p.server.ipv4, UNDECLARED_PORT, { timeoutS: 1 })).result,
        "same client, public interface",
      ).toBe("timeout");
      await negativeControl(p, {
        test: "trusted interface eth1",
        policy,
        comment: "trustedInterfaces: eth1",
        fails: async () => {
          const r = await connectFrom(p.client, link.a.ipv4, UNDECLARED_PORT, { timeoutS: 1 });
          expect(r.result).toBe("timeout");
          return `client over eth1 to undeclared tcp/${UNDECLARED_PORT}: ${r.result} after ${r.ms} ms`;
        },
        works: async () => expect((await connectFrom(p.client, link.a.ipv4, UNDECLARED_PORT)).result).toBe("open"),
      });
    });

    it("SSH scoped to the interface the controller comes in on applies; scoped to the other one, the lock-out rollback fires", async () => {
      const onPublic: ProofPolicy = { exposures: [{ service: "ssh", interfaces: ["eth0"] }] };
      const applied = await applyToServer(p, onPublic);
      expect(applied.artefacts.nft).toContain(
        `iifname "eth0" tcp dport 22 counter accept comment "ssh: remote logins"`,
      );
      const before = (await p.server.sh(`nft -s list table inet ${PROOF_TABLE}`)).stdout;

      const onPrivate = assertPolicy({ exposures: [{ service: "ssh", interfaces: ["eth1"] }], table: PROOF_TABLE });
      const t0 = performance.now();
      const err = await applyPolicy(connectionFor(p.server), onPrivate, {
        paths: HOST_PATHS,
        confirmTimeoutSeconds: 5,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const ms = Math.round(performance.now() - t0);
      expect(err).toBeInstanceOf(LockoutRolledBackError);
      expect((err as Error).message).toContain("would lock you out");
      // the previous table is back, and SSH over eth0 works again for the next apply
      expect((await p.server.sh(`nft -s list table inet ${PROOF_TABLE}`)).stdout).toBe(before);
      expect((await applyToServer(p, onPublic)).changed).toBe(false);
      p.controls.push({
        test: "ssh scoped to eth1 while the controller comes over eth0",
        change: "applied",
        observed: `LockoutRolledBackError after ${ms} ms; previous table restored`,
      });
    }, 60_000);

    it("probe reports the interfaces and addresses; apply warns, and goes on, about those a policy names and the host lacks", async () => {
      const facts = await probeHost(connectionFor(p.server));
      const byName = Object.fromEntries(facts.interfaces.map((i) => [i.name, i.addresses]));
      expect(byName.eth0).toEqual(
        expect.arrayContaining([`${p.server.ipv4}/24`, `${second}/24`, `${p.server.ipv6}/64`]),
      );
      expect(byName.eth1).toEqual(expect.arrayContaining([`${link.a.ipv4}/24`]));

      const policy: ProofPolicy = {
        exposures: [
          { service: "ssh" },
          {
            name: "later",
            protocol: "tcp",
            ports: 7009,
            interfaces: ["wg0", "eth1"],
            destinations: [second, "198.19.250.9"],
          },
        ],
        trustedInterfaces: ["tun*"],
      };
      const applied = await applyToServer(p, policy);
      expect(applied.changed).toBe(true);
      expect(applied.warnings.filter((w) => !w.startsWith("conntrack"))).toEqual([
        expect.stringMatching(/^interface "tun\*" is not on the host \(it has /),
        expect.stringMatching(/^interface "wg0" is not on the host/),
        "destination 198.19.250.9 is none of the host's addresses: its rules match nothing until the host has it",
      ]);
    });
  },
);
