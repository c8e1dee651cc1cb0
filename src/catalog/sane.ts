import { DataPorts, helperService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("sane", { dataPorts: DataPorts.optional() });

export const service = defineService(schema, {
  service: "sane",
  title: "SANE network scanner daemon",
  control: () => [{ protocol: "tcp", ports: single(6566), label: "control" }],
  data: { field: "dataPorts", protocol: "tcp", label: "scan data", direction: "inbound" },
  helper: {
    helpers: [{ type: "sane", protocol: "tcp", objectSuffix: "helper" }],
    module: "nf_conntrack_sane",
    ipv4Only: false,
  },
  serverSettings: (data) => (data ? [`saned.conf: data_portrange = ${data.from} - ${data.to}`] : []),
});
