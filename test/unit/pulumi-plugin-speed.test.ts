/**
 * What makes the provider plugin fast without changing what it answers: the policy parsed and
 * rendered once per resource and kind of host (render-memo.ts), the trace the bench reads
 * (plugin-trace.ts), and a start-up that loads neither the model nor the SDK's runtime before the
 * plugin serves (plugin.ts, checked in a fresh Node process).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parsePolicy } from "../../src/model/validate";
import { readTrace, traced, traceServing } from "../../src/pulumi/plugin-trace";
import { check, diff } from "../../src/pulumi/provider-impl";
import {
  clearRenderMemo,
  memoParse,
  memoRender,
  policyKey,
  RENDER_MEMO_SIZE,
  stableJson,
} from "../../src/pulumi/render-memo";
import { DEFAULT_PROFILE, renderPolicy } from "../../src/render";
import { profileForKernel } from "../../src/render/profile";
import { TEST_HOST_KEY } from "../support/keys";

const policy = { exposures: [{ service: "ssh" }, { service: "http" }] };

function parsed(input: unknown = policy, table = "web") {
  const r = parsePolicy({ ...(input as object), table });
  if (!r.ok) throw new Error("bad test policy");
  return r.value;
}

afterEach(() => clearRenderMemo());

describe("render memo", () => {
  it("keys ignore the order of object keys, and nothing else", () => {
    expect(stableJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } })).toBe(
      stableJson({ a: { c: null, d: [2, { y: 2, z: 1 }] }, b: 1 }),
    );
    // array order is meaning: exposures are rendered in order
    expect(stableJson({ a: [1, 2] })).not.toBe(stableJson({ a: [2, 1] }));
    expect(policyKey(policy, "web")).toBe(policyKey({ exposures: policy.exposures }, "web"));
    expect(policyKey(policy, "web")).not.toBe(policyKey(policy, "other"));
    expect(policyKey(policy, "web")).not.toBe(policyKey({ exposures: [{ service: "ssh" }] }, "web"));
  });

  it("renders once per policy, profile and kept-loadable modules; another of any renders again", () => {
    let renders = 0;
    const p = parsed();
    const key = policyKey(policy, "web");
    const r = (profile = DEFAULT_PROFILE, keep: string[] = []) =>
      memoRender(key, profile, keep, () => {
        renders++;
        return renderPolicy(p, { profile, table: "web", keepLoadable: keep });
      });
    const first = r();
    expect(r()).toBe(first);
    expect(renders).toBe(1);
    const other = profileForKernel("4.19.0");
    expect(r(other).hash).toBe(renderPolicy(p, { profile: other, table: "web" }).hash);
    expect(renders).toBe(2);
    r(DEFAULT_PROFILE, ["nf_conntrack_ftp"]);
    expect(renders).toBe(3);
    expect(r()).toBe(first);
    expect(renders).toBe(3);
  });

  it("keeps a bounded number of renders (least recently used goes first)", () => {
    let renders = 0;
    const p = parsed();
    const keyOf = (i: number) => policyKey({ ...policy, note: i }, "web");
    const r = (i: number) =>
      memoRender(keyOf(i), DEFAULT_PROFILE, [], () => {
        renders++;
        return renderPolicy(p, { table: "web" });
      });
    for (let i = 0; i <= RENDER_MEMO_SIZE; i++) r(i);
    expect(renders).toBe(RENDER_MEMO_SIZE + 1);
    r(RENDER_MEMO_SIZE); // still there
    expect(renders).toBe(RENDER_MEMO_SIZE + 1);
    r(0); // evicted: rendered again
    expect(renders).toBe(RENDER_MEMO_SIZE + 2);
  });

  it("never keeps a failed parse: a bad policy reports its errors every time", () => {
    let parses = 0;
    const bad = { exposures: [{ service: "no-such-service" }] };
    const key = policyKey(bad, "web");
    for (let i = 0; i < 2; i++) {
      const r = memoParse(key, () => {
        parses++;
        return parsePolicy({ ...bad, table: "web" });
      });
      expect(r.ok).toBe(false);
    }
    expect(parses).toBe(2);
    const good = policyKey(policy, "web");
    for (let i = 0; i < 2; i++)
      memoParse(good, () => {
        parses++;
        return parsePolicy({ ...policy, table: "web" });
      });
    expect(parses).toBe(3);
  });

  it("check and diff answer the same with the memo warm as cold (another policy is not served from it)", async () => {
    const news = {
      table: "web",
      connection: { host: "198.51.100.7", privateKey: "x", hostKey: TEST_HOST_KEY },
      policy,
    };
    const cold = (await check(undefined, news)).inputs as Record<string, unknown>;
    const warm = (await check(undefined, news)).inputs as Record<string, unknown>;
    expect(warm).toEqual(cold);
    const changed = { ...news, policy: { exposures: [{ service: "ssh" }] } };
    const other = (await check(undefined, changed)).inputs as Record<string, unknown>;
    expect(Object.keys(other.rules as object).length).toBeLessThan(Object.keys(cold.rules as object).length);
    // the stored outputs of the first policy against the second: the diff sees the change
    const d = await diff("id", { ...cold, inSync: true }, other);
    expect(d.changes).toBe(true);
    expect(Object.keys(d.detailedDiff ?? {}).some((k) => k.startsWith("rules"))).toBe(true);
    expect((await diff("id", { ...cold, inSync: true }, warm)).changes).toBe(false);
  });
});

describe("plugin trace (HNFT_PLUGIN_TRACE)", () => {
  const saved = process.env.HNFT_PLUGIN_TRACE;
  afterEach(() => {
    if (saved === undefined) delete process.env.HNFT_PLUGIN_TRACE;
    else process.env.HNFT_PLUGIN_TRACE = saved;
  });

  it("records start-up and each RPC's span, success or failure; nothing when unset", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-trace-"));
    try {
      const file = path.join(dir, "trace.jsonl");
      delete process.env.HNFT_PLUGIN_TRACE;
      traceServing();
      expect(await traced("read", "urn:a", async () => 1)).toBe(1);
      expect(fs.existsSync(file)).toBe(false);

      process.env.HNFT_PLUGIN_TRACE = file;
      traceServing();
      expect(await traced("read", "urn:a", async () => 2)).toBe(2);
      await expect(
        traced("create", "urn:b", async () => {
          throw new Error("no");
        }),
      ).rejects.toThrow("no");
      const events = readTrace(file);
      expect(events.map((e) => e.event)).toEqual(["serving", "rpc", "rpc"]);
      const serving = events[0]!;
      if (serving.event !== "serving") throw new Error("unreachable");
      expect(serving.startupMs).toBeGreaterThan(0);
      expect(serving.at - serving.processStart).toBeGreaterThanOrEqual(serving.startupMs - 1);
      expect(events.slice(1)).toMatchObject([
        { rpc: "read", urn: "urn:a", ok: true },
        { rpc: "create", urn: "urn:b", ok: false },
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("plugin start-up", () => {
  const plugin = path.resolve(__dirname, "../../src/pulumi/plugin.ts");
  const tsx = path.resolve(__dirname, "../../node_modules/tsx/dist/loader.mjs");
  it("loading the plugin's provider loads neither the model (zod), SSH, nor the SDK's runtime; the first call loads them", () => {
    const script = `
        const loaded = () => Object.keys(require.cache);
        const p = require(${JSON.stringify(plugin)});
        const prov = p.hardenedNftablesProvider();
        const has = (s) => loaded().some((f) => f.includes(s));
        const before = { zod: has("/node_modules/zod/"), ssh2: has("/node_modules/ssh2/"), sdk: has("/@pulumi/pulumi/index.js"), ts: has("/node_modules/typescript/") };
        p.warmUp().then(() => {
          const after = { zod: has("/node_modules/zod/"), ssh2: has("/node_modules/ssh2/"), sdk: has("/@pulumi/pulumi/index.js"), ts: has("/node_modules/typescript/") };
          process.stdout.write(JSON.stringify({ before, after, methods: typeof prov.check }));
        });`;
    const out = JSON.parse(execFileSync(process.execPath, ["--import", tsx, "-e", script], { encoding: "utf8" }));
    expect(out.before).toEqual({ zod: false, ssh2: false, sdk: false, ts: false });
    // HostTable's methods need the model and SSH, never the SDK's runtime or TypeScript
    expect(out.after).toEqual({ zod: true, ssh2: true, sdk: false, ts: false });
    expect(out.methods).toBe("function");
  });
});
