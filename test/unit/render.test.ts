import { describe, expect, it } from "vitest";
import { render } from "../../src/render";
import { profileForKernel } from "../../src/render/profile";
import { assertHardened, blanketRelatedAccepts } from "../support/ruleset-invariants";

const readme = {
  table: "web1",
  exposures: [
    { service: "ssh", sources: ["198.51.100.0/24"] },
    { service: "ftp", passivePorts: "50000-51000" },
    { service: "sip", rtpPorts: "10000-20000" },
  ],
};

describe("nftables renderer", () => {
  it("is deterministic: the same policy gives byte-identical output", () => {
    const a = render(readme);
    const b = render(JSON.parse(JSON.stringify(readme)));
    expect(b.nft).toBe(a.nft);
    expect(b.sysctl).toBe(a.sysctl);
    expect(b.modprobe).toBe(a.modprobe);
    expect(b.hash).toBe(a.hash);
  });

  it("replaces one table atomically: declare, delete, recreate in one file", () => {
    const { nft } = render(readme);
    const statements = nft.split("\n").filter((l) => l.startsWith("table") || l.startsWith("delete"));
    expect(statements).toEqual(["table inet web1", "delete table inet web1", "table inet web1 {"]);
    expect(nft).not.toMatch(/flush ruleset/);
  });

  it("has no blanket related accept, drops invalid, accepts established, input policy drop", () => {
    const artefacts = render(readme);
    assertHardened(artefacts);
    expect(artefacts.nft).toContain("ct state invalid drop");
    expect(artefacts.nft).toContain("ct state established accept");
    expect(artefacts.nft).not.toMatch(/established,\s*related|related,\s*established/);
  });

  it("the invariant check itself catches a blanket related accept", () => {
    expect(blanketRelatedAccepts("\t\tct state established,related accept")).toHaveLength(1);
    expect(blanketRelatedAccepts('\t\tct state related accept comment "x"')).toHaveLength(1);
    expect(blanketRelatedAccepts('\t\tct state related ct helper "ftp" tcp dport 50000-51000 accept')).toHaveLength(0);
  });

  it("opens fixed ranges instead of helpers by default, and attaches no helper", () => {
    const { nft, rendered } = render(readme);
    expect(nft).toContain('tcp dport 50000-51000 counter accept comment "ftp: passive data"');
    expect(nft).toContain('udp dport 10000-20000 counter accept comment "sip: RTP media"');
    expect(nft).not.toContain("ct helper");
    expect(rendered.helpers).toEqual([]);
  });

  it("scoped: a helper object on the control port only, related only for that helper on the declared range", () => {
    const { nft } = render({
      exposures: [
        { service: "ssh" },
        { service: "ftp", ports: 2121, passivePorts: "50000-51000", helper: "scoped", sources: ["198.51.100.0/24"] },
      ],
    });
    expect(nft).toContain('ct helper ftp-helper {\n\t\ttype "ftp" protocol tcp\n\t\tl3proto inet\n\t}');
    expect(nft).toContain('ip saddr @ftp_v4 tcp dport 2121 counter ct helper set "ftp-helper" accept');
    expect(nft).toContain('ct state related ct helper "ftp" ip saddr @ftp_v4 tcp dport 50000-51000 counter accept');
    expect(nft).not.toMatch(/tcp dport 50000-51000 counter accept comment "ftp: passive data"$/m);
  });

  it("ftp activeMode: with output drop, new connections out from tcp/20 to the exposure's sources only", () => {
    const policy = (activeMode: boolean, output: "accept" | "drop", sources?: string[]) => ({
      exposures: [
        { service: "ssh" },
        { service: "ftp", passivePorts: "50000-51000", activeMode, ...(sources ? { sources } : {}) },
      ],
      output: { policy: output },
    });
    const line = 'chain output: tcp sport 20 counter accept comment "ftp: active data from tcp/20"';
    expect(render(policy(true, "drop")).ruleLines).toContain(line);
    const scopedToSources = render(policy(true, "drop", ["198.51.100.0/24", "2001:db8::/32"]));
    expect(scopedToSources.ruleLines).toContain(
      'chain output: ip daddr @ftp_v4 tcp sport 20 counter accept comment "ftp: active data from tcp/20"',
    );
    expect(scopedToSources.ruleLines).toContain(
      'chain output: ip6 daddr @ftp_v6 tcp sport 20 counter accept comment "ftp: active data from tcp/20"',
    );
    // the input chain does not change: the client's answers are established traffic
    expect(scopedToSources.ruleLines.filter((l) => l.startsWith("chain input:"))).toEqual(
      render(policy(false, "drop", ["198.51.100.0/24", "2001:db8::/32"])).ruleLines.filter((l) =>
        l.startsWith("chain input:"),
      ),
    );
    // no rule without activeMode, and none needed (no output chain) while output is accepted
    expect(render(policy(false, "drop")).ruleLines.some((l) => /sport 20 /.test(l))).toBe(false);
    expect(render(policy(true, "accept")).ruleLines.some((l) => l.startsWith("chain output"))).toBe(false);
    expect(render(policy(true, "accept")).nft).toBe(render(policy(false, "accept")).nft);
    // with the scoped helper the same opening applies (the helper's expectation would only make the SYN related)
    const scoped = render({
      ...policy(true, "drop"),
      exposures: [
        { service: "ssh" },
        { service: "ftp", passivePorts: "50000-51000", activeMode: true, helper: "scoped" },
      ],
    });
    expect(scoped.ruleLines).toContain(line);
    assertHardened(scoped);
  });

  it("netbios-ns with output drop: answers to the sources, and the name service's own broadcasts", () => {
    const { ruleLines, explain } = render({
      exposures: [{ service: "ssh" }, { service: "netbios-ns", sources: ["198.51.100.0/24"] }],
      output: { policy: "drop" },
    });
    expect(ruleLines).toContain(
      'chain output: ip daddr @netbios-ns_v4 udp sport 137 counter accept comment "netbios-ns: name service sent by the server"',
    );
    expect(ruleLines).toContain(
      'chain output: meta nfproto ipv4 udp sport 137 udp dport 137 fib daddr type broadcast counter accept comment "netbios-ns: name service broadcasts"',
    );
    expect(explain[1]!.opens).toContain("udp/137 (name service) broadcasts out to the same port");
    // nothing of it while output is accepted
    expect(
      render({ exposures: [{ service: "ssh" }, { service: "netbios-ns" }] }).ruleLines.some((l) =>
        l.startsWith("chain output"),
      ),
    ).toBe(false);
  });

  it("ftp activeMode must be a boolean", () => {
    expect(() =>
      render({ exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "50000-51000", activeMode: "yes" }] }),
    ).toThrow(/exposures\[1\]\.activeMode/);
  });

  it("IPv4-only helpers attach only to IPv4, and IPv6 peers get the port without a helper", () => {
    const { nft } = render({ exposures: [{ service: "ssh" }, { service: "pptp", helper: "scoped" }] });
    expect(nft).toContain('ct helper pptp-helper {\n\t\ttype "pptp" protocol tcp\n\t\tl3proto ip');
    expect(nft).toContain('meta nfproto ipv4 tcp dport 1723 counter ct helper set "pptp-helper" accept');
    expect(nft).toContain("meta nfproto ipv6 tcp dport 1723 counter accept");
    expect(nft).toContain('ct state related ct helper "pptp" meta nfproto ipv4 meta l4proto gre counter accept');
  });

  it("irc scoped: the helper is attached to this host's own connections to IRC servers (the kernel irc helper expects DCC back to the side that opened the connection)", () => {
    const { nft, rendered } = render({
      exposures: [
        { service: "ssh" },
        { service: "irc", helper: "scoped", dccPorts: "40200-40209", sources: ["198.51.100.0/24"] },
      ],
    });
    expect(nft).toContain('ct helper irc-helper {\n\t\ttype "irc" protocol tcp\n\t\tl3proto ip');
    // inbound clients of an IRC server on this host: plain accept, no helper (it would expect connections to them)
    expect(nft).toContain('ip saddr @irc_v4 tcp dport 6667 counter accept comment "irc: client connections"');
    expect(nft).not.toMatch(/saddr[^\n]*ct helper set "irc-helper"/);
    expect(nft).toContain("type filter hook output priority filter; policy accept;");
    expect(nft).toContain(
      'ip daddr @irc_v4 tcp dport 6667 counter ct helper set "irc-helper" accept comment "irc: connections from this host, helper irc"',
    );
    expect(nft).toContain('ct state related ct helper "irc" ip saddr @irc_v4 tcp dport 40200-40209 counter accept');
    expect(rendered.chainPolicies).toEqual({ input: "drop", forward: "drop", output: "accept" });
    // output restricted: the same assignment, inside the restricted chain
    const restricted = render({
      exposures: [{ service: "ssh" }, { service: "irc", helper: "scoped", dccPorts: "40200-40209" }],
      output: { policy: "drop" },
    }).nft;
    expect(restricted).toContain("type filter hook output priority filter; policy drop;");
    expect(restricted).toContain('meta nfproto ipv4 tcp dport 6667 counter ct helper set "irc-helper" accept');
    // helper none: no output chain at all
    expect(render({ exposures: [{ service: "ssh" }, { service: "irc", dccPorts: "40200-40209" }] }).nft).not.toContain(
      "hook output",
    );
  });

  it("pptp without a helper opens tcp/1723 and GRE", () => {
    const { nft } = render({ exposures: [{ service: "pptp" }] });
    expect(nft).toContain('tcp dport 1723 counter accept comment "pptp: control"');
    expect(nft).toContain('meta l4proto gre counter accept comment "pptp: gre"');
  });

  it("sources become named interval sets: the rule count does not grow with prefixes", () => {
    const prefixes = (n: number) => Array.from({ length: n }, (_, i) => `10.${Math.floor(i / 256)}.${i % 256}.0/24`);
    const small = render({ exposures: [{ service: "ssh", sources: prefixes(2) }] });
    const large = render({ exposures: [{ service: "ssh", sources: [...prefixes(5000), "2001:db8::/48"] }] });
    const count = (a: typeof small) => a.rendered.rules.length;
    expect(count(large)).toBe(count(small) + 1); // one more rule for the IPv6 set, none per prefix
    expect(large.rendered.sets.find((s) => s.name === "ssh_v4")!.elements).toHaveLength(5000);
    expect(large.nft).toContain("ip saddr @ssh_v4 tcp dport 22 counter accept");
    expect(large.nft).toContain("ip6 saddr @ssh_v6 tcp dport 22 counter accept");
  });

  it("v4-only sources close the port to IPv6 entirely", () => {
    const { nft } = render({ exposures: [{ service: "ssh", sources: ["198.51.100.0/24"] }] });
    expect(nft).toContain("ip saddr @ssh_v4 tcp dport 22 counter accept");
    expect(nft).not.toMatch(/ip6 saddr @ssh/);
    expect(nft).not.toMatch(/^\t\ttcp dport 22 counter accept/m);
  });

  it("every rule carries a comment naming what it serves", () => {
    const { rendered, nft } = render({
      ...readme,
      log: { dropped: true },
      output: { policy: "drop", allow: [{ name: "dns", protocol: "udp", ports: 53 }] },
    });
    for (const rule of rendered.rules) expect(rule.comment.length).toBeGreaterThan(0);
    const chainLines = nft
      .split("\n")
      .filter((l) => /^\t\t[a-z@]/.test(l) && !/^\t\t(type|flags|elements|l3proto)\b/.test(l));
    for (const line of chainLines) expect(line, line).toMatch(/ comment "[^"]+"$/);
    expect(nft).toContain('comment "ssh: remote logins"');
    expect(nft).toContain('comment "out-dns: to udp/53"');
  });

  it("ICMPv6 essentials: neighbour discovery and packet-too-big always pass; echo is rate limited", () => {
    const { nft } = render(readme);
    expect(nft).toMatch(/icmpv6 type \{[^}]*nd-neighbor-solicit[^}]*nd-neighbor-advert[^}]*\} ip6 hoplimit 255 accept/);
    expect(nft).toMatch(/ct state related icmpv6 type \{[^}]*packet-too-big[^}]*\} accept/);
    expect(nft).toContain("icmp type echo-request limit rate 10/second accept");
    const noEcho = render({ ...readme, icmp: { echo: false } }).nft;
    expect(noEcho).not.toContain("echo-request");
  });

  it("forward is dropped by default and left out when accepted; output is accept unless restricted", () => {
    expect(render(readme).nft).toContain("type filter hook forward priority filter; policy drop;");
    expect(render(readme).nft).not.toContain("hook output");
    const docker = render({ ...readme, forward: { policy: "accept" } }).nft;
    expect(docker).not.toContain("hook forward");
    const restricted = render({
      ...readme,
      output: { policy: "drop", allow: [{ name: "dns", protocol: "udp", ports: 53, destinations: ["192.0.2.53"] }] },
    }).nft;
    expect(restricted).toContain("type filter hook output priority filter; policy drop;");
    expect(restricted).toContain("ip daddr @out-dns_v4 udp dport 53 counter accept");
    expect(restricted).toContain('udp sport 10000-20000 counter accept comment "sip: RTP media sent by the server"');
  });

  it("logs dropped packets rate limited, only when asked", () => {
    expect(render(readme).nft).not.toContain(" log ");
    expect(render({ ...readme, log: { dropped: true, rate: "3/minute" } }).nft).toContain(
      'limit rate 3/minute log prefix "hnft web1 input drop: " level info',
    );
  });
});

