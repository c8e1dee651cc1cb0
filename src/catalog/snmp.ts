import { helperService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("snmp", {});

export const service = defineService(schema, {
  service: "snmp",
  title: "SNMP agent",
  control: () => [{ protocol: "udp", ports: single(161), label: "agent" }],
  helper: {
    helpers: [{ type: "snmp", protocol: "udp", objectSuffix: "helper" }],
    module: "nf_conntrack_snmp",
    natModule: "nf_nat_snmp_basic",
    ipv4Only: true,
  },
  serverSettings: () => ["snmpd: agentAddress udp:161, and restrict communities/users to the same sources"],
});
