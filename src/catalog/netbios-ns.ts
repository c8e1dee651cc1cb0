import { helperService } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = helperService("netbios-ns", {});

export const definition: ServiceDefinition = {
  service: "netbios-ns",
  title: "NetBIOS name service",
  control: () => [{ protocol: "udp", ports: single(137), label: "name service" }],
  helper: {
    helpers: [{ type: "netbios-ns", protocol: "udp", objectSuffix: "helper" }],
    module: "nf_conntrack_netbios_ns",
    ipv4Only: true,
  },
  serverSettings: () => ["nmbd: no port setting"],
};