describe("sysctl.d and modprobe.d", () => {
  it("kernel >= 6.0: no helper sysctl and no module parameter, because they no longer exist", () => {
    const a = render(readme, { profile: profileForKernel("6.1") });
    expect(a.sysctl).not.toContain("nf_conntrack_helper =");
    expect(a.modprobe).not.toContain("nf_conntrack_helper=0");
    expect(a.sysctlSettings).toEqual([]);
  });

  it("kernel 4.7-5.19: writes the sysctl and the module option", () => {
    const a = render({ ...readme, conntrack: { max: 262144 } }, { profile: profileForKernel("5.10") });
    expect(a.sysctl).toContain("net.netfilter.nf_conntrack_helper = 0\n");
    expect(a.sysctl).toContain("net.netfilter.nf_conntrack_max = 262144\n");
    expect(a.modprobe).toContain("options nf_conntrack nf_conntrack_helper=0\n");
    expect(a.sysctlSettings).toEqual([
      ["net.netfilter.nf_conntrack_helper", "0"],
      ["net.netfilter.nf_conntrack_max", "262144"],
    ]);
  });

  it("denies every helper and NAT helper module no scoped exposure needs, never with ports=", () => {
    const none = render(readme).modprobe;
    for (const m of [
      "nf_conntrack_ftp",
      "nf_nat_ftp",
      "nf_conntrack_sip",
      "nf_nat_sip",
      "nf_conntrack_h323",
      "nf_conntrack_irc",
      "nf_conntrack_pptp",
      "nf_conntrack_tftp",
      "nf_conntrack_netbios_ns",
      "nf_conntrack_snmp",
      "nf_nat_snmp_basic",
      "nf_conntrack_sane",
      "nf_conntrack_amanda",
    ]) {
      expect(none).toContain(`install ${m} /bin/false\n`);
    }
    const scoped = render({
      exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: 50000, helper: "scoped" }],
    }).modprobe;
    expect(scoped).not.toContain("install nf_conntrack_ftp ");
    expect(scoped).not.toContain("install nf_nat_ftp ");
    expect(scoped).toContain("install nf_conntrack_sip /bin/false");
    expect(`${none}${scoped}`).not.toMatch(/ports=/);
  });

  it("refuses helper objects on kernels older than 4.13 and nft on kernels before 3.13", () => {
    expect(() =>
      render(
        { exposures: [{ service: "ftp", passivePorts: 50000, helper: "scoped" }] },
        { profile: profileForKernel("4.9") },
      ),
    ).toThrow(/4\.13/);
    expect(() => render(readme, { profile: profileForKernel("3.10") })).toThrow(/no nftables/);
    expect(render(readme, { profile: profileForKernel("4.9") }).sysctl).toContain("nf_conntrack_helper = 0");
  });
});

