/**
 * A remote step's pure parts, without root or a host: the bundle that carries scripts, parameters
 * and artefacts on stdin, the quoting of the one command line, the parsing of a script's output
 * and the probe's facts, and where in the candidate nft found its error.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { factsFromOutput } from "../../src/host/operations/probe";
import { commandLine, shellQuote } from "../../src/host/ssh";
import { BOOTSTRAP, bundle } from "../../src/host/wire/bundle";
import { STATUS } from "../../src/host/wire/protocol";
import { parseOutput } from "../../src/host/wire/remote";
import { locateNftError } from "../../src/local/nft-error";
import { NFT } from "../fixtures/nft-listing";

const scratch = mkdtempSync(join(tmpdir(), "hnft-bundle-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Unpacks a bundle with the real tar, as BOOTSTRAP does on the host. */
function unpack(archive: Buffer): string {
  const dir = mkdtempSync(join(scratch, "b-"));
  execFileSync("tar", ["-x", "-C", dir, "-f", "-"], { input: archive });
  return dir;
}

const HOSTILE = "a'b\"c $(touch /tmp/pwned) `id` ; rm -rf / \\ \n\t* ~ !x";

describe("bundle: one tar stream per step", () => {
  it("carries the step's script as main.sh, lib.sh and status.env, and parameters and artefacts byte for byte", async () => {
    const dir = unpack(
      await bundle({ main: "observe", params: { table: "web1", note: HOSTILE }, files: { nft: NFT } }),
    );
    expect(readdirSync(dir).sort()).toEqual(["files", "lib.sh", "main.sh", "params", "status.env"]);
    const scripts = join(__dirname, "../../src/host/scripts");
    expect(readFileSync(join(dir, "main.sh"), "utf8")).toBe(readFileSync(join(scripts, "observe.sh"), "utf8"));
    expect(readFileSync(join(dir, "params", "note"), "utf8")).toBe(HOSTILE);
    expect(readFileSync(join(dir, "files", "nft"), "utf8")).toBe(NFT);
    expect(statSync(join(dir, "params", "note")).mode & 0o777).toBe(0o644);
  });

  it("only the apply step carries what its guardian needs after the step has ended", async () => {
    const apply = readdirSync(unpack(await bundle({ main: "apply", params: {} })));
    expect(apply).toEqual(expect.arrayContaining(["guardian.sh", "conntrack-deletions.awk"]));
    const confirm = readdirSync(unpack(await bundle({ main: "confirm", params: {} })));
    expect(confirm).not.toContain("guardian.sh");
    expect(confirm).not.toContain("conntrack-deletions.awk");
  });

  it("user data never reaches the command line: the bootstrap is one fixed text", async () => {
    expect(BOOTSTRAP).not.toMatch(/web1|pwned/);
    // the bundle runs main.sh with the unpacked directory as its only argument, in a real sh
    const hostile = await bundle({ main: "confirm", params: { table: HOSTILE } });
    const r = spawnSync("sh", ["-c", BOOTSTRAP], { input: hostile });
    expect(parseOutput(r.status ?? -1, r.stdout.toString(), r.stderr.toString()).status).toBe(
      `${STATUS.badParameter} table`,
    );
  });
});

describe("shellQuote and commandLine: one POSIX word, whatever the text", () => {
  const echo = (word: string) => execFileSync("sh", ["-c", `printf %s ${word}`], { encoding: "utf8" });

  it("a real sh reads back exactly the text, for hostile and arbitrary strings", () => {
    expect(echo(shellQuote(HOSTILE))).toBe(HOSTILE);
    expect(echo(shellQuote(""))).toBe("");
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\0")),
        (s) => echo(shellQuote(s)) === s,
      ),
      { numRuns: 60 },
    );
  });

  it("refuses a NUL byte, which no shell word can hold", () => {
    expect(() => shellQuote("a\0b")).toThrow(/NUL/);
  });

  it("runs the script with sh -c, under sudo -n and a KILL timeout when asked", () => {
    expect(commandLine("echo 'hi'", false)).toBe(`/bin/sh -c 'echo '"'"'hi'"'"''`);
    expect(commandLine("true", true, 2500)).toBe("sudo -n timeout -s KILL 2.500 /bin/sh -c 'true'");
    const line = commandLine(`printf %s "$0"`, false).replace(/^\/bin\/sh -c /, "");
    expect(execFileSync("sh", ["-c", `sh -c ${line} ok`], { encoding: "utf8" })).toBe("ok");
  });
});

