import { plainService } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = plainService("http", {});

export const definition: ServiceDefinition = {
  service: "http",
  title: "HTTP",
  control: () => [{ protocol: "tcp", ports: single(80), label: "control" }],
  serverSettings: () => ["web server: listen 80 (or the port given in ports)"],
};
