/**
 * HostFirewall from Python, Go and YAML (issue #14 §2, §5) under the real engine, against real lab
 * hosts: the quick-start examples of each language (examples/python-quickstart, go-quickstart,
 * yaml-quickstart) with the SDK the provider's schema generates, the `pulumi` package from PyPI
 * for Python, and the real `pulumi` CLI with the YAML language host for YAML
 * (test/support/engine-languages.ts). For each language: an invalid policy refused naming its field
 * before any SSH connection, `up`, `preview --diff` after a policy change, drift made by hand found
 * by `preview --refresh --expect-no-changes` and repaired by `up --refresh`, `destroy`.
 * (TypeScript consumers are the other engine suites.)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffLines, expectOk, REPO, sshdConnections } from "../support/engine";
import { type Language, type LanguageProject, languageProject, pluginDir } from "../support/engine-languages";
import { HOST_PATHS, listTable } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const TABLE = "quickstart";

/** How each example spells the exposures the steps below change. */
const source: Record<
  Language,
  { ftp: string; badFtp: string; ssh: string; sshAndHttp: string; log: string; logAndDenied: string }
> = {
  python: {
    ftp: 'passive_ports="50000-50100"',
    badFtp: 'passive_ports="51000-50000"',
    ssh: 'hnft.ExposureArgs(service="ssh"),',
    // issue 19's fields from each language: an interface-scoped exposure, an IP protocol, denied
    sshAndHttp:
      'hnft.ExposureArgs(service="ssh"),\n        hnft.ExposureArgs(service="http", interfaces=["eth0"]),\n        hnft.ExposureArgs(name="ipsec", protocol="esp"),',
    log: "log=hnft.LogPolicyArgs(dropped=True),",
    logAndDenied: 'log=hnft.LogPolicyArgs(dropped=True),\n    denied="reject",',
  },
  go: {
    ftp: 'pulumi.String("50000-50100")',
    badFtp: 'pulumi.String("51000-50000")',
    ssh: 'hnft.ExposureArgs{Service: pulumi.StringPtr("ssh")},',
    sshAndHttp:
      'hnft.ExposureArgs{Service: pulumi.StringPtr("ssh")},\n\t\t\thnft.ExposureArgs{Service: pulumi.StringPtr("http"), Interfaces: pulumi.StringArray{pulumi.String("eth0")}},\n\t\t\thnft.ExposureArgs{Name: pulumi.StringPtr("ipsec"), Protocol: pulumi.StringPtr("esp")},',
    log: "Log:       hnft.LogPolicyArgs{Dropped: pulumi.BoolPtr(true)},",
    logAndDenied:
      'Log:       hnft.LogPolicyArgs{Dropped: pulumi.BoolPtr(true)},\n\t\tDenied: pulumi.StringPtr("reject"),',
  },
  yaml: {
    ftp: "passivePorts: 50000-50100",
    badFtp: "passivePorts: 51000-50000",
    ssh: "- service: ssh\n",
    sshAndHttp:
      "- service: ssh\n        - service: http\n          interfaces: [eth0]\n        - name: ipsec\n          protocol: esp\n",
    log: "log:\n        dropped: true\n",
    logAndDenied: "log:\n        dropped: true\n      denied: reject\n",
  },
};

const LANGUAGES: Language[] = ["python", "go", "yaml"];

