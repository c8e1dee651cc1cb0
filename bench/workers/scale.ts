/**
 * The scale bench's process (bench/scale.ts), one fresh `node` per size so that its peak RSS is
 * that size's: render, applyPolicy over SSH (the whole safe apply), applyPolicy again (no-op),
 * observePolicy (drift check). `node scale.js <dist>`; ScaleRequest on stdin; ScaleAnswer on stdout.
 */
import type * as HostApi from "../../src/host";
import type { PathOverrides } from "../../src/host";
import type * as Validate from "../../src/model/validate";
import type * as Render from "../../src/render";
import { answer, load, readRequest } from "./lib";

const host = load<typeof HostApi>("host");
const { assertPolicy, formatIssues } = load<typeof Validate>("model/validate");
const { render } = load<typeof Render>("render");

export interface ScaleRequest {
  policy: unknown;
  paths: PathOverrides;
  connection: Record<string, string>;
}

export interface ScaleAnswer {
  nft: string;
  renderMs: number;
  applyMs: number;
  noopApplyMs: number;
  observeMs: number;
  changed: boolean;
  noopChanged: boolean;
  inSync: boolean;
  peakRssMiB: number;
}

answer(
  (async (): Promise<ScaleAnswer> => {
    const req = await readRequest<ScaleRequest>();
    const conn = host.parseConnection(req.connection);
    if (!conn.ok) throw new Error(formatIssues(conn.issues).join("; "));
    const t0 = performance.now();
    const artefacts = render(req.policy);
    const t1 = performance.now();
    const applied = await host.applyPolicy(conn.value, assertPolicy(req.policy), { paths: req.paths });
    const t2 = performance.now();
    const noop = await host.applyPolicy(conn.value, assertPolicy(req.policy), { paths: req.paths });
    const t3 = performance.now();
    const observed = await host.observePolicy(conn.value, assertPolicy(req.policy), { paths: req.paths });
    const t4 = performance.now();
    return {
      nft: artefacts.nft,
      renderMs: t1 - t0,
      applyMs: t2 - t1,
      noopApplyMs: t3 - t2,
      observeMs: t4 - t3,
      changed: applied.changed,
      noopChanged: noop.changed,
      inSync: observed.inSync,
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
    };
  })(),
);
