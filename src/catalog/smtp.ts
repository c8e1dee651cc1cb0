import { plainService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = plainService("smtp", {});

export const service = defineService(schema, {
  service: "smtp",
  title: "SMTP (mail transfer)",
  control: () => [{ protocol: "tcp", ports: single(25), label: "mail from other servers" }],
  serverSettings: () => ["MTA: listen on port 25 for server-to-server mail"],
});
