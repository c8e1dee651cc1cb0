/**
 * The host scripts, checked where they are written: shellcheck on every one of them, and the
 * conntrack batch the guardian builds after commit, run through the real awk without root.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPTS = join(__dirname, "../../src/host/scripts");
const shellScripts = readdirSync(SCRIPTS)
  .filter((f) => f.endsWith(".sh"))
  .sort();

function shellcheck(files: readonly string[], cwd: string): { status: number | null; output: string } {
  // -x follows `. "$B/lib.sh"` through each script's `# shellcheck source=` directive
  const r = spawnSync("shellcheck", ["-x", "-f", "gcc", ...files], { cwd, encoding: "utf8" });
  if (r.error)
    throw new Error(
      `shellcheck could not run (${r.error.message}): scripts/setup.sh installs it (Debian package shellcheck)`,
    );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("host scripts: shellcheck", () => {
  const scratch = mkdtempSync(join(tmpdir(), "hnft-shellcheck-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("finds every script (the list below is not empty by accident)", () => {
    expect(shellScripts).toEqual(
      expect.arrayContaining([
        "apply.sh",
        "guardian.sh",
        "lib.sh",
        "observe.sh",
        "confirm.sh",
        "probe.sh",
        "remove.sh",
        "coexist.sh",
      ]),
    );
  });

  for (const name of shellScripts) {
    it(`${name} is clean`, () => {
      const r = shellcheck([join(SCRIPTS, name)], scratch);
      expect(r.output).toBe("");
      expect(r.status).toBe(0);
    });
  }

  it("negative control: the same check reports a script with an unquoted expansion", () => {
    const bad = join(scratch, "bad.sh");
    writeFileSync(bad, "# shellcheck shell=sh\nrm -rf $1/*\n");
    const r = shellcheck([bad], scratch);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/SC2086/);
  });
});

/** The awk program guardian.sh pipes `conntrack -L` through, run as the guardian runs it. */
function deletions(listing: string, allowed: string): string[] {
  const out = execFileSync("awk", ["-v", `allowed=${allowed}`, "-f", join(SCRIPTS, "conntrack-deletions.awk")], {
    input: listing,
    encoding: "utf8",
  });
  return out.split("\n").filter(Boolean);
}

// `conntrack -L` lines as conntrack 1.4.7 prints them (original direction first, then the reply).
const LISTING = [
  "tcp      6 431999 ESTABLISHED src=198.18.0.2 dst=198.18.0.1 sport=40100 dport=21 src=198.18.0.1 dst=198.18.0.2 sport=21 dport=40100 [ASSURED] mark=0 helper=ftp use=1",
  "tcp      6 431999 ESTABLISHED src=2001:2::2 dst=2001:2::1 sport=40200 dport=21 src=2001:2::1 dst=2001:2::2 sport=21 dport=40200 [ASSURED] mark=0 helper=ftp use=1",
  "tcp      6 431999 ESTABLISHED src=198.18.0.2 dst=198.18.0.1 sport=40300 dport=443 src=198.18.0.1 dst=198.18.0.2 sport=443 dport=40300 [ASSURED] mark=0 use=1",
  "udp      17 29 src=198.18.0.2 dst=198.18.0.1 sport=5060 dport=5060 [UNREPLIED] src=198.18.0.1 dst=198.18.0.2 sport=5060 dport=5060 mark=0 helper=sip use=1",
  "gre      47 179 src=198.18.0.2 dst=198.18.0.1 srckey=0x0 dstkey=0x0 src=198.18.0.1 dst=198.18.0.2 srckey=0x0 dstkey=0x0 mark=0 helper=pptp use=1",
].join("\n");

describe("host scripts: the conntrack batch after commit (conntrack-deletions.awk)", () => {
  it("deletes each connection whose helper is no longer allowed, by its original tuple; keeps the rest", () => {
    expect(deletions(LISTING, "sip")).toEqual([
      "-D -p tcp -s 198.18.0.2 -d 198.18.0.1 --sport 40100 --dport 21",
      "-D -p tcp -s 2001:2::2 -d 2001:2::1 --sport 40200 --dport 21",
      "-D -p gre -s 198.18.0.2 -d 198.18.0.1",
    ]);
  });

  it("an allowed helper is kept, whatever its place in the list; a connection without a helper is never touched", () => {
    expect(deletions(LISTING, "pptp ftp sip")).toEqual([]);
    expect(deletions(LISTING, "")).toHaveLength(4);
    expect(deletions(LISTING, "")).not.toContain(expect.stringContaining("--dport 443"));
    // "ftp" allowed does not keep a helper whose name merely contains it
    expect(deletions(LISTING.replace(/helper=ftp/g, "helper=ftp-2121"), "ftp sip pptp")).toHaveLength(2);
  });

  it("skips a protocol conntrack lists as unknown: -p cannot name it, and one refused line would end the whole batch", () => {
    const unknown =
      "unknown  132 599 src=198.18.0.2 dst=198.18.0.1 src=198.18.0.1 dst=198.18.0.2 mark=0 helper=ftp use=1";
    expect(deletions(`${unknown}\n${LISTING}`, "sip pptp")).toEqual([
      "-D -p tcp -s 198.18.0.2 -d 198.18.0.1 --sport 40100 --dport 21",
      "-D -p tcp -s 2001:2::2 -d 2001:2::1 --sport 40200 --dport 21",
    ]);
  });

  it("prints nothing for an empty listing (the guardian then reports flushed=0)", () => {
    expect(deletions("", "")).toEqual([]);
  });
});
