import { beforeAll, describe, expect, it } from "vitest";
import { DIFF_KIND, mapKeyPath } from "../../src/pulumi/detailed-diff";
import { fromLineMap, type LineMap, toLineMap } from "../../src/pulumi/line-map";
import { liveFileLines, liveRuleLines } from "../../src/pulumi/live";
import { check, diff, guestsCheck, guestsCheckTarget } from "../../src/pulumi/provider-impl";
import { UNKNOWN } from "../../src/pulumi/types";
import { render } from "../../src/render";
import { profileForKernel } from "../../src/render/profile";
import { ruleLineGroup, setElementOf } from "../../src/render/rule-lines";
import { generatePrivateKey, TEST_HOST_KEY } from "../support/keys";

let privateKey = "";
const HOST_KEY = TEST_HOST_KEY;

beforeAll(() => {
  privateKey = generatePrivateKey();
});

const policy = { exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "50000-50100" }] };

function news(extra: Record<string, unknown> = {}) {
  return {
    version: "0.1.0+abc",
    table: "web",
    target: "root@198.51.100.7:22",
    connection: { host: "198.51.100.7", privateKey, hostKey: HOST_KEY },
    policy,
    rules: {},
    sysctl: {},
    modprobe: {},
    drift: [],
    ...extra,
  };
}

/** Outputs as create() would store them for a host with `kernel`. */
async function outputsFor(kernel: string, extra: Record<string, unknown> = {}) {
  const checked = (await check(undefined, news())).inputs as Record<string, unknown>;
  const a = render({ ...policy, table: "web" }, { profile: profileForKernel(kernel) });
  return {
    ...checked,
    sysctl: toLineMap(a.sysctl.trimEnd().split("\n")),
    modprobe: toLineMap(a.modprobe.trimEnd().split("\n")),
    hostProfile: { ...profileForKernel(kernel), kernelRelease: `${kernel}.0-1-amd64`, nftVersion: "1.0.6" },
    appliedHash: a.hash,
    inSync: true,
    driftSummary: "in sync",
    warnings: [],
    ...extra,
  };
}

describe("provider check", () => {
  it("renders rule lines and default-profile files, and fills the target", async () => {
    const result = await check(undefined, news({ target: "whatever" }));
    expect(result.failures).toEqual([]);
    const inputs = result.inputs as Record<string, unknown>;
    const expected = render({ ...policy, table: "web" });
    expect(inputs.rules).toEqual(toLineMap(expected.ruleLines, ruleLineGroup, setElementOf));
    expect(fromLineMap(inputs.sysctl as LineMap)).toEqual(expected.sysctl.trimEnd().split("\n"));
    expect(inputs.target).toBe("root@198.51.100.7:22");
    expect(inputs.hostProfile).toBeUndefined();
  });

  it("renders files with the kernel profile a refresh recorded", async () => {
    const olds = {
      hostProfile: { ...profileForKernel("5.10"), kernelRelease: "5.10.0-30-amd64", nftVersion: "0.9.8" },
    };
    const inputs = (await check(olds, news())).inputs as Record<string, unknown>;
    expect(fromLineMap(inputs.sysctl as LineMap)).toContain("net.netfilter.nf_conntrack_helper = 0");
    expect(inputs.hostProfile).toEqual(olds.hostProfile);
  });

  it("takes the policy as its JSON text too (what HostFirewall passes), and says when the text does not parse", async () => {
    const asObject = (await check(undefined, news())).inputs;
    const asText = (await check(undefined, news({ policy: JSON.stringify(policy) }))).inputs;
    expect(asText.rules).toEqual(asObject.rules);
    expect(asText.policy).toBe(JSON.stringify(policy));
    const { failures } = await check(undefined, news({ policy: "{ exposures: " }));
    expect(failures).toEqual([{ property: "policy", reason: expect.stringContaining("JSON text does not parse") }]);
  });

  it("reports every problem with its path, never a secret", async () => {
    const result = await check(
      undefined,
      news({
        policy: { exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "9-2" }] },
        connection: { host: "198.51.100.7", password: "hunter2-hunter2" },
        hostPaths: { stateRoot: "relative/path" },
        confirmTimeoutSeconds: 1,
      }),
    );
    expect(result.failures).toEqual([
      { property: "policy", reason: "exposures[1].passivePorts: range 9-2 is reversed" },
      {
        property: "connection",
        reason: "connection.hostKey: required (pin the host's public key) unless insecureIgnoreHostKey is true",
      },
      { property: "hostPaths", reason: "hostPaths.stateRoot: must be an absolute path of letters, digits and . _ - /" },
      {
        property: "confirmTimeoutSeconds",
        reason: "confirmTimeoutSeconds: must be a whole number of seconds between 5 and 600",
      },
    ]);
    expect(JSON.stringify(result.failures)).not.toContain("hunter2");
  });

  it("leaves unknown values (preview) alone", async () => {
    const result = await check(
      undefined,
      news({ policy: { exposures: [{ service: "ssh", sources: [UNKNOWN] }] }, connection: UNKNOWN, rules: UNKNOWN }),
    );
    expect(result.failures).toEqual([]);
    // nothing rendered from a policy not known yet: the engine shows the lines as computed
    expect((result.inputs as Record<string, unknown>).rules).toBeUndefined();
    expect((result.inputs as Record<string, unknown>).connection).toBe(UNKNOWN);
  });
});