describe("parseOutput: what a host script printed", () => {
  it("values before the first section, sections until ::end::, the last verdict, warnings and details in order", () => {
    const out = parseOutput(
      0,
      [
        "kernel=6.18.0",
        "tools= flock setsid",
        "hnft-status armed",
        "hnft-warning sysctl net.x could not be set live (read-only here)",
        "hnft-detail guardian: first",
        "::tables::",
        "table inet web1",
        "table ip nat",
        "",
        "::file nft present::",
        "dGFibGU=",
        "::end::",
        "hnft-detail guardian: second",
        "hnft-status committed flushed=2",
        "not=a value after the sections", // still a value line: only sections end at ::end::
      ].join("\n"),
      "stderr text",
    );
    expect(out.values).toEqual({ kernel: "6.18.0", tools: " flock setsid", not: "a value after the sections" });
    expect(out.sections).toEqual({ tables: "table inet web1\ntable ip nat", "file nft present": "dGFibGU=" });
    expect(out.status).toBe("committed flushed=2");
    expect(out.warnings).toEqual(["sysctl net.x could not be set live (read-only here)"]);
    expect(out.details).toEqual(["guardian: first", "guardian: second"]);
    expect(out.stderr).toBe("stderr text");
  });

  it("a section's own lines that look like a verdict stay in the section", () => {
    const out = parseOutput(0, "::live-text::\nhnft-status committed\n::end::\n", "");
    expect(out.status).toBe("");
    expect(out.sections["live-text"]).toBe("hnft-status committed");
  });
});

describe("factsFromOutput: the probe's lines as facts", () => {
  it("reads versions, flags, modules, init and tools; an unknown init or netfilter is said so", () => {
    const facts = factsFromOutput(
      {
        kernel: "6.18.0-1-amd64",
        nft: "nftables v1.0.6 (Lester Gooch #5)",
        nftPath: "/usr/sbin/nft",
        uid: "0",
        helperSysctl: "no",
        helperParam: "yes",
        netfilter: "modular",
        helperModules: "nf_conntrack_ftp nf_nat_ftp ",
        init: "systemd",
        tools: " flock setsid conntrack",
      },
      "table inet web1\ntable ip nat\n",
    );
    expect(facts).toMatchObject({
      kernel: "6.18.0-1-amd64",
      nftVersion: "1.0.6",
      nftBinary: "/usr/sbin/nft",
      helperSysctl: false,
      helperModuleParam: true,
      netfilter: "modular",
      loadedHelperModules: ["nf_conntrack_ftp", "nf_nat_ftp"],
      init: "systemd",
      tables: ["table inet web1", "table ip nat"],
      tools: ["flock", "setsid", "conntrack"],
      profile: { kernel: "6.18", helperSysctl: false, helperModuleParam: true },
      managedTables: [],
    });
    const odd = factsFromOutput({ init: "upstart", netfilter: "maybe" }, "");
    expect(odd.init).toBe("none");
    expect(odd.netfilter).toBe("unknown");
    expect(odd.tables).toEqual([]);
  });
});

describe("locateNftError: the line of the candidate nft complained about", () => {
  it("finds the line and its text in nft's own message (as the real nft prints it for a file)", () => {
    const bad = NFT.replace("tcp dport 80 accept", "tcp dport 80 acept");
    const lineNo = bad.split("\n").findIndex((l) => l.includes("acept")) + 1;
    // what nft 1.0.6 printed for this very file (`nft -c -f`)
    const stderr = `/tmp/hnft.x/files/nft:${lineNo}:24-30: Error: syntax error, unexpected comment\n    tcp dport 80 acept comment "http: control"\n                       ^^^^^^^\n`;
    expect(locateNftError(stderr, bad)).toEqual({
      ok: false,
      error: stderr.trim(),
      line: lineNo,
      lineText: 'tcp dport 80 acept comment "http: control"',
    });
  });

  it("without a location it keeps nft's message and names no line", () => {
    expect(locateNftError("Error: Could not process rule: No such file or directory\n", NFT)).toEqual({
      ok: false,
      error: "Error: Could not process rule: No such file or directory",
    });
  });
});
