/**
 * bench/engine-fleet.ts's breakdown(): an engine command's wall time cut at the driver's
 * milestones, the engine's events, the CLI's gRPC trace and the plugin's launches (files as
 * tools/engine/run.ts, the CLI and the bench's plugin wrapper write them).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { breakdown } from "../../bench/engine-fleet";

const T = 1_800_000_000_000;
const table = (op: string, urn: string) => ({ metadata: { op, type: "hardened-nftables:index:HostTable", urn } });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function files(withTrace: boolean) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-breakdown-"));
  dirs.push(dir);
  const events = [
    { at: T, driver: "start" },
    { at: T + 300, driver: "loaded" },
    { at: T + 310, driver: "cli-start", detail: "stack select" },
    { at: T + 400, driver: "cli-end", detail: "stack select" },
    { at: T + 410, driver: "cli-start", detail: "preview" },
    { at: T + 900, preludeEvent: {} },
    { at: T + 1500, resourcePreEvent: table("refresh", "a") },
    { at: T + 2500, resOutputsEvent: table("refresh", "a") },
    { at: T + 2600, driver: "program-start" },
    { at: T + 2800, driver: "program-loaded" },
    { at: T + 3500, resourcePreEvent: table("same", "a") },
    { at: T + 3700, resOutputsEvent: table("same", "a") },
    { at: T + 3900, summaryEvent: {} },
    { at: T + 4000, driver: "cli-end", detail: "preview" },
    { at: T + 4010, driver: "exit" },
  ];
  const f = {
    events: path.join(dir, "events.jsonl"),
    grpc: path.join(dir, "grpc.jsonl"),
    launches: path.join(dir, "launches.txt"),
  };
  fs.writeFileSync(f.events, events.map((e) => `${JSON.stringify(e)}\n`).join(""));
  fs.writeFileSync(f.launches, `${(T + 950) * 1e6}\n${(T + 2850) * 1e6}\n`);
  if (withTrace)
    fs.writeFileSync(
      f.grpc,
      [T + 1400, T + 3400]
        .map((at) => ({
          method: "/pulumirpc.ResourceProvider/Handshake",
          progress: "request_started",
          timestamp: new Date(at).toISOString(),
        }))
        .map((r) => `${JSON.stringify(r)}\n`)
        .join(""),
    );
  return f;
}

describe("the engine command's breakdown", () => {
  it("cuts the wall time at the milestones in order, and they add up to it", () => {
    const b = breakdown(4100, files(true));
    expect(b.stretches.map((s) => [s.name.split(" ")[0], s.ms])).toEqual([
      ["Node", 300],
      ["the", 110],
      ["CLI", 490],
      ["to", 600],
      ["host", 1000],
      ["to", 1000],
      ["host", 200],
      ["after", 200],
      ["CLI", 100],
      ["driver", 10],
      ["process", 90],
    ]);
    expect(b.stretches.filter((s) => s.name.startsWith("host steps")).map((s) => s.name)).toEqual([
      'host steps "refresh" (first start to last end)',
      'host steps "same" (first start to last end)',
    ]);
    expect(b.stretches.reduce((a, s) => a + s.ms, 0)).toBe(4100);
    expect(b.extraCliRuns).toEqual([{ what: "stack select", ms: 90 }]);
    expect(b.programLoadMs).toBe(200);
    expect(b.pluginStartMs).toEqual([450, 550]);
  });

  it("without the gRPC trace, the plugin's start-ups are unknown, not zero", () => {
    const b = breakdown(4100, files(false));
    expect(b.pluginStartMs).toHaveLength(2);
    expect(b.pluginStartMs.every((x) => Number.isNaN(x))).toBe(true);
  });
});