describe("provider diff", () => {
  it("no change when the host matches (files compared for the host's own kernel)", async () => {
    const olds = await outputsFor("5.10");
    const checked = (await check({}, news())).inputs as Record<string, unknown>;
    expect(await diff("id", olds, checked)).toEqual({
      changes: false,
      replaces: [],
      deleteBeforeReplace: false,
      detailedDiff: {},
    });
  });

  it("a rule change, a connection change or recorded drift want an update; what the dynamic provider stored does not", async () => {
    const olds = await outputsFor("6.1");
    const more = (await check({}, news({ policy: { exposures: [...policy.exposures, { service: "http" }] } })))
      .inputs as Record<string, unknown>;
    expect(await diff("id", olds, more)).toMatchObject({ changes: true, replaces: [] });
    const same = (await check({}, news())).inputs as Record<string, unknown>;
    expect(
      await diff("id", { ...olds, version: "0.1.0+abc", __provider: "exports.handler = ..." }, same),
    ).toMatchObject({ changes: false, replaces: [] });
    expect(await diff("id", { ...olds, inSync: false }, same)).toMatchObject({ changes: true, replaces: [] });
    const rekeyed = (
      await check({}, news({ connection: { host: "198.51.100.7", password: "x-y-z-w", hostKey: HOST_KEY } }))
    ).inputs as Record<string, unknown>;
    expect(await diff("id", olds, rekeyed)).toMatchObject({ changes: true, replaces: [] });
  });

  it("the rule lines come from the old inputs when the stored outputs do not hold them (0.3.0 on)", async () => {
    const stored: Record<string, unknown> = await outputsFor("6.1");
    const { rules, ...outputs } = stored;
    const oldInputs = { ...outputs, rules };
    const same = (await check({}, news())).inputs as Record<string, unknown>;
    expect(await diff("id", outputs, same, oldInputs)).toMatchObject({ changes: false, detailedDiff: {} });
    const more = (await check({}, news({ policy: { exposures: [...policy.exposures, { service: "http" }] } })))
      .inputs as Record<string, unknown>;
    const d = await diff("id", outputs, more, oldInputs);
    expect(d.changes).toBe(true);
    // negative control: without the old inputs every rule line would look new
    const blind = await diff("id", outputs, same);
    expect(Object.keys(blind.detailedDiff ?? {}).filter((k) => k.startsWith("rules[")).length).toBeGreaterThan(5);
    expect(Object.keys(d.detailedDiff ?? {}).filter((k) => k.startsWith("rules[")).length).toBeLessThan(5);
  });

  it("a set stored one key per element (0.2.0, linked; earlier 0.3.0 builds, valued) is no change; one element is one set path", async () => {
    const sources = ["198.51.100.0/24", "203.0.113.9/32", "192.0.2.0/25"];
    const withSet = news({ policy: { exposures: [{ service: "ssh", sources }] } });
    const checked = (await check({}, withSet)).inputs as Record<string, unknown>;
    const ruleLines = render({ exposures: [{ service: "ssh", sources }], table: "web" }).ruleLines;
    const outputs = await outputsFor("6.1", { rules: undefined, policy: withSet.policy });
    const linked = toLineMap(ruleLines, ruleLineGroup);
    expect(Object.keys(linked)).toContain("set ssh_v4: 203.0.113.9");
    const valued = Object.fromEntries(
      Object.entries(linked).map(([k, v]) => [k, setElementOf(k) === undefined ? v : "(element)"]),
    );
    for (const rules of [linked, valued])
      expect(await diff("id", outputs, checked, { ...outputs, rules })).toMatchObject({
        changes: false,
        detailedDiff: {},
      });
    const changed = (
      await check(
        {},
        news({ policy: { exposures: [{ service: "ssh", sources: [...sources.slice(1), "192.0.2.128/25"] }] } }),
      )
    ).inputs as Record<string, unknown>;
    expect((await diff("id", outputs, changed, { ...outputs, rules: linked })).detailedDiff).toEqual({
      [mapKeyPath("rules", "set ssh_v4")]: { kind: DIFF_KIND.update, inputDiff: true },
    });
  });

  it("another host or port replaces, deleting first; a renamed table replaces, deleting first too (two tables of this project on one host are refused)", async () => {
    const olds = await outputsFor("6.1");
    const moved = (await check({}, news({ connection: { host: "198.51.100.8", privateKey, hostKey: HOST_KEY } })))
      .inputs as Record<string, unknown>;
    const replace = { kind: DIFF_KIND.updateReplace, inputDiff: true };
    expect(await diff("id", olds, moved)).toEqual({
      changes: true,
      replaces: ["connection", "target"],
      deleteBeforeReplace: true,
      detailedDiff: { connection: replace, target: replace },
    });
    const renamed = (await check({}, news({ table: "web2" }))).inputs as Record<string, unknown>;
    const renamedDiff = await diff("id", olds, renamed);
    expect(renamedDiff).toMatchObject({ changes: true, replaces: ["table"], deleteBeforeReplace: true });
    // the files' headers name the table: they change line by line with it
    expect(renamedDiff.detailedDiff).toMatchObject({
      table: replace,
      [mapKeyPath("modprobe", "# pulumi-hardened-nftables: conntrack helper modules for table inet web2")]: {
        kind: DIFF_KIND.add,
        inputDiff: true,
      },
      [mapKeyPath("modprobe", "# pulumi-hardened-nftables: conntrack helper modules for table inet web")]: {
        kind: DIFF_KIND.delete,
        inputDiff: true,
      },
    });
    expect(await diff("id", olds, { ...renamed, table: "web", connection: UNKNOWN })).toMatchObject({
      changes: true,
      deleteBeforeReplace: true,
    });
  });
});

