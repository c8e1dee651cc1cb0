/**
 * The guests-cut-off refusal reaches `pulumi preview` (issue #20), under the real engine: a lab
 * host with a bridge named docker0 (`ip link add docker0 type bridge` in its namespace) and a policy
 * whose forward chain drops with no forward.guestInterfaces. The provider's Check (called for a
 * first create and for an update alike, before any Diff or Create) probes the host read-only on
 * its pooled session and refuses with apply's own message, naming docker0 and the field to set:
 * `preview`, `preview --diff` and up's own preview fail and the host is untouched (its ruleset's
 * handles, its files' inodes). Negative controls: with guestInterfaces, or forward accept, the
 * preview passes (and up applies); a host that cannot be reached at preview does not fail it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EngineProject, engineProject, expectOk, sshdConnections } from "../support/engine";
import { HOST_PATHS, listRulesetWithHandles, listTable } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

vi.setConfig({ testTimeout: 240_000 });

const TABLE = "guests";
const CUT_OFF = { table: TABLE, exposures: [{ service: "ssh" }] };
const DECLARED = { ...CUT_OFF, forward: { policy: "drop", guestInterfaces: ["docker0"] } };
const ACCEPT = { ...CUT_OFF, forward: { policy: "accept" } };

describe.runIf(requireRoot("engine guests preview", ["ip", "nft", "sshd"]))(
  "the guests-cut-off refusal in pulumi preview",
  () => {
    let lab: Lab;
    let h: LabHost;
    let project: EngineProject;
    /** What a preview must leave alone: every ruleset handle, and the inode and mtime of every file under the host's /etc/hardened-nftables and its state roots. */
    const hostState = async () =>
      `${await listRulesetWithHandles(h)}\n${
        (
          await h.sh(
            `find /etc/hardened-nftables /etc/sysctl.d /etc/modprobe.d ${HOST_PATHS.stateRoot} -xdev -printf '%i %T@ %p\\n' 2>/dev/null | sort`,
            { allowFail: true },
          )
        ).stdout
      }`;
    const refusedFor = (out: string) => {
      expect(out).toContain(`refusing to apply table inet ${TABLE}: this host runs guests on docker0 (Docker)`);
      expect(out).toContain('Set forward.guestInterfaces (e.g. ["docker0"])');
    };

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "engine-guests" });
      [h] = lab.hosts as [LabHost];
      await h.sh("ip link add docker0 type bridge");
      project = engineProject("guests");
      await project.config("privateKey", h.root.privateKey, true);
      await project.config("hosts", [{ name: "web", host: h.ipv4, hostKey: h.hostKey, hostPaths: HOST_PATHS }]);
    }, 300_000);

    afterAll(async () => {
      if (project) {
        await project.pulumi(["destroy", "--yes"]).catch(() => undefined);
        project.remove();
      }
      await lab?.destroy();
    });

    it("a first create: preview, preview --diff and up's own preview refuse naming docker0 and forward.guestInterfaces; the host is untouched", async () => {
      await project.config("policy", CUT_OFF);
      const before = await hostState();
      const connections = sshdConnections(h);
      for (const args of [["preview"], ["preview", "--diff"], ["up", "--yes"]]) {
        const r = await project.pulumi(args);
        expect(r.code, args.join(" ")).not.toBe(0);
        refusedFor(`${r.stdout}\n${r.stderr}`);
      }
      // up stopped in its preview: no create was attempted (nothing created, nothing applied)
      expect(await hostState()).toBe(before);
      expect(await listTable(h, TABLE)).toBe("");
      // one read-only probe per command (up: its preview only)
      expect(sshdConnections(h) - connections).toBe(3);
    });

    it("negative controls: with guestInterfaces, or forward accept, the preview passes; up applies", async () => {
      await project.config("policy", ACCEPT);
      const connections = sshdConnections(h);
      const accept = expectOk(await project.pulumi(["preview"]), "preview with forward accept");
      expect(accept.stdout).not.toContain("refusing");
      // nothing to check: preview contacts no host
      expect(sshdConnections(h)).toBe(connections);

      await project.config("policy", DECLARED);
      expectOk(await project.pulumi(["preview", "--diff"]), "preview with guestInterfaces");
      expectOk(await project.pulumi(["up", "--yes"]), "up with guestInterfaces");
      expect(await listTable(h, TABLE)).toContain('iifname "docker0"');
    });

    it("an update to a policy that would cut docker0 off: preview and up refuse; the applied table and files are untouched", async () => {
      const before = await hostState();
      await project.config("policy", CUT_OFF);
      for (const args of [
        ["preview", "--diff"],
        ["up", "--yes"],
      ]) {
        const r = await project.pulumi(args);
        expect(r.code, args.join(" ")).not.toBe(0);
        refusedFor(`${r.stdout}\n${r.stderr}`);
      }
      expect(await hostState()).toBe(before);
      expect(await listTable(h, TABLE)).toContain('iifname "docker0"');
    });

    it("a host that cannot be reached at preview: the preview passes with a warning (up checks again)", async () => {
      // the same host on a port nothing listens on: every dial is refused
      await project.config("hosts", [
        { name: "web", host: h.ipv4, port: 2, hostKey: h.hostKey, hostPaths: HOST_PATHS },
      ]);
      const r = expectOk(await project.pulumi(["preview"]), "preview of an unreachable host");
      expect(r.stdout).toMatch(
        /could not be probed for running guests at preview|did not answer the probe for running guests/,
      );
      expect(r.stdout).not.toContain("refusing");
      await project.config("hosts", [{ name: "web", host: h.ipv4, hostKey: h.hostKey, hostPaths: HOST_PATHS }]);
      await project.config("policy", DECLARED);
    });
  },
);
