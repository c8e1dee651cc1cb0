/**
 * The examples under the real engine (issue #10 §2): each is copied as it is, its config points
 * at lab hosts, and `pulumi up`, a no-op preview and `pulumi destroy` run for real.
 * The fleet example applies three hosts in one `up`; the engine's events (with this machine's
 * clock) show whether their applies really overlapped.
 *
 * ftp-server and bastion also declare @pulumi/command resources, whose provider plugin cannot be
 * built here (docs/development.md, "The engine"); they are not run.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EngineProject, engineProject, expectOk, hostStepSpans, REPO, shareFirstKey } from "../support/engine";
import { HOST_PATHS, listTable } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

// Several engine commands per test, each starting the provider plugin: over a minute on a loaded 2-core machine.
vi.setConfig({ testTimeout: 300_000 });

const example = (name: string) => path.join(REPO, "examples", name);

describe.runIf(requireRoot("engine examples", ["ip", "nft", "sshd", "ssh-keygen"]))(
  "the examples under the real engine",
  () => {
    let lab: Lab;
    let hosts: LabHost[];
    const projects: EngineProject[] = [];
    let admin: string[];

    beforeAll(async () => {
      lab = await createLab({ hosts: 3, label: "engine-examples" });
      hosts = lab.hosts;
      admin = [`${lab.controllerIpv4}/32`, `${lab.controllerIpv6}/128`];
    }, 300_000);

    afterAll(async () => {
      for (const p of projects) {
        await p.pulumi(["destroy", "--yes"]).catch(() => undefined);
        p.remove();
      }
      await lab?.destroy();
    });

    function project(name: string): EngineProject {
      const p = engineProject(name, { source: example(name) });
      projects.push(p);
      return p;
    }

    it("quickstart: up applies ssh, https and passive FTP to the configured host; a preview after it is empty; destroy removes it", async () => {
      const [h] = hosts as [LabHost];
      const p = project("quickstart");
      await p.config("host", h.ipv4);
      await p.config("hostKey", h.hostKey);
      await p.config("privateKeyPath", h.root.keyPath);
      await p.config("hostPaths", HOST_PATHS);
      expectOk(await p.pulumi(["up", "--yes"]), "up");
      const table = await listTable(h, "quickstart");
      expect(table).toContain("tcp dport 50000-50100 counter accept");
      const out = JSON.parse(expectOk(await p.pulumi(["stack", "output", "--json"]), "stack output").stdout);
      expect(out.drift).toBe(`root@${h.ipv4}:22: table inet quickstart in sync`);
      expectOk(await p.pulumi(["preview", "--refresh", "--expect-no-changes"]), "drift check");
      expectOk(await p.pulumi(["destroy", "--yes"]), "destroy");
      expect(await listTable(h, "quickstart")).toBe("");
    });

    it("voip-pbx: SIP from trunk and office, the fixed RTP range, outbound restricted, conntrack.max; destroy removes it", async () => {
      const [, h] = hosts as [LabHost, LabHost];
      const p = project("voip-pbx");
      await p.config("host", h.ipv4);
      await p.config("hostKey", h.hostKey);
      await p.config("privateKey", h.root.privateKey, true);
      await p.config("officeSources", admin); // the office is where this controller stands, or SSH would lock us out
      await p.config("hostPaths", HOST_PATHS);
      const up = expectOk(await p.pulumi(["up", "--yes"]), "up");
      expect(up.stdout).toContain("Asterisk rtp.conf: rtpstart=10000, rtpend=20000");
      const table = await listTable(h, "pbx");
      expect(table).toContain("udp dport 10000-20000 counter accept");
      expect(table).toMatch(/chain output \{[^}]*policy drop/);
      expectOk(await p.pulumi(["preview", "--refresh", "--expect-no-changes"]), "drift check");
      expectOk(await p.pulumi(["destroy", "--yes"]), "destroy");
      expect(await listTable(h, "pbx")).toBe("");
    });

    it("fleet: three hosts in one up, applied in parallel (their apply intervals overlap), each with its role's policy; destroy removes all", async () => {
      const p = project("fleet");
      const roles = ["web", "db", "mail"] as const;
      await p.config(
        "hosts",
        hosts.map((h, i) => ({ name: `${roles[i]}1`, host: h.ipv4, hostKey: h.hostKey, role: roles[i] })),
      );
      await p.config("privateKey", hosts[0]!.root.privateKey, true);
      shareFirstKey(hosts); // the lab's hosts have a key each; a fleet shares one deploy key
      await p.config("adminSources", admin);
      await p.config("hostPaths", HOST_PATHS);

      const events = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hnft-fleet-events-")), "events.jsonl");
      const started = Date.now();
      const up = await p.pulumi(["up", "--yes"], { env: { HNFT_ENGINE_EVENTS: events } });
      const wall = Date.now() - started;
      expectOk(up, "up");

      const spans = hostStepSpans(events);
      expect(spans).toHaveLength(3);
      const lastStart = Math.max(...spans.map((s) => s.start));
      const firstEnd = Math.min(...spans.map((s) => s.end));
      const serial = spans.reduce((sum, s) => sum + (s.end - s.start), 0);
      console.info(
        `fleet up: ${spans.map((s) => `${s.start - started}..${s.end - started} ms`).join(", ")}; sum of applies ${serial} ms, wall ${wall} ms`,
      );
      // all three applies were in flight at one moment: the engine ran them in parallel
      expect(lastStart).toBeLessThan(firstEnd);
      fs.rmSync(path.dirname(events), { recursive: true, force: true });

      const [web, db, mail] = await Promise.all(hosts.map((h) => listTable(h, "fleet")));
      expect(web).toContain("udp dport 443 counter accept");
      expect(db).toContain("tcp dport 5432 counter accept");
      expect(db).toMatch(/chain output \{[^}]*policy drop/);
      expect(mail).toContain("tcp dport 993 counter accept");
      expect(fs.readFileSync(path.join(hosts[2]!.etc, "sysctl.d/60-hardened-nftables-fleet.conf"), "utf8")).toContain(
        "nf_conntrack_max = 131072",
      );

      expectOk(await p.pulumi(["preview", "--refresh", "--expect-no-changes"]), "fleet drift check");
      expectOk(await p.pulumi(["destroy", "--yes"]), "destroy");
      for (const h of hosts) expect(await listTable(h, "fleet")).toBe("");
    });
  },
);
