import { plainService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = plainService("http", {});

export const service = defineService(schema, {
  service: "http",
  title: "HTTP",
  control: () => [{ protocol: "tcp", ports: single(80), label: "web requests" }],
  serverSettings: () => ["web server: listen 80 (or the port given in ports)"],
});
