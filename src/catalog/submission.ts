import { plainService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = plainService("submission", {});

export const service = defineService(schema, {
  service: "submission",
  title: "Mail submission",
  control: () => [{ protocol: "tcp", ports: single(587), label: "mail submission by clients" }],
  serverSettings: () => ["MTA: submission service on port 587 with STARTTLS and authentication"],
});
