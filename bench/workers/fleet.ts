/**
 * The fleet bench's operation (bench/fleet.ts runOurs), in a fresh `node` process: apply, observe
 * or audit on every host at once (Promise.all), as a user's program does it with the host API.
 * `node fleet.js <dist>`; the request (FleetRequest) on stdin; the answer (FleetAnswer) on stdout.
 */
import type * as HostApi from "../../src/host";
import type { PathOverrides } from "../../src/host";
import type * as Validate from "../../src/model/validate";
import { answer, load, readRequest } from "./lib";

const t0 = performance.now();
const host = load<typeof HostApi>("host");
const { assertPolicy, formatIssues } = load<typeof Validate>("model/validate");

export interface FleetRequest {
  op: "apply" | "observe" | "audit";
  policy: unknown;
  paths: PathOverrides;
  hosts: Record<string, string>[];
}

export interface WorkerHostResult {
  ok: boolean;
  /** audit: findings on the host */
  findings?: number;
  error?: string;
  changed?: boolean;
  inSync?: boolean;
  hash?: string;
  stats?: { connections: number; roundTrips: number };
}

export interface FleetAnswer {
  /** Node started to the library loaded and the request read */
  loadMs: number;
  /** the operation on all hosts */
  opMs: number;
  results: WorkerHostResult[];
}

async function one(req: FleetRequest, input: Record<string, string>): Promise<WorkerHostResult> {
  const parsed = host.parseConnection(input);
  if (!parsed.ok) return { ok: false, error: formatIssues(parsed.issues).join("; ") };
  try {
    if (req.op === "audit") {
      const a = await host.auditHost(parsed.value);
      return { ok: true, findings: a.findings.length, stats: a.stats };
    }
    if (req.op === "observe") {
      const r = await host.observePolicy(parsed.value, assertPolicy(req.policy), { paths: req.paths });
      return { ok: true, changed: false, inSync: r.inSync, hash: r.desiredHash, stats: r.stats };
    }
    const r = await host.applyPolicy(parsed.value, assertPolicy(req.policy), { paths: req.paths });
    return { ok: true, changed: r.changed, hash: r.hash, stats: r.stats };
  } catch (e) {
    return { ok: false, error: (e as Error)?.message ?? String(e) };
  }
}

answer(
  (async (): Promise<FleetAnswer> => {
    const req = await readRequest<FleetRequest>();
    const t1 = performance.now();
    const results = await Promise.all(req.hosts.map((h) => one(req, h)));
    return { loadMs: t1 - t0, opMs: performance.now() - t1, results };
  })(),
);
