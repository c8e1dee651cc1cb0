/**
 * Proof (issue 21): CrowdSec's real firewall bouncer (Debian's crowdsec-firewall-bouncer, nftables
 * mode, set-only: crowdsecurity/cs-firewall-bouncer#74) feeding the block sets of the RENDERED
 * table APPLIED THROUGH THE HOST API, with decisions from a real CrowdSec local API (Debian's
 * crowdsec, `crowdsec -no-cs -no-capi`: the local API alone, no central API).
 *
 * Both daemons run only inside the lab server's network namespace (the LAPI listens on that
 * namespace's loopback; the bouncer's netlink socket writes that namespace's nftables), with their
 * own configuration, data, database, log and pid paths under the lab host's directory: never the
 * machine's own namespace, files or database. The bouncer is told the policy's table and sets
 * (`nftables.ipv4.set-only: true`, `table: <our table>`, `blacklists_ipv4: crowdsec-v4`, and the
 * same for IPv6): it only adds and deletes elements, never a table, chain or rule.
 *
 * What is proved: `cscli decisions add --ip <attacker>` (v4 and v6) lands in our sets through the
 * bouncer; the attacker's packets are dropped while the client connects; a policy change applied
 * through the host API keeps both elements (and the bouncer keeps writing into the re-created
 * table: a second decision after the apply lands too); `cscli decisions delete` removes them and
 * the attacker reaches sshd again; observe reports the table in sync throughout.
 * Negative controls: before any decision the attacker reaches sshd (the set, not something else,
 * drops it); with the block sets left as sets of prefixes (the default, flags interval) the
 * bouncer's ban becomes a range from the address to the end of the address space: why the
 * policy's sets say `prefixes: false`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type Ban,
  expectApplyKeepsBans,
  expectBanned,
  expectInSync,
  expectSetCounted,
  setListing as listSet,
  until as poll,
  reachSshd,
} from "../support/ban-proof";
import { requireRoot } from "../support/privileges";
import {
  afterEachProof,
  applyToServer,
  createProofLab,
  destroyProofLab,
  PROOF_TABLE,
  type ProofLab,
  type ProofPolicy,
} from "../support/proof";

/** The LAPI's port on the lab server's own loopback (nothing else listens there). */
const LAPI_PORT = 18080;

