import { plainService } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = plainService("ntp", {});

export const definition: ServiceDefinition = {
  service: "ntp",
  title: "NTP",
  control: () => [{ protocol: "udp", ports: single(123), label: "control" }],
  serverSettings: () => ["NTP server: chrony `allow` or ntpd `restrict` for the same sources"],
};
