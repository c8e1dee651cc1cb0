import { helperService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = helperService("netbios-ns", {});

export const service = defineService(schema, {
  service: "netbios-ns",
  title: "NetBIOS name service",
  // The answer to a broadcast query goes from udp/137 to the querier, which conntrack does not see as
  // a reply (the query was tracked towards the broadcast address); and nmbd registers its names by
  // broadcast before it answers broadcast queries: with output restricted both must be let out.
  control: () => [{ protocol: "udp", ports: single(137), label: "name service", outbound: true, broadcasts: true }],
  helper: {
    helpers: [{ type: "netbios-ns", protocol: "udp", objectSuffix: "helper" }],
    module: "nf_conntrack_netbios_ns",
    ipv4Only: true,
  },
  serverSettings: () => ["nmbd: no port setting"],
});
