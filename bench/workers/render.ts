/**
 * The render bench's child (bench/render-scale.ts), in a fresh `node` process per (shape, size) so
 * that its peak RSS belongs to that size: loads only the pure modules (dist/model/validate,
 * dist/render), then times the first parse and render (cold) and `iterations` more rounds (warm).
 * `node render.js <dist> <iterations>`; the policy as JSON on stdin; RenderAnswer on stdout.
 */
import type * as Validate from "../../src/model/validate";
import type * as Render from "../../src/render";
import { answer, load, readRequest } from "./lib";

const { assertPolicy } = load<typeof Validate>("model/validate");
const { render, renderPolicy } = load<typeof Render>("render");
const iterations = Number(process.argv[3]);

/** The times the worker measures, in ms (bench/render-scale.ts's RenderMeasure carries them as they are, rounded). */
export interface RenderTimings {
  coldParseMs: number;
  coldRenderMs: number;
  /** parse + render in one `render(input)` call, the first after the cold calls */
  coldTotalMs: number;
  /** a fresh process's first parse + first render: what a CLI run pays */
  firstCallTotalMs: number;
  warmParseMs: number;
  warmRenderMs: number;
  warmTotalMs: number;
}

export interface RenderAnswer extends RenderTimings {
  /** bytes */
  rssBefore: number;
  maxRssKiB: number;
  nftBytes: number;
  ruleLines: number;
}

function time<T>(fn: () => T): [number, T] {
  const t = performance.now();
  const r = fn();
  return [performance.now() - t, r];
}

function med(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

answer(
  (async (): Promise<RenderAnswer> => {
    const input = await readRequest<unknown>();
    const rssBefore = process.memoryUsage().rss;
    const [coldParseMs, policy] = time(() => assertPolicy(input));
    const [coldRenderMs, artefacts] = time(() => renderPolicy(policy));
    const [coldTotalMs] = time(() => render(input));
    const parse: number[] = [];
    const rend: number[] = [];
    const total: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const [p, pol] = time(() => assertPolicy(input));
      parse.push(p);
      rend.push(time(() => renderPolicy(pol))[0]);
      total.push(time(() => render(input))[0]);
    }
    return {
      coldParseMs,
      coldRenderMs,
      coldTotalMs,
      firstCallTotalMs: coldParseMs + coldRenderMs,
      warmParseMs: med(parse),
      warmRenderMs: med(rend),
      warmTotalMs: med(total),
      rssBefore,
      maxRssKiB: process.resourceUsage().maxRSS,
      nftBytes: Buffer.byteLength(artefacts.nft),
      ruleLines: artefacts.ruleLines.length,
    };
  })(),
);
