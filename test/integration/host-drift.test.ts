/**
 * Drift on a real lab host (issue #3 §8): every kind of hand edit is reported precisely in the
 * DriftReport, and a re-apply restores the declared state.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  applyPolicy,
  type DriftReport,
  formatDrift,
  HostSession,
  observeOnSession,
  observePolicy,
  probeSession,
} from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import { connectionFor, HOST_PATHS, listTable, MANAGED, TABLE, wipeHost } from "../support/host-fixtures";
import { createLab, type Lab, type LabHost } from "../support/lab";
import { requireRoot } from "../support/privileges";

const MAX_KEY = "net.netfilter.nf_conntrack_max";
const opts = { paths: HOST_PATHS, confirmTimeoutSeconds: 10 };

/** A report with nothing in it but what a test expects. */
function onlyDrift(
  report: DriftReport,
  expected: Partial<
    Pick<DriftReport, "rules" | "chains" | "sets" | "helpers" | "files" | "sysctls" | "loadedDeniedModules">
  >,
) {
  expect({
    inSync: report.inSync,
    tablePresent: report.tablePresent,
    rules: report.rules,
    chains: report.chains,
    sets: report.sets,
    helpers: report.helpers,
    files: report.files,
    sysctls: report.sysctls,
    loadedDeniedModules: report.loadedDeniedModules,
  }).toEqual({
    inSync: false,
    tablePresent: true,
    rules: { added: [], removed: [], changed: [] },
    chains: [],
    sets: [],
    helpers: [],
    files: [],
    sysctls: [],
    loadedDeniedModules: [],
    ...expected,
  });
}

