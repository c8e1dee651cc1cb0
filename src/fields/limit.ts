/**
 * Rates, durations and the per-source limit of an exposure. They live with the other shared field
 * schemas because every exposure (catalog or custom) carries the same `limit` field.
 */
import { z } from "zod";
import { PrefixSchema } from "./prefix";

const RATE = /^[1-9][0-9]{0,5}\/(second|minute|hour|day)$/;
export const Rate = z.string().regex(RATE, { error: "must look like 10/second, 30/minute, 100/hour or 1000/day" });

// nft's own time syntax, one unit: what it lists back is what was written (1h stays 1h).
const DURATION = /^[1-9][0-9]{0,4}(s|m|h|d)$/;
export const Duration = z
  .string()
  .regex(DURATION, { error: 'must be a number and one unit, e.g. "90s", "10m", "1h" or "7d"' });

export const LimitSchema = z
  .strictObject({
    rate: Rate.optional().meta({
      description:
        'New connections each source may open, e.g. "6/minute"; more are dropped (or rejected when the policy rejects) until the rate falls.',
      examples: ["6/minute"],
    }),
    burst: z
      .number()
      .int()
      .min(1, { error: "is below 1" })
      .max(10_000, { error: "is above 10000" })
      .optional()
      .meta({
        description:
          "New connections a source may open at once above the rate (1 to 10000; nft's default 5 when left out). Needs rate.",
        examples: [3],
      }),
    connections: z
      .number()
      .int()
      .min(1, { error: "is below 1" })
      .max(65_535, { error: "is above 65535" })
      .optional()
      .meta({
        description:
          "At most this many concurrent connections per source (ct count, 1 to 65535); a new one above it is refused.",
        examples: [10],
      }),
    ipv4Prefix: z
      .number()
      .int()
      .min(8, { error: "is below 8" })
      .max(32, { error: "is above 32" })
      .default(32)
      .meta({ description: "What one IPv4 source is: the address (32, default) or its /N network.", examples: [24] }),
    ipv6Prefix: z
      .number()
      .int()
      .min(16, { error: "is below 16" })
      .max(128, { error: "is above 128" })
      .default(64)
      .meta({
        description: "What one IPv6 source is: its /N network (64, default: one site's LAN), 128 for the address.",
        examples: [56],
      }),
    exemptSources: z
      .array(PrefixSchema)
      .min(1, { error: "is empty; leave it out to exempt no source" })
      .optional()
      .meta({
        description:
          "Sources the limit never applies to (the admin network, monitoring, the deployer: see docs/policy.md).",
        examples: [["198.51.100.10"]],
      }),
    log: z
      .boolean()
      .default(false)
      .meta({
        description:
          "Log what the limit refuses, at the policy's log rate and prefix (log.rate, log.prefix). Default false.",
        examples: [true],
      }),
  })
  .refine((limit) => limit.rate !== undefined || limit.connections !== undefined, {
    error: "needs rate, connections or both",
  })
  .refine((limit) => limit.burst === undefined || limit.rate !== undefined, {
    error: "burst needs a rate",
    path: ["burst"],
  });

export type Limit = z.output<typeof LimitSchema>;
