/**
 * Provider round trip on the COMPILED package under plain Node, against real lab hosts.
 *
 * A temporary "program directory" gets node_modules/pulumi-hardened-nftables -> this repository
 * and node_modules/@pulumi/pulumi. In it, test/support/pulumi-engine.js plays
 * - the program: HostFirewall under setMocks; pulumi.dynamic.Resource serializes the provider
 *   (serializeFunction) into the `__provider` input, which is captured with the other inputs;
 * - the engine and the dynamic-provider host, one process per operation like `pulumi up`:
 *   it loads the provider from that text as @pulumi/pulumi/cmd/dynamic-provider does and calls
 *   check/diff/create/update/read/delete, keeping the state in a file.
 * Vitest only orchestrates (it rewrites imports, so nothing of the provider runs inside it).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const REPO = path.resolve(__dirname, "../..");
const HOST_PATHS = { stateRoot: "/etc/hardened-nftables/.state", runRoot: "/etc/hardened-nftables/.run" };
const TABLE = "roundtrip";

interface EngineResult {
  op: string;
  action?: string;
  ms?: number;
  failures?: { property: string; reason: string }[];
  diff?: { changes?: boolean; replaces?: string[]; deleteBeforeReplace?: boolean };
  checkedInputs?: Record<string, unknown>;
  read?: { id: string; props: Record<string, unknown>; inputs?: Record<string, unknown> };
  error?: { name: string; message: string };
}

let dir = "";
let lab: Lab;
const timings: Record<string, number> = {};

function node(args: string[], timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_OPTIONS: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 255, stdout, stderr });
    });
  });
}

function connectionFor(host: LabHost, extra: Record<string, unknown> = {}) {
  return { host: host.ipv4, user: "root", privateKey: host.root.privateKey, hostKey: host.hostKey, ...extra };
}

function policyArgs(host: LabHost, exposures: unknown[], extra: Record<string, unknown> = {}) {
  return { connection: connectionFor(host), table: TABLE, exposures, hostPaths: HOST_PATHS, confirmTimeoutSeconds: 20, ...extra };
}

/** Run the program (HostFirewall under mocks); returns the captured registration file. */
async function program(file: string, args: unknown, name = "web"): Promise<{ type: string; secretConnection: boolean; inputs: Record<string, unknown> }> {
  fs.writeFileSync(path.join(dir, `${file}.args.json`), JSON.stringify({ name, args }));
  const t = Date.now();
  const r = await node(["pulumi-engine.js", "program", `${file}.args.json`, `${file}.json`]);
  timings[`program ${file}`] = Date.now() - t;
  if (r.code !== 0) throw new Error(`program failed: ${r.stdout}\n${r.stderr}`);
  return JSON.parse(fs.readFileSync(path.join(dir, `${file}.json`), "utf8"));
}

