import { plainService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = plainService("dns", {});

export const service = defineService(schema, {
  service: "dns",
  title: "DNS server",
  control: () => [
    { protocol: "udp", ports: single(53), label: "queries" },
    { protocol: "tcp", ports: single(53), label: "queries over tcp" },
  ],
  serverSettings: () => [
    "DNS server: answer on 53/udp and 53/tcp (tcp is needed for large answers and zone transfers)",
  ],
});