describe("live lines from a drift report", () => {
  const desired = render({
    table: "t",
    exposures: [
      { service: "ssh", sources: ["198.51.100.0/24"] },
      { service: "ftp", helper: "scoped", passivePorts: "50000-50100" },
    ],
  }).ruleLines;
  const none = { added: [], removed: [], changed: [] };

  it("in sync: the desired lines; table missing: nothing", () => {
    expect(liveRuleLines(desired, { tablePresent: true, rules: none, chains: [], sets: [], helpers: [] })).toEqual(
      desired,
    );
    expect(liveRuleLines(desired, { tablePresent: false, rules: none, chains: [], sets: [], helpers: [] })).toEqual([]);
  });

  it("adds, removes and changes rules, set elements, chain policies and helpers", () => {
    const live = liveRuleLines(desired, {
      tablePresent: true,
      rules: {
        added: [{ chain: "input", text: "tcp dport 8080 accept" }],
        removed: [{ chain: "input", text: 'ct state invalid drop comment "invalid"', comment: "invalid" }],
        changed: [
          {
            chain: "input",
            before: 'ct state established accept comment "established"',
            after: 'ct state established,related accept comment "established"',
          },
        ],
      },
      chains: [{ name: "input", change: "policy drop -> accept" }],
      sets: [{ name: "ssh_v4", added: ["0.0.0.0/0"], removed: ["198.51.100.0/24"] }],
      helpers: [{ name: "ftp-helper", change: "missing" }],
    });
    expect(live).toContain("chain input: tcp dport 8080 accept");
    expect(live).not.toContain('chain input: ct state invalid drop comment "invalid"');
    expect(live).toContain('chain input: ct state established,related accept comment "established"');
    expect(live).toContain("chain input: policy accept");
    expect(live).toContain("set ssh_v4: 0.0.0.0/0");
    expect(live).not.toContain("set ssh_v4: 198.51.100.0/24");
    expect(live.some((l) => l.startsWith("ct helper ftp-helper"))).toBe(false);
    expect(live.filter((l) => l.startsWith("chain input: ")).at(-1)).toBe("chain input: tcp dport 8080 accept");
  });

  it("files: missing -> [], changed -> desired minus removed plus added", () => {
    expect(liveFileLines(["a", "b"], undefined)).toEqual(["a", "b"]);
    expect(
      liveFileLines(["a", "b"], { name: "sysctl", path: "/x", status: "missing", added: [], removed: [] }),
    ).toEqual([]);
    expect(
      liveFileLines(["a", "b"], { name: "sysctl", path: "/x", status: "changed", added: ["c"], removed: ["a"] }),
    ).toEqual(["b", "c"]);
  });
});

