/**
 *     A-B accept` for the server's port range.
 *
 * SIPp (startSippUas / runSippUac)
 *   - SIPp 3.6.1 (bookworm) has no -min_rtp_port/-max_rtp_port (those arrived with 3.7 for
 *     rtp_stream). The media port is pinned with `-mp PORT` (plus `-mi ADDR`): the UAS advertises
 *     it in its SDP and, with `-rtp_echo`, echoes RTP received on PORT **and on PORT+2** (second
 *     stream). So a UAS uses exactly rtpMin and rtpMin+2: the declared range must hold both.
 *   - SIPp also binds a UDP remote-control socket on 0.0.0.0:8888 (`-cp`); a firewall must not open
 *     it. startSippUas/runSippUac pass `-cp` explicitly so two SIPps in one host do not collide.
 *   - The UAC plays /usr/share/sip-tester/g711a.pcap with play_pcap_audio from its own media port
 *     (-mp, raw socket, source port = -mp) to the port in the UAS's SDP. The built-in uac_pcap
 *     scenario uses a relative pcap path and a 9 s call, so runSippUac writes its own scenario.
 *   - "Media flowed" is measured at the socket: just before BYE the scenario runs
 *     `ss -Hnuam sport = :MP` (an <exec command>) and a non-zero Recv-Q on the UAC's media socket
 *     means the UAS's echoes came back, i.e. RTP crossed both ways. SIPp's own RTP echo counter
 *     is only printed in periodic screens, not reliably at exit. SIPp's XML parser does not decode
 *     entities inside exec commands (`&amp;` reaches the shell verbatim): no & < > or quotes there.
 *   - `-timeout` does not end a UAS stuck in a call; the UAS is killed by stop(). Over TCP (t1) the
 *     built-in uas scenario counts the call as failed when the UAC closes the connection during
 *     the final 4 s pause: judge a call by the UAC only.
 *
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  addrOf,
  hostPort,
  makeHandle,
  makeTempDir,
  type PeerHandle,
  type PeerHost,
  removeTempDir,
  runIn,
  startProc,
  type Target,
  waitBound,
} from "./core";

export type SipTransport = "u1" | "t1";

export interface SippUasOptions {
  port?: number;
  transport?: SipTransport;
  /** media port pinned with -mp rtpMin; SIPp echoes on rtpMin and rtpMin+2 */
  rtpMin: number;
  rtpMax: number;
  ipv6?: boolean;
  /** SIPp's UDP remote-control port (-cp, bound on 0.0.0.0), default 8888 */
  controlPort?: number;
}

export interface SippUasHandle extends PeerHandle {
  host: PeerHost;
  address: string;
  port: number;
  transport: SipTransport;
  /** the RTP ports the UAS actually uses (echo sockets) */
  rtpPorts: number[];
  output(): string;
}

export async function startSippUas(host: PeerHost, opts: SippUasOptions): Promise<SippUasHandle> {
  const port = opts.port ?? 5060;
  const transport = opts.transport ?? "u1";
  const ipv6 = opts.ipv6 ?? false;
  if (!(opts.rtpMin > 1023 && opts.rtpMin + 2 <= opts.rtpMax && opts.rtpMax <= 65535)) {
    throw new Error(
      `startSippUas: RTP range ${opts.rtpMin}-${opts.rtpMax} must hold rtpMin and rtpMin+2 (SIPp's two echo ports)`,
    );
  }
  const address = ipv6 ? host.ipv6 : host.ipv4;
  const dir = makeTempDir("sipp-uas");
  const argv = [
    "sipp",
    "-sn",
    "uas",
    "-i",
    address,
    "-p",
    String(port),
    "-t",
    transport,
    "-mi",
    address,
    "-mp",
    String(opts.rtpMin),
    "-rtp_echo",
    "-cp",
    String(opts.controlPort ?? 8888),
    "-nostdin",
  ];
  const proc = startProc(host, argv, { cwd: dir, label: `sipp-uas@${host.name}` });
  const stop = makeHandle([proc], [dir]);
  try {
    await waitBound(host, transport === "t1" ? "tcp" : "udp", port, proc);
    await waitBound(host, "udp", opts.rtpMin, proc);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host,
    address,
    port,
    transport,
    rtpPorts: [opts.rtpMin, opts.rtpMin + 2],
    output: () => proc.stdout() + proc.stderr(),
    stop,
  };
}

export interface SippUacOptions {
  port?: number;
  transport?: SipTransport;
  ipv6?: boolean;
  calls?: number;
  /** play RTP (g711a.pcap) during the call (default true) */
  rtp?: boolean;
  /** the UAC's own media port (-mp), default 6000 */
  mediaPort?: number;
  /** time between ACK and BYE (default 1500 ms) */
  callMs?: number;
  /** SIPp remote-control port of the UAC (-cp), default 8898 */
  controlPort?: number;
  timeoutMs?: number;
}

