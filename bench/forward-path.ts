/**
 * Forward path (issue 20): the rate of new TCP connections to a published port, a container's
 * port DNATed by the host as Docker does it, through
 *   (a) the runtime's DNAT alone (no table of ours),
 *   (b) the same DNAT plus the table this project renders with forward.guestInterfaces and an
 *       exposure of the published port whose sources are 10,000 prefixes (one interval-set lookup
 *       in the forward chain, `ct original proto-dst`).
 *
 * Three namespaces, two veth pairs, nothing else:
 *   hnftf-<pid>-cli  198.19.250.2 connload (+198.19.250.200, a source outside the list)
 *   hnftf-<pid>-rtr  198.19.250.1 | guest0 198.19.251.1: `table ip dockerlike` DNATs tcp/8080 to
 *                    198.19.251.2:80, forwarding on, and the ruleset under test
 *   hnftf-<pid>-srv  198.19.251.2 acceptd on port 80 (the "container")
 * The client's address is the last element of the allow list. Both variants run once per round,
 * their order alternating (A B, B A, ...); the ratio is the median of the per-round ratios with a
 * confidence interval of that median, by wall clock (connections per second) and by CPU time per
 * connection (both CPUs, hypervisor steal excluded). The client runs on CPU 0 and the "container"
 * on CPU 1: on veth pairs the router's and the server's netfilter hooks run in the softirq of the
 * sending CPU, so the firewall's cost lands on the client's CPU, the one that limits the rate.
 * Part of `npm run bench` (`--only forward`); alone: `sudo npx tsx bench/forward-path.ts [rounds] [seconds]`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { render } from "../src/render";
import {
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
  runCleanups,
  sleep,
  tempDir,
} from "./util";

const CLIENT = "198.19.250.2";
const OUTSIDER = "198.19.250.200";
const HOST = "198.19.250.1";
const GUEST = "198.19.251.2";
const PUBLISHED = 8080;

const DNAT = [
  "table ip dockerlike {",
  "\tchain prerouting {",
  "\t\ttype nat hook prerouting priority dstnat; policy accept;",
  `\t\tiifname != "guest0" tcp dport ${PUBLISHED} dnat to ${GUEST}:80`,
  "\t}",
  "\tchain postrouting {",
  "\t\ttype nat hook postrouting priority srcnat; policy accept;",
  "\t}",
  "}",
  "",
].join("\n");

export interface ForwardOptions {
  rounds: number;
  /** measured seconds per run (after 1 s of warm-up) */
  seconds: number;
  /** source prefixes in the published port's exposure (the client's address the last) */
  sources: number;
  concurrency: number;
  log: Log;
}

export interface ForwardRun {
  rate: number;
  /** CPU time (both CPUs, steal excluded) per completed handshake, microseconds */
  cpuMicrosPerConnection: number;
  cpu: { busy: number[]; steal: number[] };
}

export interface ForwardResult {
  method: Record<string, string | number>;
  sources: number;
  runs: { "dnat-only": ForwardRun[]; ours: ForwardRun[] };
  medianDnatOnly: number;
  medianOurs: number;
  minMax: { "dnat-only": [number, number]; ours: [number, number] };
  /** per round: ours / dnat-only rate */
  ratio: RatioSummary;
  /** per round: dnat-only CPU per connection / ours */
  cpuRatio: RatioSummary;
}

export function forwardRuleset(sources: number): string {
  return render({
    table: "bench",
    exposures: [
      { service: "ssh" },
      { name: "app", protocol: "tcp", ports: PUBLISHED, sources: [...prefixes(sources - 1), `${CLIENT}/32`] },
    ],
    forward: { policy: "drop", guestInterfaces: ["guest0"] },
  }).nft;
}

