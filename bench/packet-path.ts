/**
 * Packet path: the rate of new TCP connections to an exposed port through
 *   (a) no firewall,
 *   (b) the ruleset this project renders, its allow list an interval set of 0 / 1,000 / 10,000 prefixes,
 *   (c) the same allow list hand-written one rule per prefix (`ip saddr X tcp dport P accept`,
 *       what iptables-style tools produce), after `iif lo accept` and `ct state established,related accept`.
 *
 * Two namespaces joined by one veth pair (nothing else: no bridge, no route to the outside):
 *   hnftb-<pid>-srv  198.19.255.1  acceptd (accept + close), the ruleset under test
 *   hnftb-<pid>-cli  198.19.255.2  connload (non-blocking connects; each completed handshake is
 *                                   counted and reset), plus 198.19.255.200, a source outside the list
 * The client's address is the highest address in the allow list, so it is the last set element
 * and matches the last of the per-prefix rules. Runs are interleaved (every variant once per
 * round) and the median of the rounds is reported.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { render } from "../src/render";
import {
  type Background,
  background,
  compilePacketTools,
  connloadArgs,
  cpuBetween,
  cpuTimes,
  exec,
  type Log,
  median,
  nsExec,
  onCleanup,
  prefixes,
  type RatioSummary,
  ratioSummary,
  removeNamespaces,
  round,
  sleep,
  tempDir,
} from "./util";

export interface PacketOptions {
  sizes: number[];
  rounds: number;
  warmupSeconds: number;
  durationSeconds: number;
  concurrency: number;
  /** taskset: client on CPU 0, server on CPU 1 */
  pin: boolean;
  /** issue 21: prefixes in the deny list and elements in the block set of the ratio variants */
  blockedPrefixes: number;
  log: Log;
}

export interface PacketRun {
  rate: number;
  connections: number;
  failed: number;
  accepted?: number;
  /** busy share (user+system+softirq) of each CPU and the share stolen by the hypervisor, during the run */
  cpu: { busy: number[]; steal: number[] };
  /**
   * CPU time (both CPUs, user+system+irq+softirq, steal excluded) per completed handshake over the
   * whole run, in microseconds. Not affected by steal; inflated by whatever else runs on the machine.
   */
  cpuMicrosPerConnection: number;
}

export interface PacketVariant {
  id: string;
  kind: "none" | "rendered" | "per-rule";
  prefixes: number;
  /** rules in the input chain (after nft loaded it) */
  rules: number;
  /** set elements in the allow set (rendered) */
  setElements: number;
  runs: PacketRun[];
  medianRate: number;
  minRate: number;
  maxRate: number;
  /** median rate / median rate without a firewall */
  ratioToNone: number;
  medianCpuMicrosPerConnection: number;
  /** CPU cost without a firewall / CPU cost with this ruleset: the rate at equal CPU, relative to no firewall */
  cpuRatioToNone: number;
  /** a connect from 198.19.255.200 (outside the list) completed? (must be false with a list) */
  outsiderAdmitted: boolean;
  nftLoadMs: number;
}

/** A variant measured against a baseline in the same rounds (issue 21's ratios: ratioToNone is not paired). */
export interface PacketRatio {
  id: string;
  /** what it measures, e.g. "per-source limit vs the same ruleset without it" */
  what: string;
  variant: string;
  baseline: string;
  /** per round: variant rate / baseline rate (wall clock) */
  rate: RatioSummary;
  /** per round: baseline CPU per connection / variant CPU per connection (steal excluded) */
  cpu: RatioSummary;
}

export interface PacketResult {
  method: Record<string, string | number | boolean>;
  variants: PacketVariant[];
  ratios: PacketRatio[];
}

const PORT = 8080;
const SERVER = "198.19.255.1";
const CLIENT = "198.19.255.2";
const OUTSIDER = "198.19.255.200";
const MAX_CONNECTIONS_PER_RUN = 20_000_000;

/** The allow list of `n` prefixes: n-1 generated ones below the client, then the client itself. */
export function allowList(n: number): string[] {
  if (n === 0) return [];
  return [...prefixes(n - 1), `${CLIENT}/32`];
}

