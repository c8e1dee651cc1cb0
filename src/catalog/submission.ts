import { plainService } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = plainService("submission", {});

export const definition: ServiceDefinition = {
  service: "submission",
  title: "Mail submission",
  control: () => [{ protocol: "tcp", ports: single(587), label: "control" }],
  serverSettings: () => ["MTA: submission service on port 587 with STARTTLS and authentication"],
};
