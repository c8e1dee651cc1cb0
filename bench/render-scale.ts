/**
 * Render scale: how long validation (zod parse) and rendering take, and the peak memory, for
 * policies of 10 / 1,000 / 10,000 prefixes and exposures. Each (shape, size) runs in a fresh
 * `node` child process, so its peak RSS (process.resourceUsage().maxRSS) belongs to that size
 * alone. In the child: load the library, build the input, then
 *   cold: the first parse and the first render (JIT not warmed; what a one-shot CLI pays),
 *         and `render(input)` (parse + render in one call) right after
 *   warm: `iterations` more rounds of parse, render, and parse + render; the median is reported.
 * Shapes:
 *   prefixes   one exposure (tcp/8080) allowing N source prefixes (every 10th one IPv6)
 *   exposures  N custom exposures (tcp ports 10000..), no sources: N rules
 *   both       N custom exposures, each allowing its own prefix: N rules and N sets
 */
import { type Log, prefixes, round, runWorker } from "./util";
import type { RenderAnswer, RenderTimings } from "./workers/render";

export type Shape = "prefixes" | "exposures" | "both";

export interface RenderMeasure extends RenderTimings {
  shape: Shape;
  size: number;
  iterations: number;
  /** RSS after loading the library and building the input, before the first parse */
  rssBeforeMiB: number;
  /** the child's peak RSS over its whole life */
  peakRssMiB: number;
  /** peakRss - rssBefore: what parsing and rendering added at their peak */
  renderPeakMiB: number;
  nftBytes: number;
  ruleLines: number;
}

export interface RenderResult {
  method: Record<string, string | number>;
  measures: RenderMeasure[];
}

export interface RenderOptions {
  sizes: number[];
  shapes: Shape[];
  iterations: number;
  log: Log;
}

export function policyFor(shape: Shape, n: number): unknown {
  switch (shape) {
    case "prefixes":
      return { table: "bench", exposures: [{ name: "bench", protocol: "tcp", ports: 8080, sources: prefixes(n, 10) }] };
    case "exposures":
      return {
        table: "bench",
        exposures: Array.from({ length: n }, (_, i) => ({ name: `e${i}`, protocol: "tcp", ports: 10000 + i })),
      };
    case "both": {
      const list = prefixes(n, 10);
      return {
        table: "bench",
        exposures: list.map((p, i) => ({ name: `e${i}`, protocol: "tcp", ports: 10000 + i, sources: [p] })),
      };
    }
  }
}

export async function runRenderScale(opts: RenderOptions): Promise<RenderResult> {
  const measures: RenderMeasure[] = [];
  for (const shape of opts.shapes) {
    for (const size of opts.sizes) {
      const { out: o } = await runWorker<RenderAnswer>(
        "render",
        [String(opts.iterations)],
        policyFor(shape, size),
        600_000,
      );
      const m: RenderMeasure = {
        shape,
        size,
        coldParseMs: round(o.coldParseMs, 1),
        coldRenderMs: round(o.coldRenderMs, 1),
        coldTotalMs: round(o.coldTotalMs, 1),
        firstCallTotalMs: round(o.firstCallTotalMs, 1),
        warmParseMs: round(o.warmParseMs, 1),
        warmRenderMs: round(o.warmRenderMs, 1),
        warmTotalMs: round(o.warmTotalMs, 1),
        iterations: opts.iterations,
        rssBeforeMiB: round(o.rssBefore / 2 ** 20, 1),
        peakRssMiB: round(o.maxRssKiB / 1024, 1),
        renderPeakMiB: round(o.maxRssKiB / 1024 - o.rssBefore / 2 ** 20, 1),
        nftBytes: o.nftBytes,
        ruleLines: o.ruleLines,
      };
      measures.push(m);
      opts.log(
        `render: ${shape} ${size}: first parse+render ${m.firstCallTotalMs} ms (parse ${m.coldParseMs}, render ${m.coldRenderMs}), warm ${m.warmTotalMs} ms (parse ${m.warmParseMs}, render ${m.warmRenderMs}), peak RSS ${m.peakRssMiB} MiB (+${m.renderPeakMiB} over the loaded process)`,
      );
    }
  }
  return {
    method: {
      process:
        "one fresh node child per (shape, size); the policy arrives as JSON on stdin; it loads only the pure modules (dist/model/validate, dist/render: zod and ipaddr.js), not the package entry point",
      cold: "first assertPolicy (zod parse) and first renderPolicy in the process: JIT not warmed, what a one-shot CLI run pays",
      warm: `median of ${opts.iterations} further rounds (the cold round is the warm-up, excluded)`,
      memory:
        "peak RSS = process.resourceUsage().maxRSS of the child (Node itself, the library, the input and the output included); rssBefore = RSS before the first parse",
    },
    measures,
  };
}