async function engine(op: string, state: string, news?: string, label = op): Promise<EngineResult> {
  const t = Date.now();
  const r = await node(["pulumi-engine.js", op, state, ...(news ? [`${news}.json`] : [])]);
  timings[label] = Date.now() - t;
  const last = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(last) as EngineResult;
  } catch {
    throw new Error(`engine ${op} printed no result (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

const stateOf = (file: string) => JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { id: string; inputs: Record<string, unknown>; outputs: Record<string, unknown> };

describe.runIf(requireRoot("pulumi provider round trip", ["ip", "nft", "sshd", "ssh-keygen"]))("dynamic provider round trip (compiled package, plain Node, real hosts)", () => {
  let h1: LabHost;
  let h2: LabHost;

  beforeAll(async () => {
    if (!fs.existsSync(path.join(REPO, "dist/pulumi/provider-impl.js"))) throw new Error("dist/ missing: run npm run build (npm test does)");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-pulumi-"));
    fs.mkdirSync(path.join(dir, "node_modules/@pulumi"), { recursive: true });
    fs.symlinkSync(REPO, path.join(dir, "node_modules/pulumi-hardened-nftables"));
    fs.symlinkSync(path.join(REPO, "node_modules/@pulumi/pulumi"), path.join(dir, "node_modules/@pulumi/pulumi"));
    fs.copyFileSync(path.join(REPO, "test/support/pulumi-engine.js"), path.join(dir, "pulumi-engine.js"));
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "roundtrip-program", private: true }));
    lab = await createLab({ hosts: 2, label: "pulumi-provider" });
    [h1, h2] = lab.hosts as [LabHost, LabHost];
  });

  afterAll(async () => {
    console.log(`pulumi provider round trip timings (ms): ${JSON.stringify(timings)}`);
    await lab?.destroy();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const live = async (host: LabHost) => (await host.sh(`nft list table inet ${TABLE}`, { allowFail: true })).stdout;

  it("serializes a thin provider: a require of the compiled module, no secret, no absolute path", async () => {
    const reg = await program("v1", policyArgs(h1, [{ service: "ssh" }]));
    expect(reg.type).toBe("pulumi-nodejs:dynamic/hardened-nftables:HostTable");
    expect(reg.secretConnection).toBe(true);
    const text = reg.inputs.__provider as string;
    expect(text).toContain('require(id)');
    expect(text).toContain('"pulumi-hardened-nftables/dist/pulumi/provider-impl.js"');
    expect(text).not.toContain(REPO);
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toMatch(/zod|ssh2/);
    expect(text.length).toBeLessThan(5000);
    console.log(`serialized provider: ${text.length} bytes`);
  });

  it("create -> no-op diff -> change wants update -> update", async () => {
    const created = await engine("up", "state.json", "v1", "create");
    expect(created.error).toBeUndefined();
    expect(created.action).toBe("create");
    let state = stateOf("state.json");
    expect(state.outputs.inSync).toBe(true);
    expect(state.outputs.hostProfile).toMatchObject({ kernel: expect.stringMatching(/^\d+\.\d+$/), nftVersion: expect.any(String) });
    expect(state.outputs.appliedHash).toMatch(/^[0-9a-f]{64}$/);
    expect(await live(h1)).toContain('tcp dport 22 accept comment "ssh: control"');
    expect(fs.existsSync(path.join(h1.etc, `hardened-nftables/.state/${TABLE}`))).toBe(true);

    const same = await engine("preview", "state.json", "v1", "preview no-op");
    expect(same.diff).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });

    await program("v2", policyArgs(h1, [{ service: "ssh" }, { service: "http", sources: ["198.51.100.0/24"] }]));
    const planned = await engine("preview", "state.json", "v2", "preview change");
    expect(planned.diff).toMatchObject({ changes: true, replaces: [] });
    expect(planned.checkedInputs?.ruleLines).toContain('chain input: ip saddr @http_v4 tcp dport 80 accept comment "http: control"');

    const updated = await engine("up", "state.json", "v2", "update");
    expect(updated.error).toBeUndefined();
    expect(updated.action).toBe("update");
    state = stateOf("state.json");
    expect(state.outputs.ruleLines).toContain('chain input: ip saddr @http_v4 tcp dport 80 accept comment "http: control"');
    expect(await live(h1)).toContain("tcp dport 80 accept");
  });

  it("a new package version wants an update (the state holds only a require of the code)", async () => {
    const v2 = JSON.parse(fs.readFileSync(path.join(dir, "v2.json"), "utf8"));
    v2.inputs.version = `${v2.inputs.version}-next`;
    fs.writeFileSync(path.join(dir, "v2-next.json"), JSON.stringify(v2));
    const planned = await engine("preview", "state.json", "v2-next", "preview version");
    expect(planned.diff).toMatchObject({ changes: true, replaces: [] });
  });

  it("hand-made drift: refresh shows it in the inputs, the next diff wants an update, update restores", async () => {
    await h1.sh(`nft add rule inet ${TABLE} input tcp dport 8080 accept`);
    await h1.sh(`echo '# edited by hand' >> /etc/sysctl.d/60-hardened-nftables-${TABLE}.conf`);

    const refreshed = await engine("refresh", "state.json", undefined, "refresh drifted");
    expect(refreshed.error).toBeUndefined();
    const inputs = refreshed.read?.inputs ?? {};
    expect(inputs.ruleLines).toContain("chain input: tcp dport 8080 accept");
    expect(inputs.sysctlLines).toContain("# edited by hand");
    expect((inputs.drift as string[]).join("\n")).toMatch(/\+ input: tcp dport 8080 accept/);
    expect(inputs.connection).toBeDefined(); // kept, so delete still works after a refresh
    expect(refreshed.read?.props.inSync).toBe(false);
    expect(refreshed.read?.props.driftSummary).toMatch(/drifted: 1 rule\(s\) added/);

    const planned = await engine("preview", "state.json", "v2", "preview drift");
    expect(planned.diff).toMatchObject({ changes: true, replaces: [] });

    const restored = await engine("up", "state.json", "v2", "update restores");
    expect(restored.action).toBe("update");
    expect(await live(h1)).not.toContain("8080");
    expect(fs.readFileSync(path.join(h1.etc, `sysctl.d/60-hardened-nftables-${TABLE}.conf`), "utf8")).not.toContain("edited by hand");

    const clean = await engine("refresh", "state.json", undefined, "refresh in sync");
    expect(clean.read?.props.inSync).toBe(true);
    expect(clean.read?.inputs?.drift).toEqual([]);
    expect(clean.read?.inputs?.ruleLines).toEqual(stateOf("state.json").outputs.ruleLines);
    const quiet = await engine("preview", "state.json", "v2", "preview after refresh");
    expect(quiet.diff?.changes).toBe(false);
  });

  it("`pulumi up --refresh` in one provider process reuses the SSH session: refresh + update = 2 connections", async () => {
    await h1.sh(`nft add rule inet ${TABLE} input udp dport 9999 accept`);
    const accepted = () => (fs.readFileSync(h1.sshdLog, "utf8").match(/Accepted publickey for root/g) ?? []).length;
    const before = accepted();
    const r = (await engine("refresh-up", "state.json", "v2", "refresh+update (one process)")) as EngineResult & { refresh: EngineResult; up: EngineResult };
    expect(r.error).toBeUndefined();
    expect(r.refresh.read?.inputs?.ruleLines).toContain("chain input: udp dport 9999 accept");
    expect(r.up.diff?.changes).toBe(true);
    expect(r.up.action).toBe("update");
    expect(await live(h1)).not.toContain("9999");
    // One pooled session for probe + observe + probe + apply, one NEW connection for the proof of access.
    expect(accepted() - before).toBe(2);
  });

  it("errors never show the connection's secrets", async () => {
    const secret = "s3cret-Passw0rd-value";
    const reg = await program("bad", { ...policyArgs(h1, [{ service: "ssh" }]), connection: { host: h1.ipv4, port: 2, user: "root", password: secret, hostKey: h1.hostKey, dialErrorLimit: 1, perDialTimeout: 2 } }, "bad");
    expect(JSON.stringify(reg.inputs.__provider)).not.toContain(secret);
    const failed = await engine("up", "bad-state.json", "bad", "create unreachable");
    expect(failed.error?.message).toMatch(/198\.18\.|refused|unreachable/i);
    expect(JSON.stringify(failed)).not.toContain(secret);
  });

  it("a change of host replaces the resource, deleting first", async () => {
    await program("h2", { ...policyArgs(h2, [{ service: "ssh" }, { service: "http", sources: ["198.51.100.0/24"] }]) });
    const planned = await engine("preview", "state.json", "h2", "preview host change");
    expect(planned.diff).toMatchObject({ changes: true, replaces: ["connection", "target"], deleteBeforeReplace: true });
    const moved = await engine("up", "state.json", "h2", "replace");
    expect(moved.error).toBeUndefined();
    expect(moved.action).toBe("delete-then-create");
    expect(await live(h1)).toBe("");
    expect(await live(h2)).toContain("tcp dport 80 accept");
  });

  it("delete removes the table and its files", async () => {
    const gone = await engine("destroy", "state.json", undefined, "delete");
    expect(gone.error).toBeUndefined();
    expect(await live(h2)).toBe("");
    expect(fs.existsSync(path.join(h2.etc, `hardened-nftables/${TABLE}.nft`))).toBe(false);
    expect(fs.existsSync(path.join(h2.etc, `sysctl.d/60-hardened-nftables-${TABLE}.conf`))).toBe(false);
  });
});