export async function runForwardPath(opts: ForwardOptions): Promise<ForwardResult> {
  const { rounds, seconds, log } = opts;
  const work = tempDir("hnft-bench-forward-");
  const bin = await compilePacketTools(work);
  const ns = { cli: `hnftf-${process.pid}-cli`, rtr: `hnftf-${process.pid}-rtr`, srv: `hnftf-${process.pid}-srv` };
  const server = { pid: undefined as number | undefined, stop: undefined as undefined | (() => Promise<unknown>) };
  const remove = (): void => removeNamespaces(server.pid, Object.values(ns));
  const unregister = onCleanup(remove);
  try {
    const setup = [
      ...Object.values(ns).map((n) => `ip netns add ${n}`),
      `ip link add eth0 netns ${ns.cli} type veth peer name eth0 netns ${ns.rtr}`,
      `ip link add guest0 netns ${ns.rtr} type veth peer name eth0 netns ${ns.srv}`,
      `ip -n ${ns.cli} addr add ${CLIENT}/24 dev eth0`,
      `ip -n ${ns.cli} addr add ${OUTSIDER}/24 dev eth0`,
      `ip -n ${ns.rtr} addr add ${HOST}/24 dev eth0`,
      `ip -n ${ns.rtr} addr add 198.19.251.1/24 dev guest0`,
      `ip -n ${ns.srv} addr add ${GUEST}/24 dev eth0`,
      ...Object.values(ns).flatMap((n) => [`ip -n ${n} link set lo up`, `ip -n ${n} link set eth0 up`]),
      `ip -n ${ns.rtr} link set guest0 up`,
      `ip -n ${ns.srv} route add default via 198.19.251.1`,
      `ip netns exec ${ns.rtr} sysctl -qw net.ipv4.ip_forward=1`,
      `ip netns exec ${ns.srv} sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535`,
      `ip netns exec ${ns.cli} sysctl -qw net.ipv4.ip_local_port_range="1024 65535"`,
    ];
    await exec("sh", ["-ec", setup.join("\n")], { timeoutMs: 60_000 });
    const srv = background(
      "ip",
      ["netns", "exec", ns.srv, "taskset", "-c", "1", bin.acceptd, GUEST, "80", "3600"],
      3_610_000,
    );
    server.pid = srv.pid;
    server.stop = () => srv.stop();
    const files = { dnat: path.join(work, "dnat.nft"), ours: path.join(work, "ours.nft") };
    fs.writeFileSync(files.dnat, DNAT);
    fs.writeFileSync(files.ours, forwardRuleset(opts.sources));
    const connect = async (from: string, s: number, concurrency = 1) =>
      JSON.parse(
        (
          await nsExec(
            ns.cli,
            [
              "taskset",
              "-c",
              "0",
              ...connloadArgs(
                bin.connload,
                { host: HOST, port: PUBLISHED },
                { concurrency, warmup: s > 1 ? 1 : 0, seconds: s, max: 20_000_000, from },
              ),
            ],
            (s + 30) * 1000,
          )
        ).stdout,
      ) as { rate: number; total: number };
    const load = async (variant: "dnat-only" | "ours"): Promise<void> => {
      await nsExec(ns.rtr, ["nft", "flush", "ruleset"]);
      await nsExec(ns.rtr, ["conntrack", "-F"]).catch(() => undefined);
      await nsExec(ns.rtr, ["nft", "-f", files.dnat]);
      if (variant === "ours") await nsExec(ns.rtr, ["nft", "-f", files.ours], 120_000);
    };
    // the published port exists once the DNAT is loaded; wait for the container's server behind it
    await load("dnat-only");
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      ready = (await connect(CLIENT, 0.2).catch(() => ({ total: 0 }))).total >= 1;
      if (!ready) await sleep(50);
    }
    if (!ready) throw new Error("forward: the container's server did not answer through the DNAT");
    const runs: ForwardResult["runs"] = { "dnat-only": [], ours: [] };
    await load("ours");
    const admitted = (await connect(CLIENT, 0.3)).total >= 1;
    const outsider = (await connect(OUTSIDER, 0.3)).total;
    if (!admitted || outsider !== 0) throw new Error(`forward: client admitted ${admitted}, outsider ${outsider}`);
    await load("dnat-only");
    if ((await connect(OUTSIDER, 0.3)).total < 1)
      throw new Error("forward: without our table the outsider should reach the published port (the DNAT alone)");
    log(`forward: ${opts.sources} sources: the client gets through, a source outside the list does not`);
    for (let r = 1; r <= rounds; r++) {
      for (const v of r % 2 === 1 ? (["dnat-only", "ours"] as const) : (["ours", "dnat-only"] as const)) {
        await load(v);
        await sleep(200);
        const before = cpuTimes();
        const out = await connect(CLIENT, seconds, opts.concurrency);
        const used = cpuBetween(before, cpuTimes());
        const run: ForwardRun = {
          rate: round(out.rate, 0),
          cpuMicrosPerConnection: round((used.busySeconds * 1e6) / Math.max(1, out.total), 2),
          cpu: { busy: used.busy, steal: used.steal },
        };
        runs[v].push(run);
        log(
          `forward: round ${r}/${rounds} ${v}: ${run.rate} conn/s, ${run.cpuMicrosPerConnection} CPU us/conn (busy ${run.cpu.busy.join("/")}, steal ${run.cpu.steal.join("/")})`,
        );
      }
    }
    const rates = (v: "dnat-only" | "ours") => runs[v].map((x) => x.rate);
    const ratio = ratioSummary(runs.ours.map((x, i) => x.rate / runs["dnat-only"][i]!.rate));
    const cpuRatio = ratioSummary(
      runs.ours.map((x, i) => runs["dnat-only"][i]!.cpuMicrosPerConnection / x.cpuMicrosPerConnection),
    );
    log(
      `forward: ours / DNAT alone, median of ${ratio.n} paired rounds ${ratio.median} (${Math.round(ratio.confidence * 100)}% CI ${ratio.low}-${ratio.high}), by CPU time ${cpuRatio.median} (${cpuRatio.low}-${cpuRatio.high})`,
    );
    return {
      method: {
        topology:
          "three namespaces: client 198.19.250.2 (+198.19.250.200 outside the list) -> router (table ip dockerlike: DNAT tcp/8080 to 198.19.251.2:80, forwarding on) -> guest0 -> container 198.19.251.2 (acceptd on port 80)",
        ours: `the DNAT plus the rendered table with forward.policy drop, forward.guestInterfaces [guest0] and an exposure of tcp/8080 whose sources are ${opts.sources} prefixes (the client last)`,
        load: `connload, ${opts.concurrency} connects in flight, 1 s warm-up then ${seconds} s measured, client on CPU 0, container on CPU 1`,
        order: `${rounds} rounds, both variants once per round, the order alternating; ratio = median of the per-round ratios with a distribution-free confidence interval of the median`,
        cpu: "CPU time per connection: busy jiffies of both CPUs (user, system, irq, softirq; steal excluded) over the run / completed handshakes",
      },
      sources: opts.sources,
      runs,
      medianDnatOnly: median(rates("dnat-only")),
      medianOurs: median(rates("ours")),
      minMax: {
        "dnat-only": [Math.min(...rates("dnat-only")), Math.max(...rates("dnat-only"))],
        ours: [Math.min(...rates("ours")), Math.max(...rates("ours"))],
      },
      ratio,
      cpuRatio,
    };
  } finally {
    if (server.stop) await server.stop().catch(() => undefined);
    remove();
    unregister();
  }
}

if (require.main === module) {
  const [rounds = "12", seconds = "2"] = process.argv.slice(2);
  runForwardPath({
    rounds: Number(rounds),
    seconds: Number(seconds),
    sources: 10_000,
    concurrency: 64,
    log: (line) => console.error(line),
  }).then(
    (r) => {
      console.log(JSON.stringify(r, null, 2));
      runCleanups();
    },
    (e: unknown) => {
      console.error(e);
      runCleanups();
      process.exit(1);
    },
  );
}