describe("explanations", () => {
  it("amanda: the settings that pin the data ports, and a warning that helper scoped cannot carry Amanda 3's STATE stream", () => {
    const none = render({ exposures: [{ service: "ssh" }, { service: "amanda", dataPorts: "40500-40509" }] });
    const amanda = none.explain.find((e) => e.service === "amanda")!;
    expect(amanda.serverSettings).toContain(
      "amanda-client.conf: unreserved-tcp-port 40500,40509 (the ports amandad's sendbackup listens on for the server)",
    );
    expect(amanda.serverSettings.join("\n")).toMatch(/amanda 10080\/udp/);
    expect(none.warnings).toEqual([]);
    const scoped = render({
      exposures: [{ service: "ssh" }, { service: "amanda", dataPorts: "40500-40509", helper: "scoped" }],
    });
    expect(scoped.warnings).toEqual([
      expect.stringMatching(/^amanda: the kernel amanda helper .*STATE connection.*helper "none"/),
    ]);
    expect(scoped.explain.find((e) => e.service === "amanda")!.notes.join("\n")).toMatch(/STATE/);
  });

  it("say what opens, why, and what to set on the server", () => {
    const { explain, warnings } = render(readme);
    const ftp = explain.find((e) => e.service === "ftp")!;
    expect(ftp.opens).toEqual(["tcp/21 (control) from anywhere", "tcp/50000-51000 (passive data) from anywhere"]);
    expect(ftp.serverSettings).toContain("vsftpd: pasv_enable=YES, pasv_min_port=50000, pasv_max_port=51000");
    expect(explain.find((e) => e.service === "sip")!.serverSettings).toContain(
      "Asterisk rtp.conf: rtpstart=10000, rtpend=20000",
    );
    expect(warnings).toEqual([]);
  });

  it("warns when nothing opens SSH", () => {
    expect(render({ exposures: [{ service: "https" }] }).warnings[0]).toMatch(/tcp\/22/);
  });

  it("ftp active mode: says what happens in each output mode, and what to set in vsftpd and ProFTPD", () => {
    const ftpOf = (activeMode: boolean | undefined, output: "accept" | "drop") =>
      render({
        exposures: [
          { service: "ssh" },
          { service: "ftp", passivePorts: "50000-51000", ...(activeMode === undefined ? {} : { activeMode }) },
        ],
        output: { policy: output },
      }).explain.find((e) => e.service === "ftp")!;
    const joined = (e: { notes: readonly string[] }) => e.notes.join("\n");

    // the default: no activeMode. With output accepted active mode still passes: the note must not claim otherwise
    const offAccept = ftpOf(undefined, "accept");
    expect(joined(offAccept)).not.toMatch(/not opened|must use passive/);
    expect(joined(offAccept)).toMatch(/passes today only because output is accepted; set activeMode: true/);
    expect(offAccept.serverSettings.join("\n")).not.toMatch(/connect_from_port_20/);
    expect(ftpOf(false, "accept")).toEqual(offAccept);

    const offDrop = ftpOf(false, "drop");
    expect(joined(offDrop)).toMatch(
      /Active mode is blocked: output is restricted and activeMode is not set.*passive mode/,
    );
    expect(offDrop.opens.join("\n")).not.toMatch(/active data/);

    const onAccept = ftpOf(true, "accept");
    expect(onAccept.opens).toContain("tcp/20 (active data): the server's connections leave under output policy accept");
    expect(joined(onAccept)).toMatch(/no rule is needed/);

    const onDrop = ftpOf(true, "drop");
    expect(onDrop.opens).toContain("tcp/20 (active data): new connections out to anywhere");
    expect(joined(onDrop)).toMatch(/new connections from tcp\/20 to the exposure's sources are allowed out/);
    for (const e of [onAccept, onDrop]) {
      expect(e.serverSettings).toContain(
        "vsftpd: port_enable=YES, connect_from_port_20=YES (ftp_data_port=20, the default)",
      );
      expect(e.serverSettings.join("\n")).toMatch(/ProFTPD: active transfers/);
      expect(e.serverSettings).toContain("vsftpd: pasv_enable=YES, pasv_min_port=50000, pasv_max_port=51000");
    }
  });

  it("tftp: the transfer range is set on the server, and the answers return as established", () => {
    const { explain } = render({ exposures: [{ service: "tftp", dataPorts: "50100-50200" }] });
    expect(explain[0]!.serverSettings[0]).toBe('tftpd-hpa: TFTP_OPTIONS="--secure --port-range 50100:50200"');
    expect(explain[0]!.opens[1]).toMatch(/established/);
  });
});
