import { helperService, PortSpec } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = helperService("amanda", { dataPorts: PortSpec.optional() });

export const definition: ServiceDefinition = {
  service: "amanda",
  title: "Amanda backup client",
  control: () => [{ protocol: "udp", ports: single(10080), label: "control" }],
  data: { field: "dataPorts", protocol: "tcp", label: "backup data", direction: "inbound" },
  helper: {
    helpers: [{ type: "amanda", protocol: "udp", objectSuffix: "helper" }],
    module: "nf_conntrack_amanda",
    natModule: "nf_nat_amanda",
    ipv4Only: false,
  },
  serverSettings: (data) =>
    data ? [`amanda: configure --with-tcpportrange=${data.from},${data.to} (or TCPPORTRANGE in amanda-client.conf)`] : [],
};
