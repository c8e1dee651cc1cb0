import { helperService, PortSpec } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("irc", {
  dccPorts: PortSpec.optional().meta({
    description: 'The DCC range the server or bouncer is configured with, a range string "a-b".',
    examples: ["40000-40100"],
  }),
});

export const service = defineService(schema, {
  service: "irc",
  title: "IRC (with DCC)",
  control: () => [{ protocol: "tcp", ports: single(6667), label: "client connections" }],
  data: { field: "dccPorts", protocol: "tcp", label: "DCC", direction: "inbound" },
  helper: {
    helpers: [{ type: "irc", protocol: "tcp", objectSuffix: "helper", attach: "outbound" }],
    module: "nf_conntrack_irc",
    natModule: "nf_nat_irc",
    ipv4Only: true,
  },
  serverSettings: (data) =>
    data
      ? [
          `irssi: /set dcc_port ${data.from} ${data.to}`,
          `WeeChat: /set xfer.network.port_range ${data.from}-${data.to}`,
        ]
      : [],
  notes: [
    "The IRC helper's expectations accept any source address: it is the weakest helper. Prefer a DCC range.",
    'The DCC range serves DCC offers made by IRC clients on this host; with helper "scoped" the irc helper reads this host\'s own connections to IRC servers on the control port (sources: the IRC servers and the DCC peers).',
  ],
});
