import { plainService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = plainService("ssh", {});

export const service = defineService(schema, {
  service: "ssh",
  title: "SSH",
  control: () => [{ protocol: "tcp", ports: single(22), label: "remote logins" }],
  serverSettings: () => ["sshd: Port 22 (or the port given in ports)"],
});