export interface SippUacResult {
  /** every call got 200 to INVITE and 200 to BYE (UAC exit code 0) */
  completed: boolean;
  successfulCalls: number;
  failedCalls: number;
  /** the UAS's RTP echo reached the UAC's media socket: media crossed both ways */
  mediaFlowed: boolean;
  /** bytes queued on the UAC's media socket just before BYE (echoed RTP) */
  echoedBytes: number;
  /** SIPp's "Total RTP pckts sent" when its final screen shows it (only printed in periodic screens), else null */
  rtpPacketsSent: number | null;
  exitCode: number;
  ms: number;
  output: string;
}

const PCAP_AUDIO = "/usr/share/sip-tester/g711a.pcap";

function uacScenario(opts: { rtp: boolean; callMs: number; mediaPort: number; probeFile: string }): string {
  const sdp = `      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000`;
  const play = opts.rtp
    ? `  <nop>
    <action>
      <exec play_pcap_audio="${PCAP_AUDIO}"/>
    </action>
  </nop>
`
    : "";
  // no & < > or quotes: SIPp hands the command to sh without decoding XML entities
  const probe = `  <nop>
    <action>
      <exec command="ss -Hnuam sport = :${opts.mediaPort} | tee ${opts.probeFile}"/>
    </action>
  </nop>
  <pause milliseconds="200"/>
`;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hnft uac with rtp">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: hnft peers
      Content-Type: application/sdp
      Content-Length: [len]

${sdp}
    ]]>
  </send>
  <recv response="100" optional="true"></recv>
  <recv response="180" optional="true"></recv>
  <recv response="200" rtd="true"></recv>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: hnft peers
      Content-Length: 0
    ]]>
  </send>
${play}  <pause milliseconds="${opts.callMs}"/>
${probe}  <send retrans="500">
    <![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag09[call_number]
      To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Subject: hnft peers
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"></recv>
</scenario>
`;
}

/** A real call (INVITE/200/ACK, RTP, BYE/200) from client to server with SIPp. */
export async function runSippUac(client: PeerHost, server: Target, opts: SippUacOptions = {}): Promise<SippUacResult> {
  const ipv6 = opts.ipv6 ?? false;
  const transport = opts.transport ?? "u1";
  const port = opts.port ?? 5060;
  const calls = opts.calls ?? 1;
  const rtp = opts.rtp ?? true;
  const mediaPort = opts.mediaPort ?? 6000;
  const callMs = opts.callMs ?? 1500;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const local = ipv6 ? client.ipv6 : client.ipv4;
  const dir = makeTempDir("sipp-uac");
  try {
    const probeFile = path.join(dir, "rtpq.txt");
    const scenario = path.join(dir, "uac.xml");
    fs.writeFileSync(scenario, uacScenario({ rtp, callMs, mediaPort, probeFile }));
    const argv = [
      "sipp",
      hostPort(addrOf(server, ipv6), port),
      "-sf",
      scenario,
      "-i",
      local,
      "-t",
      transport,
      "-mi",
      local,
      "-mp",
      String(mediaPort),
      "-cp",
      String(opts.controlPort ?? 8898),
      "-m",
      String(calls),
      "-l",
      "1",
      "-nostdin",
      "-timeout",
      `${Math.max(1, Math.ceil(timeoutMs / 1000))}s`,
      "-timeout_error",
    ];
    const r = await runIn(client, argv, { timeoutMs: timeoutMs + 10_000, label: `sipp-uac@${client.name}`, cwd: dir });
    const output = r.stdout + r.stderr;
    const cumulative = (label: string): number => {
      const m = new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(output);
      return m ? Number(m[1]) : 0;
    };
    const successfulCalls = cumulative("Successful call");
    const failedCalls = cumulative("Failed call");
    const sentMatches = [...output.matchAll(/(\d+) Total RTP pckts sent/g)];
    const rtpPacketsSent = sentMatches.length ? Math.max(...sentMatches.map((m) => Number(m[1]))) : null;
    let echoedBytes = 0;
    if (fs.existsSync(probeFile)) {
      const m = /^\S+\s+(\d+)\s+\d+/.exec(fs.readFileSync(probeFile, "utf8").trim());
      if (m) echoedBytes = Number(m[1]);
    }
    return {
      completed: r.code === 0 && successfulCalls === calls,
      successfulCalls,
      failedCalls,
      mediaFlowed: echoedBytes > 0,
      echoedBytes,
      rtpPacketsSent,
      exitCode: r.code,
      ms: r.ms,
      output: output.length > 20_000 ? output.slice(-20_000) : output,
    };
  } finally {
    removeTempDir(dir);
  }
}
