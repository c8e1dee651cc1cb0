/**
 * The benchmark cannot rot unseen (issue 24): a short run of every part of `npm run bench`
 * (`--quick`: the smallest sizes, fewest rounds) completes and writes its report. No time is
 * asserted (speed is what the bench reports, never what a test checks); only that each part ran
 * to the end, on the real lab hosts, kernel, Ansible and Pulumi engine, and that its figures and
 * its section are in the report. The report goes to a directory under /tmp (`--out`), never to
 * bench/results; the bench takes its own copy of dist/ (built by `npm test` before the suites).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { BenchReport } from "../../bench/report";
import { type CommandResult, REPO } from "../support/engine";
import { requireRoot } from "../support/privileges";

vi.setConfig({ testTimeout: 900_000 });

const TSX = path.join(REPO, "node_modules", ".bin", "tsx");

/** Runs the bench; past the limit it gets SIGTERM (its own clean-up runs: namespaces, lab hosts), then SIGKILL. */
function bench(args: string[], limitMs: number): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn(TSX, ["bench/run.ts", ...args], {
      cwd: REPO,
      env: { ...process.env, NODE_OPTIONS: "" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const signal = (s: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, s);
      } catch {
        /* gone */
      }
    };
    const term = setTimeout(() => signal("SIGTERM"), limitMs);
    const kill = setTimeout(() => signal("SIGKILL"), limitMs + 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code: code ?? 255, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe.runIf(
  requireRoot("bench smoke", ["ip", "nft", "sshd", "ssh-keygen", "cc", "taskset", "ansible-playbook", "go"]),
)("npm run bench -- --quick: every part completes and writes its report", () => {
  let out: string;
  let run: CommandResult;
  let report: BenchReport;
  let md: string;
  let resultsBefore: string[];
  const results = path.join(REPO, "bench", "results");
  const listResults = () => (fs.existsSync(results) ? fs.readdirSync(results).sort() : []);
  /** The report's markdown holds each of these section headings. */
  const expectSections = (headings: readonly string[]): void => {
    for (const heading of headings) expect(md).toContain(heading);
  };

  beforeAll(async () => {
    out = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-bench-smoke-"));
    resultsBefore = listResults();
    run = await bench(["--quick", "--out", out], 780_000);
    const json = path.join(out, "partial.json");
    if (run.code !== 0 || !fs.existsSync(json))
      throw new Error(`bench --quick exited ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
    report = JSON.parse(fs.readFileSync(json, "utf8")) as BenchReport;
    md = fs.readFileSync(path.join(out, "partial.md"), "utf8");
  }, 900_000);

  afterAll(() => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
  });

  it("runs every part without an error, and writes the report only where --out says", () => {
    expect(report.errors).toEqual([]);
    expect(report.kind).toBe("partial");
    expect(report.flags.quick).toBe(true);
    expect(fs.readdirSync(out).sort()).toEqual(["partial.json", "partial.md"]);
    expect(listResults()).toEqual(resultsBefore);
    expect(run.stdout).toMatch(/wrote .*partial\.md and .*partial\.json/);
  });

  it("render, packet and forward paths: each part's figures and section", () => {
    expect(report.render?.measures.length).toBeGreaterThan(0);
    expect(report.render!.measures.every((m) => m.nftBytes > 0 && m.peakRssMiB > 0)).toBe(true);

    const ids = report.packet?.variants.map((v) => v.id) ?? [];
    expect(ids).toEqual(expect.arrayContaining(["none", "rendered-0", "rendered-1000", "limit", "per-rule-1000"]));
    expect(ids.some((id) => /^deny-\d+$/.test(id)) && ids.some((id) => /^blockset-\d+$/.test(id))).toBe(true);
    for (const v of report.packet!.variants) {
      expect(v.runs.length, v.id).toBe(report.packet!.method.rounds);
      expect(v.medianRate, v.id).toBeGreaterThan(0);
    }
    expect(report.packet!.ratios.map((r) => r.id)).toEqual(["prefixes-1000", "limit", "deny", "blockset"]);
    expect(report.packet!.ratios.every((r) => r.rate.n > 0 && r.rate.median > 0 && r.cpu.median > 0)).toBe(true);

    expect(report.forward?.runs["dnat-only"].length).toBeGreaterThan(0);
    expect(report.forward!.runs.ours.length).toBe(report.forward!.runs["dnat-only"].length);
    expect(report.forward!.medianOurs).toBeGreaterThan(0);
    expect(report.forward!.ratio.median).toBeGreaterThan(0);

    expectSections([
      "## 3. Render scale",
      "## 2. Packet path",
      "Paired ratios",
      "## 2a. Forward path through a published port",
    ]);
  });

  it("fleet (ours, the Pulumi engine, Ansible), audit, scale, block sets and scale through the engine: each part's figures and section", () => {
    const tools = new Set(report.fleet?.operations.map((o) => o.tool));
    expect([...tools]).toEqual(expect.arrayContaining(["ours", "pulumi", "ansible"]));
    for (const o of report.fleet!.operations) expect(o.medianWallMs, `${o.tool} ${o.op} ${o.hosts}`).toBeGreaterThan(0);
    expect(report.fleet!.identicalBytes.every((x) => x.identical)).toBe(true);

    expect(report.audit?.measures.map((m) => m.op)).toEqual(expect.arrayContaining(["audit", "drift-check"]));
    expect(report.scale?.measures.length).toBe(1);
    expect(report.scale!.measures[0]!.changed && report.scale!.measures[0]!.inSync).toBe(true);
    expect(report.blockSets?.measures.map((m) => m.elements)).toEqual([0, 1000]);
    expect(report.blockSets!.measures[1]!.keptMin).toBe(1000);
    expect(report.engineScale?.errors).toEqual([]);
    expect(report.engineScale!.fleets.length).toBeGreaterThan(0);
    expect(report.engineScale!.prefixes.length).toBeGreaterThan(0);

    expectSections([
      "## 1. Fleet operations",
      "## Audit beside the drift check",
      "## 4. Scale end to end",
      "## 2b. Block sets at scale",
      "## Scale through the engine",
    ]);
  });

  it("the Targets table judges every target the parts measure (none left 'not run')", () => {
    const ids = report.targets.map((t) => t.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        "drift-check-5x",
        "engine-drift-check-5x",
        "noop-writes-nothing",
        "packet-90pct",
        "packet-limit-95pct",
        "packet-deny-95pct",
        "packet-blockset-95pct",
        "forward-95pct",
        "blockset-apply-10pct",
        "render-1s",
      ]),
    );
    expect(report.targets.filter((t) => t.met === "not run").map((t) => t.id)).toEqual([]);
    expect(md).toContain("## Targets");
  });

  it("negative control: an unknown part is refused by name before anything runs, and no report is written", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-bench-smoke-bad-"));
    try {
      const bad = await bench(["--only", "render,nosuch", "--out", dir], 60_000);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('unknown benchmark "nosuch"');
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