export function renderedRuleset(n: number): string {
  const list = allowList(n);
  const artefacts = render({
    table: "bench",
    exposures: [{ name: "bench", protocol: "tcp", ports: PORT, ...(list.length > 0 ? { sources: list } : {}) }],
  });
  return artefacts.nft;
}

/**
 * The rendered ruleset of `renderedRuleset(0)` plus a per-source limit on the admitted port (a
 * rate no single client reaches: every connection still passes the meter), or plus a deny list of
 * `blocked` prefixes none of which holds the client (issue 21: both at least 95% of without).
 */
export function limitedRuleset(): string {
  return render({
    table: "bench",
    exposures: [
      {
        name: "bench",
        protocol: "tcp",
        ports: PORT,
        limit: { rate: "999999/second", burst: 10000, connections: 65535 },
      },
    ],
  }).nft;
}

/** `n` distinct /30s from 10.0.0.0/8 upwards: never 198.19.255.0/24, where the client is. */
function blockedPrefixList(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `10.${(i >> 14) & 255}.${(i >> 6) & 255}.${(i & 63) << 2}/30`);
}

export function blockedRuleset(blocked: number): string {
  return render({
    table: "bench",
    exposures: [{ name: "bench", protocol: "tcp", ports: PORT }],
    deny: { sources: blockedPrefixList(blocked) },
  }).nft;
}

/** The table with a block set (issue 21: elements written by another tool, e.g. fail2ban, CrowdSec). */
export function blockSetRuleset(): string {
  return render({
    table: "bench",
    exposures: [{ name: "bench", protocol: "tcp", ports: PORT }],
    blockSets: [{ name: "banned", family: "ipv4", timeout: "4h", size: 262_144 }],
  }).nft;
}

/** `add element` lines for the block set: `n` /30s from 10.0.0.0/8 (none holds the client), 10,000 per line. */
export function blockSetElements(n: number): string {
  const list = blockedPrefixList(n);
  const lines: string[] = [];
  for (let i = 0; i < list.length; i += 10_000)
    lines.push(`add element inet bench banned { ${list.slice(i, i + 10_000).join(", ")} }`);
  return `${lines.join("\n")}\n`;
}

export function perRuleRuleset(n: number): string {
  const list = allowList(n);
  const rules =
    list.length === 0
      ? [`\t\ttcp dport ${PORT} accept`]
      : list.map((p) => `\t\tip saddr ${p} tcp dport ${PORT} accept`);
  return [
    "table inet handwritten",
    "delete table inet handwritten",
    "table inet handwritten {",
    "\tchain input {",
    "\t\ttype filter hook input priority filter; policy drop;",
    '\t\tiif "lo" accept',
    "\t\tct state established,related accept",
    ...rules,
    "\t}",
    "}",
    "",
  ].join("\n");
}

/** Namespaces hnftb-<pid>-* whose creating process is gone (a crashed run). */
async function sweepStale(log: Log): Promise<void> {
  let names: string[] = [];
  try {
    names = fs.readdirSync("/run/netns");
  } catch {
    return;
  }
  for (const ns of names) {
    const m = /^hnftb-(\d+)-(srv|cli)$/.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (alive && pid !== process.pid) continue;
    log(`packet: removing stale namespace ${ns}`);
    await exec("ip", ["netns", "del", ns], { timeoutMs: 30_000, allowFail: true });
  }
}

