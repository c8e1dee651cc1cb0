import { helperService, PortList, PortSpec } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("h323", {
  rasPorts: PortList.optional().meta({
    description: "The RAS port(s) of a gatekeeper, a port, range or list.",
    examples: [1719],
  }),
  mediaPorts: PortSpec.optional().meta({
    description: 'The media range the endpoint is configured with, a range string "a-b".',
    examples: ["30000-30100"],
  }),
});

export const service = defineService(schema, {
  service: "h323",
  title: "H.323 (Q.931 call signalling, RAS, media)",
  control: (exposure) => [
    { protocol: "tcp", ports: single(1720), label: "Q.931 signalling" },
    { protocol: "udp", ports: exposure.rasPorts ?? single(1719), label: "RAS", fixed: true },
  ],
  data: { field: "mediaPorts", protocol: "udp", label: "media", direction: "inbound", bidirectional: true },
  helper: {
    helpers: [
      { type: "Q.931", protocol: "tcp", objectSuffix: "q931" },
      { type: "RAS", protocol: "udp", objectSuffix: "ras" },
    ],
    module: "nf_conntrack_h323",
    natModule: "nf_nat_h323",
    ipv4Only: false,
  },
  serverSettings: (data) =>
    data ? [`gatekeeper/gateway: media (RTP) ports ${data.from}-${data.to}, H.245 tunnelled in Q.931`] : [],
  notes: [
    "ports overrides the Q.931 tcp port; rasPorts the RAS udp port. H.245 must be tunnelled (no separate port opens).",
  ],
});
