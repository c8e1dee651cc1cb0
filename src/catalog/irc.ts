import { helperService, PortSpec } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = helperService("irc", { dccPorts: PortSpec.optional() });

export const definition: ServiceDefinition = {
  service: "irc",
  title: "IRC (with DCC)",
  control: () => [{ protocol: "tcp", ports: single(6667), label: "client connections" }],
  data: { field: "dccPorts", protocol: "tcp", label: "DCC", direction: "inbound" },
  helper: {
    helpers: [{ type: "irc", protocol: "tcp", objectSuffix: "helper" }],
    module: "nf_conntrack_irc",
    natModule: "nf_nat_irc",
    ipv4Only: true,
  },
  serverSettings: (data) =>
    data ? [`irssi: /set dcc_port ${data.from} ${data.to}`, `WeeChat: /set xfer.network.port_range ${data.from}-${data.to}`] : [],
  notes: ["The IRC helper's expectations accept any source address: it is the weakest helper. Prefer a DCC range."],
};