describe.runIf(
  requireRoot("proof crowdsec", ["ip", "nft", "sshd", "bash", "crowdsec", "cscli", "crowdsec-firewall-bouncer"]),
)("proof: CrowdSec's firewall bouncer feeds block sets", () => {
  let p: ProofLab;
  let dir: string;
  const blockSets = [
    { name: "crowdsec-v4", family: "ipv4", timeout: "4h", comment: "crowdsec bouncer", prefixes: false },
    { name: "crowdsec-v6", family: "ipv6", timeout: "4h", comment: "crowdsec bouncer", prefixes: false },
  ];
  const policy = (): ProofPolicy => ({ exposures: [{ service: "ssh" }], blockSets });
  const changed = (): ProofPolicy => ({ exposures: [{ service: "ssh" }, { service: "https" }], blockSets });

  beforeAll(async () => {
    p = await createProofLab("proof-crowdsec");
    dir = join(p.server.dir, "crowdsec");
    mkdirSync(join(dir, "data"), { recursive: true });
    mkdirSync(join(dir, "log"), { recursive: true });
    // the machine's config.yaml with every path the daemon writes moved to the lab host's directory;
    // the hub (parsers, scenarios) is Debian's read-only offline copy, unused with -no-cs
    writeFileSync(
      join(dir, "config.yaml"),
      [
        "common:",
        "  daemonize: false",
        "  log_media: file",
        "  log_level: info",
        `  log_dir: ${dir}/log/`,
        `  working_dir: ${dir}`,
        "config_paths:",
        `  config_dir: ${dir}/`,
        `  data_dir: ${dir}/data/`,
        "  simulation_path: /etc/crowdsec/simulation.yaml",
        "  hub_dir: /var/lib/crowdsec/hub/",
        "  index_path: /var/lib/crowdsec/hub/.index.json",
        `  notification_dir: ${dir}/notifications/`,
        "  plugin_dir: /usr/lib/crowdsec/plugins/",
        "crowdsec_service:",
        `  acquisition_path: ${dir}/acquis.yaml`,
        "cscli:",
        "  output: human",
        "  color: never",
        "db_config:",
        "  log_level: info",
        "  type: sqlite",
        `  db_path: ${dir}/data/crowdsec.db`,
        "  use_wal: false",
        "api:",
        "  client:",
        `    credentials_path: ${dir}/local_api_credentials.yaml`,
        "  server:",
        "    log_level: info",
        `    listen_uri: 127.0.0.1:${LAPI_PORT}`,
        "    profiles_path: /etc/crowdsec/profiles.yaml",
        `    console_path: ${dir}/console.yaml`,
        "    trusted_ips: [127.0.0.1, '::1']",
        "prometheus:",
        "  enabled: false",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "local_api_credentials.yaml"), "");
    await cscli(`machines add -a -f ${dir}/local_api_credentials.yaml`);
    const key = (await cscli("bouncers add hnft-proof -o raw")).stdout.trim();
    expect(key).toMatch(/^[0-9a-f]{16,}$/);
    writeFileSync(
      join(dir, "bouncer.yaml"),
      [
        "mode: nftables",
        `pid_dir: ${dir}/`,
        "update_frequency: 1s",
        "daemonize: false",
        "log_mode: file",
        `log_dir: ${dir}/log/`,
        "log_level: info",
        `api_url: http://127.0.0.1:${LAPI_PORT}/`,
        `api_key: ${key}`,
        "disable_ipv6: false",
        "deny_action: DROP",
        "deny_log: false",
        "supported_decisions_types: [ban]",
        "blacklists_ipv4: crowdsec-v4",
        "blacklists_ipv6: crowdsec-v6",
        "nftables:",
        "  ipv4:",
        "    enabled: true",
        "    set-only: true",
        `    table: ${PROOF_TABLE}`,
        "    chain: input",
        "  ipv6:",
        "    enabled: true",
        "    set-only: true",
        `    table: ${PROOF_TABLE}`,
        "    chain: input",
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
  }, 120_000);
  afterEach(async () => afterEachProof(p));
  afterAll(async () => destroyProofLab(p, "proof-crowdsec"));

  async function cscli(args: string) {
    const r = await p.server.sh(`cd ${dir} && cscli -c ${dir}/config.yaml --error ${args}`, { allowFail: true });
    if (r.code !== 0) throw new Error(`cscli ${args}: ${r.stderr || r.stdout}`);
    return r;
  }
  const setListing = (name: string) => listSet(p, name);
  const reach = (from: "client" | "attacker", family: "ipv4" | "ipv6" = "ipv4") => reachSshd(p, from, family);
  /** Waits as ban-proof's until does; on a timeout the daemons' last log lines follow the message. */
  const until = (what: string, check: () => Promise<boolean>, ms = 20_000) =>
    poll(what, check, ms, async () => (await p.server.sh(`tail -n 20 ${dir}/log/*.log`, { allowFail: true })).stdout);
  const bans: Ban[] = [
    { set: "crowdsec-v4", family: "ipv4" },
    { set: "crowdsec-v6", family: "ipv6" },
  ];

  it("a decision lands in our sets through the bouncer and drops the attacker; an apply keeps it; delete lets it in; never drift", async () => {
    expect((await applyToServer(p, policy())).changed).toBe(true);
    const daemons = await startDaemons();
    try {
      // negative control: before any decision the attacker reaches sshd on v4 and v6
      expect(await reach("attacker")).toBe("SSH-2.0");
      expect(await reach("attacker", "ipv6")).toBe("SSH-2.0");
      p.controls.push({
        test: "crowdsec",
        change: "no decision (empty sets)",
        observed: "the attacker reaches sshd on v4 and v6",
      });

      await cscli(`decisions add --ip ${p.attacker.ipv4} --duration 1h --reason hnft-proof`);
      await cscli(`decisions add --ip ${p.attacker.ipv6} --duration 1h --reason hnft-proof`);
      await until("the attacker in crowdsec-v4", async () =>
        (await setListing("crowdsec-v4")).includes(p.attacker.ipv4),
      );
      await until("the attacker in crowdsec-v6", async () =>
        (await setListing("crowdsec-v6")).includes(p.attacker.ipv6),
      );
      await expectBanned(p, ["ipv4", "ipv6"], policy());

      // a policy change applied over SSH: both elements stay and still drop
      await expectApplyKeepsBans(p, changed(), bans);
      // the bouncer keeps writing into the re-created table: a decision made after the apply lands
      await cscli(`decisions add --ip ${p.client.ipv4} --duration 1h --reason hnft-proof`);
      await until("the client in crowdsec-v4", async () => (await setListing("crowdsec-v4")).includes(p.client.ipv4));
      expect(await reach("client")).toBe("");
      await cscli(`decisions delete --ip ${p.client.ipv4}`);
      await until(
        "the client out of crowdsec-v4",
        async () => !(await setListing("crowdsec-v4")).includes(p.client.ipv4),
      );
      expect(await reach("client")).toBe("SSH-2.0");
      await expectSetCounted(p, "crowdsec-v4");

      // delete the decisions: the elements go, the attacker reaches sshd again
      await cscli(`decisions delete --ip ${p.attacker.ipv4}`);
      await cscli(`decisions delete --ip ${p.attacker.ipv6}`);
      await until(
        "the attacker out of crowdsec-v4",
        async () => !(await setListing("crowdsec-v4")).includes(p.attacker.ipv4),
      );
      await until(
        "the attacker out of crowdsec-v6",
        async () => !(await setListing("crowdsec-v6")).includes(p.attacker.ipv6),
      );
      expect(await reach("attacker")).toBe("SSH-2.0");
      expect(await reach("attacker", "ipv6")).toBe("SSH-2.0");
      await expectInSync(p, changed());
      // the bouncer never made a table, chain or rule of its own
      expect((await p.server.sh("nft list tables")).stdout.trim().split("\n")).toEqual([`table inet ${PROOF_TABLE}`]);
      console.info(
        `proof-crowdsec: bouncer log:\n${(await p.server.sh(`grep -E "decision|error" ${dir}/log/crowdsec-firewall-bouncer.log || true`)).stdout}`,
      );
    } finally {
      await daemons.stop();
    }
  }, 120_000);

  it("negative control: into a set of prefixes (the default) the bouncer writes a range to the end of the address space", async () => {
    const prefixes = blockSets.map(({ prefixes: _single, ...b }) => b);
    expect((await applyToServer(p, { exposures: [{ service: "ssh" }], blockSets: prefixes })).changed).toBe(true);
    const daemons = await startDaemons();
    try {
      await cscli(`decisions add --ip ${p.attacker.ipv4} --duration 1h --reason hnft-proof`);
      await until("an element in crowdsec-v4", async () => /elements = /.test(await setListing("crowdsec-v4")));
      const listed = await setListing("crowdsec-v4");
      console.info(`proof-crowdsec: the bouncer's element in an interval set:\n${listed}`);
      expect(listed).toContain(`${p.attacker.ipv4}-255.255.255.255`);
      p.controls.push({
        test: "crowdsec prefixes",
        change: "block sets of prefixes (flags interval,timeout, the default) instead of prefixes: false",
        observed: `the bouncer's ban of ${p.attacker.ipv4} became the range ${p.attacker.ipv4}-255.255.255.255`,
      });
      await cscli(`decisions delete --ip ${p.attacker.ipv4}`);
    } finally {
      await daemons.stop();
    }
  }, 120_000);

  /** The LAPI, then the bouncer, in the server's namespace; resolves once the bouncer's first pull was answered. */
  async function startDaemons(): Promise<{ stop(): Promise<void> }> {
    await p.server.sh(`rm -f ${dir}/log/*`);
    const log = (name: string) => p.server.sh(`cat ${dir}/log/${name}`, { allowFail: true }).then((r) => r.stdout);
    const lapi = p.server.spawn(`cd ${dir} && exec crowdsec -c ${dir}/config.yaml -no-cs -no-capi`);
    let bouncer: { stop(): Promise<unknown> } | undefined;
    const stop = async () => {
      await bouncer?.stop();
      await lapi.stop();
    };
    try {
      await until("the local API", async () => /Local API listening/.test(await log("crowdsec.log")));
      bouncer = p.server.spawn(`cd ${dir} && exec crowdsec-firewall-bouncer -c ${dir}/bouncer.yaml`);
      // the bouncer's first pull of the decision stream, answered
      await until("the bouncer's first pull", async () =>
        /GET \/v1\/decisions\/stream\?startup=true HTTP\/1.1 200/.test(await log("crowdsec_api.log")),
      );
    } catch (err) {
      await stop();
      throw err;
    }
    return { stop };
  }
});
