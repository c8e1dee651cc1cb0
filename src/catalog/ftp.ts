import { z } from "zod";
import { helperService, PortSpec } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("ftp", {
  passivePorts: PortSpec.meta({
    description: 'The passive data range the server is configured with, a range string "a-b".',
    examples: ["50000-51000"],
  }),
  activeMode: z
    .boolean()
    .default(false)
    .meta({
      description:
        "Allow active-mode data connections the server opens from tcp/20 (needed when output is restricted).",
      examples: [true],
    }),
});

export const service = defineService(schema, {
  service: "ftp",
  title: "FTP (passive mode; active mode with activeMode)",
  control: () => [{ protocol: "tcp", ports: single(21), label: "control" }],
  data: { field: "passivePorts", protocol: "tcp", label: "passive data", direction: "inbound" },
  // vsftpd's ftp_data_port defaults to 20 whatever listen_port is; ProFTPD uses the control port
  // minus one, which is 20 only on the standard port.
  originated: {
    field: "activeMode",
    protocol: "tcp",
    ports: single(20),
    label: "active data",
    serverSettings: [
      "vsftpd: port_enable=YES, connect_from_port_20=YES (ftp_data_port=20, the default)",
      "ProFTPD: active transfers are on by default and leave from the control port minus one (tcp/20 with the control on tcp/21); keep AllowForeignAddress off",
    ],
    notes: {
      enabledOutputAccepted:
        "Active mode: the server connects from tcp/20 to the port the client names; output is accepted, so no rule is needed, and the client's answers return as established traffic.",
      enabledOutputRestricted:
        "Active mode: new connections from tcp/20 to the exposure's sources are allowed out (the server connects to the port the client names); the client's answers return as established traffic.",
      disabledOutputAccepted:
        "Active mode (the server connecting from tcp/20 to the client) passes today only because output is accepted; set activeMode: true to keep it if output.policy becomes drop, or have clients use passive mode.",
      disabledOutputRestricted:
        "Active mode is blocked: output is restricted and activeMode is not set, so the server cannot connect back from tcp/20; clients must use passive mode, or set activeMode: true.",
    },
  },
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
});
