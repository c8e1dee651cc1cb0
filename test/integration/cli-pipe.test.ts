/**
 * Every byte through a pipe: the COMPILED bin (`npm run build` first) with stdout and stderr
 * each read by a slow reader in another process, for every command that can print megabytes
 * (render text and json, a policy's errors on stderr, probe, apply --format json, diff --format
 * json), compared byte for byte with the same command redirected to a file, and the exit status.
 * The negative control runs the same code through the old entry point (process.exit right after
 * the last write), which the same harness catches cutting the output short (at the pipe's 64 KiB plus what the
 * reader took meanwhile) with exit 0.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { type PipeRun, runThrough } from "../support/pipe-run";
import { requireRoot } from "../support/privileges";

const bin = join(__dirname, "../../dist/cli/main.js");
const STATE = ["--state-root", "/etc/hardened-nftables/.state", "--run-root", "/etc/hardened-nftables/.run"];
const MB = 1024 * 1024;

/** The environment the bin runs with: no agent (cli-host does the same). */
function env(): NodeJS.ProcessEnv {
  const { SSH_AUTH_SOCK: _agent, ...base } = process.env;
  return base;
}

/** A policy whose table holds `n` IPv4 addresses and `n` IPv6 prefixes, none adjacent (no merging). */
function bigPolicy(n: number, table = "big"): string {
  const lines = [`table: ${table}`, "exposures:", "  - service: ssh", "  - service: https", "    sources:"];
  for (let i = 0; i < n; i++) lines.push(`      - 198.${18 + ((i >> 15) & 1)}.${(i >> 7) & 255}.${(i & 127) * 2}`);
  for (let i = 0; i < n; i++) lines.push(`      - 2001:2:${i.toString(16)}::/64`);
  return `${lines.join("\n")}\n`;
}

/** `n` sources that are not addresses: one `path: problem` line each on stderr. */
function invalidPolicy(n: number): string {
  const lines = ["table: bad", "exposures:", "  - service: ssh", "    sources:"];
  for (let i = 0; i < n; i++) lines.push(`      - 198.18.${1000 + i}.1`);
  return `${lines.join("\n")}\n`;
}

let dir: string;
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
const run = (args: string[], sinks: { stdout: "pipe" | "file"; stderr: "pipe" | "file" }, entry = bin) =>
  runThrough(dir, process.execPath, [entry, ...args], sinks, { env: env() });

