import { z } from "zod";
import { helperService, PortSpec } from "./schema-helpers";
import { type ControlPort, defineService, single } from "./types";

export const schema = helperService("sip", {
  transport: z
    .enum(["udp", "tcp", "both"])
    .default("udp")
    .meta({ description: 'Signalling transport, "udp" (default), "tcp" or "both".', examples: ["both"] }),
  rtpPorts: PortSpec.optional().meta({
    description: 'The RTP media range the server is configured with, a range string "a-b".',
    examples: ["10000-20000"],
  }),
});

export const service = defineService(schema, {
  service: "sip",
  title: "SIP signalling with RTP media",
  control: (exposure) => {
    const { transport } = exposure;
    const out: ControlPort[] = [];
    if (transport !== "tcp") out.push({ protocol: "udp", ports: single(5060), label: "signalling", outbound: true });
    if (transport !== "udp") out.push({ protocol: "tcp", ports: single(5060), label: "signalling over tcp" });
    return out;
  },
  data: { field: "rtpPorts", protocol: "udp", label: "RTP media", direction: "inbound", bidirectional: true },
  helper: {
    helpers: [
      { type: "sip", protocol: "udp", objectSuffix: "udp" },
      { type: "sip", protocol: "tcp", objectSuffix: "tcp" },
    ],
    module: "nf_conntrack_sip",
    natModule: "nf_nat_sip",
    ipv4Only: false,
  },
  serverSettings: (data) =>
    data
      ? [
          `Asterisk rtp.conf: rtpstart=${data.from}, rtpend=${data.to}`,
          `FreeSWITCH switch.conf.xml: rtp-start-port=${data.from}, rtp-end-port=${data.to}`,
          `Kamailio/rtpengine: --port-min=${data.from} --port-max=${data.to}`,
        ]
      : ["no rtpPorts: only signalling opens; media will not reach this host"],
  notes: ['Keep the helper\'s sip_direct_media=1 (the default) if you use helper "scoped".'],
});
