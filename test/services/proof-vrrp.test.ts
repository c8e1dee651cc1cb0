/**
 * Proof (issue 19): a VRRP pair of real keepalived daemons fails over through the RENDERED tables,
 * APPLIED THROUGH THE HOST API over SSH on both hosts, with output restricted (drop) so that the
 * advertisements must pass both the sender's output chain and the receiver's input chain.
 *
 * Policy on both: ssh, and a custom exposure { protocol: "vrrp", sources: the lab network }, which
 * renders `ip saddr @<set> ip daddr 224.0.0.18 meta l4proto vrrp accept` in input and
 * `ip daddr 224.0.0.18 meta l4proto vrrp accept` in output.
 *
 * What is proved:
 * - the MASTER (server, priority 150) holds the virtual address and the BACKUP (client, 100) does
 *   not, for several advertisement intervals: the BACKUP hears the MASTER through its table;
 * - stopping the MASTER's keepalived moves the address to the BACKUP (measured);
 * - negative control: the vrrp accept rule deleted from the BACKUP's live input chain -> the
 *   BACKUP stops hearing the advertisements and takes the address too (both hold it: split brain)
 *   within a few intervals; re-applied through the host API, it gives the address back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { applyPolicy } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS } from "../support/host-fixtures";
import type { LabHost } from "../support/lab";
import { holds, type Keepalived, startKeepalived, waitHolds } from "../support/peers/keepalived";
import { requireRoot } from "../support/privileges";
import { createProofLab, deleteRuleByComment, destroyProofLab, PROOF_TABLE, type ProofLab } from "../support/proof";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(requireRoot("proof vrrp", ["ip", "nft", "sshd", "keepalived"]))(
  "proof: a keepalived VRRP pair fails over through the tables",
  () => {
    let p: ProofLab;
    let vip: string;
    let running: Keepalived[] = [];

    const policy = () =>
      assertPolicy({
        table: PROOF_TABLE,
        exposures: [{ service: "ssh" }, { name: "vrrp", protocol: "vrrp", sources: [`198.18.${p.lab.slot}.0/24`] }],
        output: { policy: "drop" },
      });
    const apply = (host: LabHost) =>
      applyPolicy(connectionFor(host), policy(), { paths: HOST_PATHS, confirmTimeoutSeconds: 20 });

    beforeAll(async () => {
      p = await createProofLab("proof-vrrp");
      vip = `198.18.${p.lab.slot}.200`;
      for (const host of [p.server, p.client]) {
        const applied = await apply(host);
        expect(applied.artefacts.nft).toContain(
          `ip daddr 224.0.0.18 meta l4proto vrrp counter accept comment "vrrp: vrrp sent by this host"`,
        );
      }
    }, 120_000);
    afterEach(async () => {
      for (const k of running) await k.process.stop();
      running = [];
    });
    afterAll(async () => destroyProofLab(p, "proof-vrrp"));

    async function pair(): Promise<void> {
      running.push(startKeepalived(p.server, { state: "MASTER", priority: 150, virtualAddress: `${vip}/24` }));
      running.push(startKeepalived(p.client, { state: "BACKUP", priority: 100, virtualAddress: `${vip}/24` }));
      expect(await waitHolds(p.server, vip, true, 10_000), "the MASTER takes the address").toBeDefined();
      // the BACKUP would claim it after 3 missed advertisements (about 3.6 s): wait longer than that
      await sleep(5000);
      expect(await holds(p.client, vip), "the BACKUP hears the MASTER through both tables").toBe(false);
      expect(await holds(p.server, vip)).toBe(true);
    }

    it("the MASTER holds the address, the BACKUP takes it over when the MASTER stops", async () => {
      await pair();
      const master = running.shift()!;
      await master.process.stop();
      const took = await waitHolds(p.client, vip, true, 10_000);
      expect(took, "the BACKUP takes the address").toBeDefined();
      expect(await holds(p.server, vip)).toBe(false);
      console.info(`vrrp failover: the BACKUP held ${vip} ${took} ms after the MASTER's keepalived was stopped`);
    }, 60_000);

    it("negative control: without the vrrp rule in the BACKUP's table, the BACKUP claims the address too", async () => {
      await pair();
      const removed = await deleteRuleByComment(p.client, PROOF_TABLE, "vrrp: vrrp");
      const took = await waitHolds(p.client, vip, true, 10_000);
      expect(took, "the BACKUP, deaf to the advertisements, claims the address").toBeDefined();
      expect(await holds(p.server, vip), "the MASTER still holds it: split brain").toBe(true);
      p.controls.push({
        test: "vrrp backup",
        change: `removed \`${removed.join("` and `")}\` (the BACKUP's input chain)`,
        observed: `the BACKUP claimed ${vip} after ${took} ms while the MASTER held it`,
      });
      expect((await apply(p.client)).changed).toBe(true);
      expect(await waitHolds(p.client, vip, false, 10_000), "with the rule back, the BACKUP yields").toBeDefined();
    }, 60_000);
  },
);
