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
 * The client's address is the last element of the allow list. Runs are interleaved and the
 * median is reported. `npx tsx bench/forward-path.ts [rounds] [seconds]` (root).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { render } from "../src/render";
import { background, exec, killGroup, median, onCleanup, prefixes, round, runCleanups, sleep, tempDir } from "./util";

const CLIENT = "198.19.250.2";
const OUTSIDER = "198.19.250.200";
const HOST = "198.19.250.1";
const GUEST = "198.19.251.2";
const PUBLISHED = 8080;
const SOURCES = 10_000;

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

export function forwardRuleset(): string {
  return render({
    table: "bench",
    exposures: [
      { service: "ssh" },
      { name: "app", protocol: "tcp", ports: PUBLISHED, sources: [...prefixes(SOURCES - 1), `${CLIENT}/32`] },
    ],
    forward: { policy: "drop", guestInterfaces: ["guest0"] },
  }).nft;
}

export async function runForwardPath(rounds: number, seconds: number): Promise<Record<string, unknown>> {
  const work = tempDir("hnft-bench-forward-");
  const bin = { acceptd: path.join(work, "acceptd"), connload: path.join(work, "connload") };
  for (const name of ["acceptd", "connload"] as const)
    await exec("cc", ["-O2", "-Wall", "-o", bin[name], path.join(__dirname, "packet", `${name}.c`)], {
      timeoutMs: 60_000,
    });
  const ns = { cli: `hnftf-${process.pid}-cli`, rtr: `hnftf-${process.pid}-rtr`, srv: `hnftf-${process.pid}-srv` };
  const inNs = (n: string, args: string[], timeoutMs = 60_000) =>
    exec("ip", ["netns", "exec", n, ...args], { timeoutMs });
  const server = { pid: undefined as number | undefined, stop: undefined as undefined | (() => Promise<unknown>) };
  const remove = (): void => {
    killGroup(server.pid, "SIGKILL");
    for (const n of Object.values(ns)) spawnSync("ip", ["netns", "del", n], { stdio: "ignore", timeout: 30_000 });
  };
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
    const srv = background("ip", ["netns", "exec", ns.srv, bin.acceptd, GUEST, "80", "3600"], 3_610_000);
    server.pid = srv.pid;
    server.stop = () => srv.stop();
    const files = { dnat: path.join(work, "dnat.nft"), ours: path.join(work, "ours.nft") };
    fs.writeFileSync(files.dnat, DNAT);
    fs.writeFileSync(files.ours, forwardRuleset());
    const connect = async (from: string, s: number, concurrency = 1) =>
      JSON.parse(
        (
          await inNs(
            ns.cli,
            [
              bin.connload,
              HOST,
              String(PUBLISHED),
              String(concurrency),
              s > 1 ? "1" : "0",
              String(s),
              "20000000",
              from,
            ],
            (s + 30) * 1000,
          )
        ).stdout,
      ) as { rate: number; total: number };
    const load = async (variant: "dnat-only" | "ours"): Promise<void> => {
      await inNs(ns.rtr, ["nft", "flush", "ruleset"]);
      await inNs(ns.rtr, ["conntrack", "-F"]).catch(() => undefined);
      await inNs(ns.rtr, ["nft", "-f", files.dnat]);
      if (variant === "ours") await inNs(ns.rtr, ["nft", "-f", files.ours], 120_000);
    };
    for (let i = 0; i < 100; i++) {
      if ((await connect(CLIENT, 0.2).catch(() => ({ total: 0 }))).total >= 1) break;
      await sleep(50);
    }
    const runs: Record<string, number[]> = { "dnat-only": [], ours: [] };
    await load("ours");
    const admitted = (await connect(CLIENT, 0.3)).total >= 1;
    const outsider = (await connect(OUTSIDER, 0.3)).total;
    if (!admitted || outsider !== 0) throw new Error(`forward: client admitted ${admitted}, outsider ${outsider}`);
    for (let r = 0; r < rounds; r++) {
      for (const v of ["dnat-only", "ours"] as const) {
        await load(v);
        await sleep(200);
        runs[v]!.push(round((await connect(CLIENT, seconds, 64)).rate, 0));
      }
    }
    const none = median(runs["dnat-only"]!);
    const ours = median(runs.ours!);
    return {
      sources: SOURCES,
      rounds,
      seconds,
      runs,
      medianDnatOnly: none,
      medianOurs: ours,
      ratio: round(ours / none, 3),
    };
  } finally {
    if (server.stop) await server.stop().catch(() => undefined);
    remove();
    unregister();
  }
}

if (require.main === module) {
  const [rounds = "3", seconds = "5"] = process.argv.slice(2);
  runForwardPath(Number(rounds), Number(seconds)).then(
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
