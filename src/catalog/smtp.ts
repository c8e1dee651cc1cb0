import { plainService } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = plainService("smtp", {});

export const definition: ServiceDefinition = {
  service: "smtp",
  title: "SMTP (mail transfer)",
  control: () => [{ protocol: "tcp", ports: single(25), label: "control" }],
  serverSettings: () => ["MTA: listen on port 25 for server-to-server mail"],
};
