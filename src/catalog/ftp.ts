import { helperService, PortSpec } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = helperService("ftp", { passivePorts: PortSpec });

export const definition: ServiceDefinition = {
  service: "ftp",
  title: "FTP (passive mode)",
  control: () => [{ protocol: "tcp", ports: single(21), label: "control" }],
  data: { field: "passivePorts", protocol: "tcp", label: "passive data", direction: "inbound" },
  helper: {
    helpers: [{ type: "ftp", protocol: "tcp", objectSuffix: "helper" }],
    module: "nf_conntrack_ftp",
    natModule: "nf_nat_ftp",
    ipv4Only: false,
  },
  serverSettings: (data) =>
    data
      ? [
          `vsftpd: pasv_enable=YES, pasv_min_port=${data.from}, pasv_max_port=${data.to}`,
          `ProFTPD: PassivePorts ${data.from} ${data.to}`,
          `Pure-FTPd: -p ${data.from}:${data.to}`,
        ]
      : [],
  notes: [
    "Active mode (the server connecting back to the client) is not opened: clients must use passive mode.",
  ],
};
