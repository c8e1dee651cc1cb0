import { plainService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = plainService("imaps", {});

export const service = defineService(schema, {
  service: "imaps",
  title: "IMAP over TLS",
  control: () => [{ protocol: "tcp", ports: single(993), label: "IMAP over TLS" }],
  serverSettings: () => ["IMAP server: imaps listener on port 993"],
});