describe("the guests check at check time: when the host is probed", () => {
  it("only a valid policy whose forward chain drops with no guestInterfaces, on a known connection", () => {
    expect(guestsCheckTarget(news())).toMatchObject({ table: "web", connection: { host: "198.51.100.7" } });
    // declared guests (any list, even empty: the operator decided) or forward accept: nothing to probe
    expect(
      guestsCheckTarget(news({ policy: { ...policy, forward: { policy: "drop", guestInterfaces: ["docker0"] } } })),
    ).toBeUndefined();
    expect(
      guestsCheckTarget(news({ policy: { ...policy, forward: { policy: "drop", guestInterfaces: [] } } })),
    ).toBeUndefined();
    expect(guestsCheckTarget(news({ policy: { ...policy, forward: { policy: "accept" } } }))).toBeUndefined();
    // unknown at preview (a computed address, policy or table): not probed, up checks
    expect(guestsCheckTarget(news({ connection: { host: UNKNOWN, privateKey, hostKey: HOST_KEY } }))).toBeUndefined();
    expect(guestsCheckTarget(news({ connection: UNKNOWN }))).toBeUndefined();
    expect(guestsCheckTarget(news({ policy: UNKNOWN }))).toBeUndefined();
    expect(guestsCheckTarget(news({ table: UNKNOWN }))).toBeUndefined();
    // invalid inputs are check's own failures: not probed
    expect(guestsCheckTarget(news({ connection: { host: "198.51.100.7", privateKey } }))).toBeUndefined();
    expect(guestsCheckTarget(news({ policy: { exposures: [{ service: "nope" }] } }))).toBeUndefined();
  });

  it("nothing to probe: no failure, nothing skipped, no connection attempted", async () => {
    expect(await guestsCheck(news({ policy: { ...policy, forward: { policy: "accept" } } }))).toEqual({ failures: [] });
  });

  it("a host that refuses the connection: the check passes, saying why (up checks again)", async () => {
    const refused = news({
      connection: { host: "127.0.0.1", port: 1, privateKey, hostKey: HOST_KEY, dialErrorLimit: 1, perDialTimeout: 5 },
    });
    const result = await guestsCheck(refused);
    expect(result.failures).toEqual([]);
    expect(result.skipped).toMatch(/could not be probed for running guests at preview .*; up checks again/);
    expect(result.skipped).not.toContain(privateKey.split("\n")[1]);
  });

  it("arguments the stored inputs already hold are not probed again (a no-op up or drift check dials nothing); changed ones are", async () => {
    const refused = news({
      connection: { host: "127.0.0.1", port: 1, privateKey, hostKey: HOST_KEY, dialErrorLimit: 1, perDialTimeout: 5 },
    });
    const stored = { ...refused, rules: { "tcp dport 22 counter accept": "(first)" } };
    expect(await guestsCheck(refused, stored)).toEqual({ failures: [] });
    // negative control: one changed argument (the table) and the host is probed, so the refused dial shows
    const changed = await guestsCheck({ ...refused, table: "other" }, stored);
    expect(changed.skipped).toMatch(/could not be probed for running guests at preview/);
  });
});
