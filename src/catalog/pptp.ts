import { helperService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("pptp", {});

export const service = defineService(schema, {
  service: "pptp",
  title: "PPTP (control on tcp/1723, tunnel in GRE)",
  control: () => [{ protocol: "tcp", ports: single(1723), label: "control" }],
  ipProtocols: ["gre"],
  helper: {
    helpers: [{ type: "pptp", protocol: "tcp", objectSuffix: "helper" }],
    module: "nf_conntrack_pptp",
    natModule: "nf_nat_pptp",
    ipv4Only: true,
  },
  serverSettings: () => ["pptpd: no port setting; GRE (ip protocol 47) must pass"],
  notes: [
    "PPTP is broken cryptographically; prefer WireGuard or IPsec.",
    "The pptp helper is IPv4 only and may be removed from the kernel.",
  ],
});
