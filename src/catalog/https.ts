import { z } from "zod";
import { plainService } from "./schema-helpers";
import { defineService, single } from "./types";

export const schema = plainService("https", {
  http3: z
    .boolean()
    .default(false)
    .meta({ description: "Also open udp/443 for HTTP/3 (QUIC).", examples: [true] }),
});

export const service = defineService(schema, {
  service: "https",
  title: "HTTPS (and HTTP/3 over QUIC when http3 is set)",
  control: (exposure) => [
    { protocol: "tcp", ports: single(443), label: "web requests over TLS" },
    ...(exposure.http3 ? [{ protocol: "udp" as const, ports: single(443), label: "HTTP/3 over QUIC" }] : []),
  ],
  serverSettings: () => ["web server: listen 443 (and `listen 443 quic` for HTTP/3)"],
});
