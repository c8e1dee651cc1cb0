import { DataPorts, helperService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("tftp", { dataPorts: DataPorts });

export const service = defineService(schema, {
  service: "tftp",
  title: "TFTP",
  control: () => [{ protocol: "udp", ports: single(69), label: "requests" }],
  data: { field: "dataPorts", protocol: "udp", label: "transfer", direction: "outbound" },
  helper: {
    helpers: [{ type: "tftp", protocol: "udp", objectSuffix: "helper" }],
    module: "nf_conntrack_tftp",
    natModule: "nf_nat_tftp",
    ipv4Only: false,
  },
  serverSettings: (data) =>
    data
      ? [
          `tftpd-hpa: TFTP_OPTIONS="--secure --port-range ${data.from}:${data.to}"`,
          `atftpd: --port-range ${data.from}:${data.to}`,
        ]
      : [],
  notes: [
    "The server sends the first transfer packet from a port in the data range; the client's answers come back as established traffic, so no inbound data rule is needed.",
  ],
});
