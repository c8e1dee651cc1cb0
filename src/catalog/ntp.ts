import { plainService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = plainService("ntp", {});

export const service = defineService(schema, {
  service: "ntp",
  title: "NTP",
  control: () => [{ protocol: "udp", ports: single(123), label: "time queries" }],
  serverSettings: () => ["NTP server: chrony `allow` or ntpd `restrict` for the same sources"],
});
