import { DataPorts, helperService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("amanda", { dataPorts: DataPorts.optional() });

export const service = defineService(schema, {
  service: "amanda",
  title: "Amanda backup client",
  control: () => [{ protocol: "udp", ports: single(10080), label: "control" }],
  data: { field: "dataPorts", protocol: "tcp", label: "backup data", direction: "inbound" },
  helper: {
    helpers: [{ type: "amanda", protocol: "udp", objectSuffix: "helper" }],
    module: "nf_conntrack_amanda",
    natModule: "nf_nat_amanda",
    ipv4Only: false,
    scopedWarning:
      'the kernel amanda helper expects only the DATA, MESG and INDEX connections; Amanda 3.x also opens a STATE connection, which it does not expect, so backups fail with helper "scoped". Use helper "none" with dataPorts.',
  },
  serverSettings: (data) => [
    ...(data
      ? [
          `amanda-client.conf: unreserved-tcp-port ${data.from},${data.to} (the ports amandad's sendbackup listens on for the server)`,
        ]
      : []),
    "amandad with -auth=bsd or bsdudp (udp/10080); bsdtcp (Debian's inetd default) runs over tcp/10080, which this exposure does not open",
    "/etc/services needs `amanda 10080/udp` (Debian bookworm lists only 10080/tcp)",
  ],
});
