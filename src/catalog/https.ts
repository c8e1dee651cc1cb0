import { z } from "zod";
import { plainService } from "./schema-helpers";
import { single, type ServiceDefinition } from "./types";

export const schema = plainService("https", { http3: z.boolean().default(false) });

export const definition: ServiceDefinition = {
  service: "https",
  title: "HTTPS (and HTTP/3 over QUIC when http3 is set)",
  control: (exposure) => [
    { protocol: "tcp", ports: single(443), label: "control" },
    ...(exposure.http3 === true ? [{ protocol: "udp" as const, ports: single(443), label: "quic" }] : []),
  ],
  serverSettings: () => ["web server: listen 443 (and `listen 443 quic` for HTTP/3)"],
};