/** The pipe run received exactly what the file run got, it is big, and the slow reader had to wait. */
function expectWhole(piped: PipeRun, filed: PipeRun, stream: "stdout" | "stderr", minBytes: number) {
  expect(piped[stream].length, `${stream} through the pipe`).toBe(filed[stream].length);
  expect(piped[stream].equals(filed[stream]), `${stream}: same bytes through the pipe as into the file`).toBe(true);
  expect(piped[stream].length).toBeGreaterThan(minBytes);
  expect(piped.reads[stream], "the slow reader read in several chunks").toBeGreaterThan(1);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hnft-cli-pipe-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("render through a pipe with a slow reader (no host)", () => {
  let policy: string;
  beforeAll(() => {
    policy = file("big.yaml", bigPolicy(50_000));
  });

  it("render --format json: every byte, parseable, exit 0", async () => {
    const args = ["render", "--policy", policy, "--format", "json"];
    const piped = await run(args, { stdout: "pipe", stderr: "pipe" });
    const filed = await run(args, { stdout: "file", stderr: "file" });
    expect(piped.code, piped.stderr.toString()).toBe(0);
    expect(filed.code).toBe(0);
    expectWhole(piped, filed, "stdout", 2 * MB);
    const doc = JSON.parse(piped.stdout.toString()) as { nft: string };
    expect(doc.nft).toContain("2001:2:c34f::/64"); // the last source (49999 = 0xc34f)
    expect(piped.stderr.length).toBe(0);
  });

  it("render (text): every byte, exit 0", async () => {
    const args = ["render", "--policy", policy];
    const piped = await run(args, { stdout: "pipe", stderr: "pipe" });
    const filed = await run(args, { stdout: "file", stderr: "file" });
    expect(piped.code, piped.stderr.toString()).toBe(0);
    expectWhole(piped, filed, "stdout", 1.5 * MB);
    expect(piped.stdout.toString()).toMatch(/### explanation\n[\s\S]*\n$/);
  });

  it("a policy's errors on stderr: every line, exit 2", async () => {
    const bad = file("bad.yaml", invalidPolicy(40_000));
    const args = ["render", "--policy", bad];
    const piped = await run(args, { stdout: "pipe", stderr: "pipe" });
    const filed = await run(args, { stdout: "file", stderr: "file" });
    expect(piped.code).toBe(2);
    expect(filed.code).toBe(2);
    expectWhole(piped, filed, "stderr", 2 * MB);
    const lines = piped.stderr.toString().trimEnd().split("\n");
    expect(lines).toHaveLength(1 + 40_000);
    expect(lines.at(-1)).toBe(
      '  exposures[0].sources[39999]: "198.18.40999.1" is not an IPv4 or IPv6 address or prefix',
    );
    expect(piped.stdout.length).toBe(0);
  });

  it("negative control: the old entry point (process.exit right after writing) loses most of the output with exit 0, and this harness sees it", async () => {
    const oldEntry = file(
      "old-entry.js",
      `const { main } = require(${JSON.stringify(bin)});\nmain(process.argv.slice(2)).then((code) => process.exit(code));\n`,
    );
    const args = ["render", "--policy", policy, "--format", "json"];
    const cut = await run(args, { stdout: "pipe", stderr: "pipe" }, oldEntry);
    const filed = await run(args, { stdout: "file", stderr: "file" }, oldEntry);
    expect(cut.code).toBe(0);
    expect(
      filed.stdout.length,
      "into a file the old entry point writes everything (file writes are synchronous)",
    ).toBeGreaterThan(2 * MB);
    expect(cut.stdout.length, "through a pipe it does not").toBeLessThan(filed.stdout.length);
    expect(cut.stdout.length).toBeLessThan(filed.stdout.length / 4);
    expect(() => JSON.parse(cut.stdout.toString())).toThrow();
  });

  it("a reader that stops early: exit 141 and a note on stderr, not 0", async () => {
    const script = `"$0" "$1" render --policy "$2" --format json | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`;
    const status = await runThrough(
      dir,
      "bash",
      ["-c", script, process.execPath, bin, policy],
      { stdout: "file", stderr: "file" },
      { env: env() },
    );
    expect(status.stdout.toString().trim()).toBe("141");
    expect(status.stderr.toString()).toContain(
      "hardened-nftables: could not write all output to stdout (EPIPE); the command itself ended with exit 0; exiting 141",
    );
  });
});

describe.runIf(requireRoot("cli pipe", ["ip", "sshd", "nft"]))(
  "probe, apply --format json and diff --format json through a pipe (a lab host)",
  () => {
    let lab: Lab;
    let h: LabHost;
    let key: string;
    let small: string;
    let big: string;
    const TABLES = 8000;
    const target = () => ["--host", `root@${h.ipv4}`, "--identity", key, "--host-key", h.hostKey];

    beforeAll(async () => {
      lab = await createLab({ hosts: 1, label: "cli-pipe" });
      [h] = lab.hosts as [LabHost];
      key = join(dir, "root_ed25519");
      writeFileSync(key, h.root.privateKey, { mode: 0o600 });
      small = file("web1.yaml", "table: web1\nexposures:\n  - service: ssh\n");
      big = file("web1-big.yaml", bigPolicy(30_000, "web1"));
      // Other software's tables with long names: probe lists every table, so its JSON (and apply's,
      // which carries the facts) runs to megabytes.
      const tables = Array.from(
        { length: TABLES },
        (_, i) => `add table inet other${String(i).padStart(5, "0")}_${"x".repeat(235)}\n`,
      ).join("");
      await h.sh(`nft -f '${file("tables.nft", tables)}'`, { timeoutMs: 300_000 });
    }, 400_000);

    afterAll(async () => {
      await lab?.destroy();
    });

    it("probe: every byte, parseable, exit 0", async () => {
      const piped = await run(["probe", ...target()], { stdout: "pipe", stderr: "pipe" });
      const filed = await run(["probe", ...target()], { stdout: "file", stderr: "file" });
      expect(piped.code, piped.stderr.toString()).toBe(0);
      expectWhole(piped, filed, "stdout", 2 * MB);
      const facts = JSON.parse(piped.stdout.toString()) as { tables: string[] };
      expect(facts.tables.filter((t) => t.startsWith("table inet other"))).toHaveLength(TABLES);
    }, 180_000);

    it("apply --format json: every byte, parseable, exit 0", async () => {
      const first = await run(["apply", "--policy", small, ...target(), ...STATE, "--format", "json"], {
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(first.code, first.stderr.toString()).toBe(0);
      expect(JSON.parse(first.stdout.toString())).toMatchObject({ changed: true, table: "web1" });
      expect(first.stdout.length).toBeGreaterThan(2 * MB);
      // The second and third applies find nothing to change: the same document, piped and filed.
      const piped = await run(["apply", "--policy", small, ...target(), ...STATE, "--format", "json"], {
        stdout: "pipe",
        stderr: "pipe",
      });
      const filed = await run(["apply", "--policy", small, ...target(), ...STATE, "--format", "json"], {
        stdout: "file",
        stderr: "file",
      });
      expect(piped.code, piped.stderr.toString()).toBe(0);
      expectWhole(piped, filed, "stdout", 2 * MB);
      expect(JSON.parse(piped.stdout.toString())).toMatchObject({ changed: false, table: "web1" });
    }, 240_000);

    it("diff --format json of a big policy against the small one applied: every byte, parseable, exit 1 (drift)", async () => {
      const args = ["diff", "--policy", big, ...target(), ...STATE, "--format", "json"];
      const piped = await run(args, { stdout: "pipe", stderr: "pipe" });
      const filed = await run(args, { stdout: "file", stderr: "file" });
      expect(piped.code, piped.stderr.toString()).toBe(1);
      expect(filed.code).toBe(1);
      expectWhole(piped, filed, "stdout", 2 * MB);
      const report = JSON.parse(piped.stdout.toString()) as { inSync: boolean };
      expect(report.inSync).toBe(false);
      expect(piped.stdout.toString()).toContain("2001:2:752f::/64"); // the last source (29999 = 0x752f)
    }, 240_000);
  },
);