describe.runIf(requireRoot("engine languages", ["ip", "nft", "sshd", "ssh-keygen", "go"]))(
  "HostFirewall from Python, Go and YAML under the real engine",
  () => {
    let lab: Lab;

    beforeAll(async () => {
      if (!fs.existsSync(path.join(pluginDir(), "pulumi-resource-hardened-nftables")))
        throw new Error(`no provider plugin in ${pluginDir()}: npm run build`);
      lab = await createLab({ hosts: LANGUAGES.length, label: "engine-languages" });
    }, 600_000);

    afterAll(async () => {
      await lab?.destroy();
    });

    describe.each(LANGUAGES.map((language, i) => ({ language, i })))("$language", ({ language, i }) => {
      let host: LabHost;
      let project: LanguageProject;
      const text = source[language];

      beforeAll(async () => {
        host = lab.hosts[i]!;
        project = await languageProject(
          language,
          `lang-${language}`,
          path.join(REPO, "examples", `${language}-quickstart`),
        );
        await project.config("host", host.ipv4);
        await project.config("hostKey", host.hostKey);
        await project.config("privateKey", host.root.privateKey, { secret: true });
        await project.config("hostPaths.stateRoot", HOST_PATHS.stateRoot!, { path: true });
        await project.config("hostPaths.runRoot", HOST_PATHS.runRoot!, { path: true });
      }, 1_800_000);

      afterAll(async () => {
        if (project) {
          if (process.env.HNFT_ENGINE_TRANSCRIPT)
            fs.writeFileSync(`${process.env.HNFT_ENGINE_TRANSCRIPT}.${language}`, project.transcript.join("\n"));
          await project.pulumi(["destroy", "--yes"]).catch(() => undefined);
          project.remove();
        }
      }, 600_000);

      it("an invalid policy is refused naming its field, before any SSH connection", async () => {
        project.edit(text.ftp, text.badFtp);
        const before = sshdConnections(host);
        const r = await project.pulumi(["preview", "--diff"]);
        expect(r.code).not.toBe(0);
        expect(`${r.stdout}\n${r.stderr}`).toContain("exposures[2].passivePorts: range 51000-50000 is reversed");
        expect(sshdConnections(host)).toBe(before);
        expect(await listTable(host, TABLE)).toBe("");
        project.edit(text.badFtp, text.ftp);
      }, 1_800_000);

      it("up applies the table on the host", async () => {
        const r = expectOk(await project.pulumi(["up", "--yes"]), "up");
        expect(r.stdout).toMatch(/\+ +hardened-nftables:index:HostTable quickstart-table created/);
        const table = await listTable(host, TABLE);
        expect(table).toContain("tcp dport 22 counter accept");
        expect(table).toContain("tcp dport 443 counter accept");
        expect(table).toContain("tcp dport 50000-50100 counter accept");
        expect(table).not.toContain("tcp dport 80 counter accept");
      }, 600_000);

      it("preview --diff after a policy change shows the changed rule lines; up applies them", async () => {
        project.edit(text.ssh, text.sshAndHttp);
        project.edit(text.log, text.logAndDenied);
        const preview = expectOk(await project.pulumi(["preview", "--diff"]), "preview --diff");
        const added = diffLines(preview.stdout, "+");
        expect(
          added.some((l) =>
            l.startsWith('chain input: iifname "eth0" tcp dport 80 counter accept comment "http: web requests"'),
          ),
        ).toBe(true);
        expect(
          added.some((l) => l.startsWith('chain input: meta l4proto esp counter accept comment "ipsec: esp"')),
        ).toBe(true);
        expect(
          added.some((l) =>
            l.startsWith(
              'chain input: meta l4proto tcp limit rate 10/second counter reject with tcp reset comment "denied reject: tcp reset (10/second)"',
            ),
          ),
        ).toBe(true);
        expect(diffLines(preview.stdout, "-").some((l) => l.includes("tcp dport 80 counter accept"))).toBe(false);
        expect(await listTable(host, TABLE)).not.toContain("tcp dport 80 counter accept"); // a preview changes nothing
        expectOk(await project.pulumi(["up", "--yes"]), "up");
        const table = await listTable(host, TABLE);
        expect(table).toContain('iifname "eth0" tcp dport 80 counter accept');
        expect(table).toContain("meta l4proto esp counter accept");
        expect(table).toContain("reject with tcp reset");
      }, 600_000);

      it("drift made by hand is found by preview --refresh --expect-no-changes and repaired by up --refresh", async () => {
        await host.sh(`nft add rule inet ${TABLE} input tcp dport 8080 accept`);
        const check = await project.pulumi(["preview", "--refresh", "--diff", "--expect-no-changes"]);
        expect(check.code).not.toBe(0);
        expect(diffLines(check.stdout, "-").some((l) => l.startsWith("chain input: tcp dport 8080 accept"))).toBe(true); // the update would remove it
        expectOk(await project.pulumi(["up", "--refresh", "--yes"]), "up --refresh");
        expect(await listTable(host, TABLE)).not.toContain("tcp dport 8080 accept");
        expect((await project.pulumi(["preview", "--refresh", "--expect-no-changes"])).code).toBe(0);
      }, 600_000);

      it("the private key is in no output and only encrypted in the state", async () => {
        const keyLines = host.root.privateKey
          .split("\n")
          .map((l) => l.trim())
          .filter((l) => l.length >= 8 && !l.startsWith("-----"));
        expect(keyLines.length).toBeGreaterThan(0);
        const state = JSON.stringify(await project.exportState());
        expect(state).toContain('"ciphertext"');
        const printed = project.transcript.join("\n");
        for (const line of keyLines) {
          expect(printed).not.toContain(line);
          expect(state).not.toContain(line);
        }
      }, 600_000);

      it("destroy removes the table", async () => {
        expectOk(await project.pulumi(["destroy", "--yes"]), "destroy");
        expect(await listTable(host, TABLE)).toBe("");
        const state = await project.exportState();
        expect(state.deployment.resources ?? []).toEqual([]);
      }, 600_000);
    });
  },
);