export async function runPacketPath(opts: PacketOptions): Promise<PacketResult> {
  const { log } = opts;
  await sweepStale(log);
  const work = tempDir("hnft-bench-packet-");
  const bin = await compilePacketTools(work);
  const srv = `hnftb-${process.pid}-srv`;
  const cli = `hnftb-${process.pid}-cli`;
  const to = { host: SERVER, port: PORT };

  let server: Background | undefined;
  const remove = (): void => removeNamespaces(server?.pid, [srv, cli]);
  const unregister = onCleanup(remove);
  try {
    const setup = [
      `ip netns add ${srv}`,
      `ip netns add ${cli}`,
      `ip link add eth0 netns ${srv} type veth peer name eth0 netns ${cli}`,
      `ip -n ${srv} addr add ${SERVER}/24 dev eth0`,
      `ip -n ${cli} addr add ${CLIENT}/24 dev eth0`,
      `ip -n ${cli} addr add ${OUTSIDER}/24 dev eth0`,
      ...[srv, cli].flatMap((ns) => [`ip -n ${ns} link set lo up`, `ip -n ${ns} link set eth0 up`]),
      `ip netns exec ${srv} sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535`,
      `ip netns exec ${cli} sysctl -qw net.ipv4.ip_local_port_range="1024 65535"`,
    ];
    await exec("sh", ["-ec", setup.join("\n")], { timeoutMs: 60_000 });
    const pin = (cpu: number): string[] => (opts.pin ? ["taskset", "-c", String(cpu)] : []);
    const limitSeconds = 3600;
    server = background(
      "ip",
      ["netns", "exec", srv, ...pin(1), bin.acceptd, SERVER, String(PORT), String(limitSeconds)],
      (limitSeconds + 10) * 1000,
    );
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      const probe = await nsExec(
        cli,
        connloadArgs(bin.connload, to, { concurrency: 1, warmup: 0, seconds: 0.2, max: 1 }),
        10_000,
      ).catch(() => undefined);
      ready = probe !== undefined && (JSON.parse(probe.stdout) as { total: number }).total === 1;
      if (!ready) await sleep(50);
    }
    if (!ready) throw new Error("packet: the server did not come up");

    // the variants, their rulesets written once
    const specs: { id: string; kind: PacketVariant["kind"]; prefixes: number; file?: string; elements?: string }[] = [
      { id: "none", kind: "none", prefixes: 0 },
    ];
    for (const kind of ["rendered", "per-rule"] as const) {
      for (const n of opts.sizes) {
        const file = path.join(work, `${kind}-${n}.nft`);
        fs.writeFileSync(file, kind === "rendered" ? renderedRuleset(n) : perRuleRuleset(n));
        specs.push({ id: `${kind}-${n}`, kind, prefixes: n, file });
      }
    }
    // issue 21: the per-source limit, the deny list and the block set, each beside rendered-0 (the same table without it)
    const blocked = opts.blockedPrefixes;
    for (const [id, text, elements] of [
      ["limit", limitedRuleset(), undefined],
      [`deny-${blocked}`, blockedRuleset(blocked), undefined],
      [`blockset-${blocked}`, blockSetRuleset(), blockSetElements(blocked)],
    ] as const) {
      const file = path.join(work, `${id}.nft`);
      fs.writeFileSync(file, text);
      const spec: (typeof specs)[number] = { id, kind: "rendered", prefixes: 0, file };
      if (elements) {
        spec.elements = path.join(work, `${id}.elements.nft`);
        fs.writeFileSync(spec.elements, elements);
      }
      specs.push(spec);
    }
    const variants = new Map<string, PacketVariant>();
    const hasConntrackTool =
      (await exec("sh", ["-c", "command -v conntrack"], { timeoutMs: 5000, allowFail: true })).code === 0;

    const load = async (spec: (typeof specs)[number]): Promise<number> => {
      await nsExec(srv, ["nft", "flush", "ruleset"]);
      if (hasConntrackTool) await nsExec(srv, ["conntrack", "-F"], 30_000).catch(() => undefined);
      if (!spec.file) return 0;
      const started = performance.now();
      await nsExec(srv, ["nft", "-f", spec.file], 120_000);
      const loaded = performance.now() - started;
      if (spec.elements) await nsExec(srv, ["nft", "-f", spec.elements], 300_000);
      return loaded;
    };

    // verify every variant once: loads, counts, admits the client, refuses the outsider
    for (const spec of specs) {
      const loadMs = await load(spec);
      const listing = spec.file ? (await nsExec(srv, ["nft", "list", "ruleset"], 60_000)).stdout : "";
      const inputChain = /chain input \{([\s\S]*?)\n\t\}/.exec(listing)?.[1] ?? "";
      const rules = inputChain.split("\n").filter((l) => /\S/.test(l) && !/^\s*type filter hook/.test(l)).length;
      const setElements =
        spec.kind === "rendered" && spec.prefixes > 0
          ? (/elements = \{([\s\S]*?)\}/.exec(listing)?.[1] ?? "").split(",").filter((e) => /\S/.test(e)).length
          : 0;
      const once = async (from: string) =>
        JSON.parse(
          (
            await nsExec(
              cli,
              connloadArgs(bin.connload, to, { concurrency: 1, warmup: 0, seconds: 0.3, max: 1, from }),
              10_000,
            )
          ).stdout,
        ) as { total: number };
      const inside = await once(CLIENT);
      const outside = await once(OUTSIDER);
      if (inside.total !== 1)
        throw new Error(`packet: ${spec.id}: the client could not connect through its own allow list`);
      if (spec.prefixes > 0 && outside.total !== 0)
        throw new Error(`packet: ${spec.id}: a source outside the allow list got through`);
      if (spec.elements) {
        const held = (
          await exec(
            "sh",
            ["-c", `ip netns exec ${srv} nft list set inet bench banned | grep -o '10\\.[0-9.]*/30' | wc -l`],
            {
              timeoutMs: 120_000,
            },
          )
        ).stdout.trim();
        if (Number(held) !== opts.blockedPrefixes)
          throw new Error(`packet: ${spec.id}: the block set holds ${held} elements, expected ${opts.blockedPrefixes}`);
      }
      if (spec.kind === "rendered" && spec.prefixes > 0 && setElements !== spec.prefixes)
        throw new Error(`packet: ${spec.id}: the set holds ${setElements} elements, expected ${spec.prefixes}`);
      log(
        `packet: ${spec.id}: loaded in ${round(loadMs, 0)} ms, ${rules} input rules${setElements ? `, ${setElements} set elements` : ""}`,
      );
      variants.set(spec.id, {
        id: spec.id,
        kind: spec.kind,
        prefixes: spec.prefixes,
        rules,
        setElements,
        runs: [],
        medianRate: 0,
        minRate: 0,
        maxRate: 0,
        ratioToNone: 0,
        medianCpuMicrosPerConnection: 0,
        cpuRatioToNone: 0,
        outsiderAdmitted: outside.total !== 0,
        nftLoadMs: round(loadMs, 1),
      });
    }

    // every variant once per round; the order reverses every other round (A B C .. C B A), so that a
    // slow or fast period of the shared machine falls on every variant alike and paired ratios
    // (variant over its baseline in the same round) see no order bias. Each paired variant runs
    // next to its baseline (rendered-0 between limit and the deny list, the block set one further;
    // the largest allow list next to no firewall), so the pair shares the machine's moment.
    const adjacent = [
      ...specs.filter((x) => x.kind === "per-rule"),
      ...specs.filter((x) => x.kind === "rendered" && /^rendered-/.test(x.id) && x.id !== "rendered-0"),
      ...specs.filter((x) => x.kind === "none"),
      ...specs.filter((x) => x.id === "limit"),
      ...specs.filter((x) => x.id === "rendered-0"),
      ...specs.filter((x) => x.id.startsWith("deny-")),
      ...specs.filter((x) => x.id.startsWith("blockset-")),
    ];
    if (adjacent.length !== specs.length) throw new Error("packet: the round order lost a variant");
    for (let r = 1; r <= opts.rounds; r++) {
      for (const spec of r % 2 === 1 ? adjacent : [...adjacent].reverse()) {
        await load(spec);
        await sleep(200);
        const before = cpuTimes();
        const res = await nsExec(
          cli,
          [
            ...pin(0),
            ...connloadArgs(bin.connload, to, {
              concurrency: opts.concurrency,
              warmup: opts.warmupSeconds,
              seconds: opts.durationSeconds,
              max: MAX_CONNECTIONS_PER_RUN,
            }),
          ],
          (opts.warmupSeconds + opts.durationSeconds + 30) * 1000,
        );
        const used = cpuBetween(before, cpuTimes());
        const out = JSON.parse(res.stdout) as { rate: number; connections: number; failed: number; total: number };
        const cpu = { busy: used.busy, steal: used.steal };
        const cpuMicrosPerConnection = round((used.busySeconds * 1e6) / Math.max(1, out.total), 2);
        variants.get(spec.id)!.runs.push({
          rate: round(out.rate, 0),
          connections: out.connections,
          failed: out.failed,
          cpu,
          cpuMicrosPerConnection,
        });
        log(
          `packet: round ${r}/${opts.rounds} ${spec.id}: ${round(out.rate, 0)} conn/s, ${cpuMicrosPerConnection} CPU us/conn (cpu busy ${cpu.busy.join("/")}, steal ${cpu.steal.join("/")})`,
        );
      }
    }
    await nsExec(srv, ["nft", "flush", "ruleset"]);
    const stopped = await server.stop();
    const accepted = Number(/"accepted":(\d+)/.exec(stopped.stdout)?.[1] ?? NaN);

    const none = median(variants.get("none")!.runs.map((x) => x.rate));
    const noneCpu = median(variants.get("none")!.runs.map((x) => x.cpuMicrosPerConnection));
    for (const v of variants.values()) {
      const rates = v.runs.map((x) => x.rate);
      v.medianRate = round(median(rates), 0);
      v.minRate = Math.min(...rates);
      v.maxRate = Math.max(...rates);
      v.ratioToNone = round(v.medianRate / none, 3);
      v.medianCpuMicrosPerConnection = round(median(v.runs.map((x) => x.cpuMicrosPerConnection)), 2);
      v.cpuRatioToNone = round(noneCpu / v.medianCpuMicrosPerConnection, 3);
    }
    const paired = (id: string, what: string, variant: string, baseline: string): PacketRatio | undefined => {
      const v = variants.get(variant);
      const b = variants.get(baseline);
      if (!v || !b) return undefined;
      return {
        id,
        what,
        variant,
        baseline,
        rate: ratioSummary(v.runs.map((x, i) => x.rate / b.runs[i]!.rate)),
        cpu: ratioSummary(v.runs.map((x, i) => b.runs[i]!.cpuMicrosPerConnection / x.cpuMicrosPerConnection)),
      };
    };
    const largest = Math.max(...opts.sizes);
    const ratios = [
      paired(
        `prefixes-${largest}`,
        `rendered ruleset with ${largest} prefixes vs no firewall`,
        `rendered-${largest}`,
        "none",
      ),
      paired("limit", "per-source limit on the admitted port vs the same ruleset without it", "limit", "rendered-0"),
      paired(
        "deny",
        `deny list of ${blocked} prefixes vs the same ruleset without it`,
        `deny-${blocked}`,
        "rendered-0",
      ),
      paired(
        "blockset",
        `block set holding ${blocked} elements vs the same ruleset without it`,
        `blockset-${blocked}`,
        "rendered-0",
      ),
    ].filter((x): x is PacketRatio => x !== undefined);
    for (const x of ratios)
      log(
        `packet: ${x.id}: ${x.variant}/${x.baseline} median of ${x.rate.n} paired rounds ${x.rate.median} (${Math.round(x.rate.confidence * 100)}% CI ${x.rate.low}-${x.rate.high}), by CPU time ${x.cpu.median} (${x.cpu.low}-${x.cpu.high})`,
      );
    return {
      ratios,
      method: {
        server: "acceptd (C, one blocking accept4()+close() loop)",
        client: `connload (C, epoll, ${opts.concurrency} connects in flight, each completed handshake counted then closed with RST)`,
        concurrency: opts.concurrency,
        warmupSeconds: opts.warmupSeconds,
        durationSeconds: opts.durationSeconds,
        rounds: opts.rounds,
        order:
          "every variant once per round, the order reversed every other round; paired ratios = variant / baseline within a round, median over rounds with a distribution-free confidence interval of the median (binomial order statistics)",
        blockedPrefixes: blocked,
        pinned: opts.pin ? "client taskset CPU 0, server taskset CPU 1" : "not pinned",
        serverAccepted: accepted,
        topology:
          "two network namespaces joined by one veth pair; server 198.19.255.1, client 198.19.255.2 (+198.19.255.200 outside the list)",
      },
      variants: [...variants.values()],
    };
  } finally {
    if (server) await server.stop().catch(() => undefined);
    remove();
    unregister();
  }
}