describe.runIf(requireRoot("host drift", ["ip", "sshd", "nft"]))("host layer: drift", () => {
  let lab: Lab;
  let h1: LabHost;
  let policy: Record<string, unknown>;
  /** The live (read-only in a network namespace) conntrack limit: a policy asking for it can be in sync. */
  let liveMax: number;

  const nft = (script: string) => h1.sh(script);
  const handleOf = async (needle: string): Promise<string> => {
    const listing = (await h1.sh(`nft -a list chain inet ${TABLE} input`)).stdout;
    const line = listing.split("\n").find((l) => l.includes(needle));
    const handle = /# handle (\d+)/.exec(line ?? "")?.[1];
    if (!handle) throw new Error(`no rule with ${needle} in\n${listing}`);
    return handle;
  };
  const observe = (p: unknown = policy) => observePolicy(connectionFor(h1), assertPolicy(p), { paths: HOST_PATHS });
  /** Re-apply restores: a real change, and afterwards observe reports no drift at all. */
  const restore = async () => {
    const r = await applyPolicy(connectionFor(h1), assertPolicy(policy), opts);
    expect(r.changed).toBe(true);
    const report = await observe();
    expect(formatDrift(report)).toEqual([`root@${h1.ipv4}:22: table inet ${TABLE} in sync`]);
    expect(report.inSync).toBe(true);
  };

  beforeAll(async () => {
    lab = await createLab({ hosts: 1, label: "host-drift" });
    [h1] = lab.hosts as [LabHost];
    liveMax = Number((await h1.sh(`cat /proc/sys/${MAX_KEY.replace(/\./g, "/")}`)).stdout.trim());
    policy = {
      table: TABLE,
      exposures: [
        { service: "ssh" },
        { service: "https", sources: ["198.18.0.0/15", "192.0.2.0/24", "2001:db8::/32"] },
        { service: "http" },
      ],
      conntrack: { max: liveMax },
    };
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  beforeEach(async () => {
    await wipeHost(h1);
    const r = await applyPolicy(connectionFor(h1), assertPolicy(policy), opts);
    expect(r.changed).toBe(true);
    expect((await observe()).inSync).toBe(true);
  });

  it("a rule added by hand: rules.added with its text", async () => {
    await nft(`nft add rule inet ${TABLE} input tcp dport 3306 accept`);
    const report = await observe();
    onlyDrift(report, {
      rules: { added: [{ chain: "input", text: "tcp dport 3306 accept" }], removed: [], changed: [] },
    });
    expect(formatDrift(report)).toContain("  + input: tcp dport 3306 accept");
    await restore();
    expect(await listTable(h1)).not.toContain("3306");
  });

  it("a rule deleted: rules.removed with its text and comment", async () => {
    await nft(`nft delete rule inet ${TABLE} input handle ${await handleOf('comment "http: web requests"')}`);
    const report = await observe();
    onlyDrift(report, {
      rules: {
        added: [],
        removed: [
          {
            chain: "input",
            text: 'tcp dport 80 counter accept comment "http: web requests"',
            comment: "http: web requests",
          },
        ],
        changed: [],
      },
    });
    await restore();
  });

  it("a rule replaced in place keeping its comment: rules.changed with before and after", async () => {
    const handle = await handleOf('comment "http: web requests"');
    await nft(
      `nft replace rule inet ${TABLE} input handle ${handle} tcp dport 8080 accept comment '"http: web requests"'`,
    );
    const report = await observe();
    onlyDrift(report, {
      rules: {
        added: [],
        removed: [],
        changed: [
          {
            chain: "input",
            before: 'tcp dport 80 counter accept comment "http: web requests"',
            after: 'tcp dport 8080 accept comment "http: web requests"',
          },
        ],
      },
    });
    expect(formatDrift(report).join("\n")).toContain(
      '~ input: tcp dport 80 counter accept comment "http: web requests"\n      now: tcp dport 8080 accept comment "http: web requests"',
    );
    await restore();
  });

  it("a set element added and one deleted: sets[] with the elements", async () => {
    await nft(
      `nft add element inet ${TABLE} https_v4 '{ 203.0.113.0/24 }'; nft delete element inet ${TABLE} https_v4 '{ 192.0.2.0/24 }'`,
    );
    const report = await observe();
    onlyDrift(report, { sets: [{ name: "https_v4", added: ["203.0.113.0/24"], removed: ["192.0.2.0/24"] }] });
    await restore();
  });

  it("a chain policy flipped to accept: chains[] names the change", async () => {
    await nft(`nft 'chain inet ${TABLE} input { policy accept; }'`);
    const report = await observe();
    onlyDrift(report, { chains: [{ name: "input", change: "policy drop -> accept" }] });
    await restore();
  });

  it("a managed file edited: files[] status changed with the added and removed lines", async () => {
    await h1.sh(
      `echo 'net.ipv4.ip_forward = 1' >> ${MANAGED.sysctl}; sed -i 's/^install nf_conntrack_irc .*$/# irc allowed/' ${MANAGED.modprobe}`,
    );
    const report = await observe();
    onlyDrift(report, {
      files: [
        { name: "sysctl", path: MANAGED.sysctl, status: "changed", added: ["net.ipv4.ip_forward = 1"], removed: [] },
        {
          name: "modprobe",
          path: MANAGED.modprobe,
          status: "changed",
          added: ["# irc allowed"],
          removed: ["install nf_conntrack_irc /bin/false"],
        },
      ],
    });
    await restore();
    expect((await h1.sh(`cat ${MANAGED.sysctl}`)).stdout).not.toContain("ip_forward");
  });

  it("a managed file deleted: files[] status missing", async () => {
    await h1.sh(`rm ${MANAGED.nft}`);
    const report = await observe();
    onlyDrift(report, { files: [{ name: "nft", path: MANAGED.nft, status: "missing", added: [], removed: [] }] });
    await restore();
  });

  it("the table deleted: tablePresent false, every declared rule removed", async () => {
    await h1.sh(`nft delete table inet ${TABLE}`);
    const report = await observe();
    expect(report.inSync).toBe(false);
    expect(report.tablePresent).toBe(false);
    expect(report.rules.removed.length).toBeGreaterThan(10);
    expect(report.chains).toEqual([
      { name: "input", change: "missing" },
      { name: "forward", change: "missing" },
    ]);
    await restore();
  });

  it("several edits at once are all reported, and one re-apply restores them all", async () => {
    await nft(
      [
        `nft add rule inet ${TABLE} input tcp dport 5432 accept`,
        `nft delete rule inet ${TABLE} input handle ${await handleOf('comment "icmp echo (rate limited)"')}`,
        `nft add element inet ${TABLE} https_v6 '{ 2001:db9::/32 }'`,
      ].join("; "),
    );
    await h1.sh(`echo '# edited' >> ${MANAGED.modprobe}`);
    const report = await observe();
    onlyDrift(report, {
      rules: {
        added: [{ chain: "input", text: "tcp dport 5432 accept" }],
        removed: [
          {
            chain: "input",
            text: 'icmp type echo-request limit rate 10/second accept comment "icmp echo (rate limited)"',
            comment: "icmp echo (rate limited)",
          },
        ],
        changed: [],
      },
      sets: [{ name: "https_v6", added: ["2001:db9::/32"], removed: [] }],
      files: [{ name: "modprobe", path: MANAGED.modprobe, status: "changed", added: ["# edited"], removed: [] }],
    });
    await restore();
  });

  it("sysctls: a live value that differs from the policy is reported as expected vs actual", async () => {
    // nf_conntrack_max is read-only in a non-initial network namespace (every lab host): nobody can
    // change it by hand here, and observe.sh reports such a key as "-" (nothing apply could set).
    // So the host's real observe output is edited to what observe.sh prints on a host where the key
    // is writable and someone changed it, and observe's comparison runs on that.
    const writable = (
      await h1.sh(`[ -w /proc/sys/${MAX_KEY.replace(/\./g, "/")} ] && echo yes || echo no`)
    ).stdout.trim();
    expect(writable).toBe("no");
    const session = await HostSession.open(connectionFor(h1));
    try {
      const facts = await probeSession(session);
      const artefacts = renderPolicy(assertPolicy(policy), { profile: facts.profile });
      expect(artefacts.sysctlSettings).toEqual([[MAX_KEY, String(liveMax)]]);
      const withLive = (value: string) =>
        ({
          target: session.target,
          redact: (t: string) => session.redact(t),
          run: async (script: string, o: { stdin?: string | Buffer }) => {
            const r = await session.run(script, o);
            const stdout = r.stdout.replace(new RegExp(`^${MAX_KEY} -$`, "m"), `${MAX_KEY} ${value}`);
            expect(stdout).not.toBe(r.stdout);
            return { ...r, stdout };
          },
        }) as unknown as HostSession;
      const same = await observeOnSession(withLive(String(liveMax)), artefacts, facts, { paths: HOST_PATHS });
      expect(same.sysctls).toEqual([]);
      expect(same.inSync).toBe(true);
      const drifted = await observeOnSession(withLive("4096"), artefacts, facts, { paths: HOST_PATHS });
      onlyDrift(
        { ...drifted, stats: session.stats },
        { sysctls: [{ key: MAX_KEY, expected: String(liveMax), actual: "4096" }] },
      );
      expect(formatDrift(drifted)).toContain(`  sysctl ${MAX_KEY}: expected ${liveMax}, live 4096`);
    } finally {
      await session.close();
    }
  });

  it("a sysctl the host cannot set (read-only in a container) is a warning, not a change on every apply", async () => {
    const other = { ...policy, conntrack: { max: liveMax === 65536 ? 131072 : 65536 } };
    const first = await applyPolicy(connectionFor(h1), assertPolicy(other), opts);
    expect(first.changed).toBe(true);
    expect(first.warnings.join("\n")).toMatch(new RegExp(`${MAX_KEY}.*read-only`));
    expect((await h1.sh(`cat ${MANAGED.sysctl}`)).stdout).toContain(`${MAX_KEY} = ${other.conntrack.max}`);
    // nothing the next apply could do: it must not reload the table every time
    const second = await applyPolicy(connectionFor(h1), assertPolicy(other), opts);
    expect(second.changed).toBe(false);
    const report = await observe(other);
    expect(report.rules).toEqual({ added: [], removed: [], changed: [] });
    expect(report.files).toEqual([]);
  });
});
