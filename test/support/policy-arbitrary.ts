import fc from "fast-check";
import { z } from "zod";
import { CatalogExposureSchema } from "../../src/catalog";

const port = fc.integer({ min: 1, max: 65535 });
const range = fc.tuple(port, port).map(([a, b]) => (a === b ? a : `${Math.min(a, b)}-${Math.max(a, b)}`));
const v4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([a, l]) => `${a}/${l}`);
const v6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([a, l]) => `${a}/${l}`);
const sources = fc.option(fc.array(fc.oneof(v4, v4, v6), { minLength: 1, maxLength: 12 }), { nil: undefined });
const comment = fc.option(fc.stringMatching(/^[A-Za-z0-9 .,:_()-]{0,40}$/), { nil: undefined });
const rate = fc
  .tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom("second", "minute", "hour", "day"))
  .map(([n, u]) => `${n}/${u}`);
const limit = fc.option(
  fc
    .record({
      rate: fc.option(rate, { nil: undefined }),
      burst: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
      connections: fc.option(fc.integer({ min: 1, max: 1000 }), { nil: undefined }),
      ipv4Prefix: fc.option(fc.integer({ min: 8, max: 32 }), { nil: undefined }),
      ipv6Prefix: fc.option(fc.integer({ min: 16, max: 128 }), { nil: undefined }),
      exemptSources: sources,
      log: fc.boolean(),
    })
    // Mostly valid: a burst only with a rate, and a rate or a connection count.
    .map((l) => ({
      ...l,
      rate: l.rate ?? (l.connections ? undefined : "6/minute"),
      burst: l.rate ? l.burst : undefined,
    }))
    .map((l) => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== undefined))),
  { nil: undefined, freq: 3 },
);
const blockSet = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/).map((n) => `bl-${n}`),
  family: fc.constantFrom("ipv4", "ipv6"),
  timeout: fc.tuple(fc.integer({ min: 1, max: 999 }), fc.constantFrom("s", "m", "h", "d")).map(([n, u]) => `${n}${u}`),
  size: fc.option(fc.integer({ min: 1, max: 1 << 20 }), { nil: undefined }),
});
// interface names as Linux allows them, sometimes with nft's trailing wildcard; destinations are
// random prefixes, so some are multicast or cover everything and the policy is refused
const ifname = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9._-]{0,13}$/), fc.boolean())
  .map(([n, wild]) => (wild ? `${n}*` : n));
const sometimes = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
const interfaces = sometimes(fc.array(ifname, { minLength: 1, maxLength: 3 }));
const ownV4 = fc
  .tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 254 }))
  .map(([a, b, c]) => `198.${18 + a}.${b}.${c}`);
const ownV6 = fc.integer({ min: 1, max: 0xffff }).map((n) => `2001:2::${n.toString(16)}`);
const destinations = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 5 },
  {
    arbitrary: fc.array(fc.oneof({ arbitrary: ownV4, weight: 4 }, { arbitrary: ownV6, weight: 2 }, v4, v6), {
      minLength: 1,
      maxLength: 3,
    }),
    weight: 1,
  },
);

const withCommon = <T extends Record<string, unknown>>(base: fc.Arbitrary<T>): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      base,
      sources,
      comment,
      limit,
      ports: fc.option(fc.oneof(range, fc.array(range, { minLength: 1, maxLength: 3 })), { nil: undefined }),
      interfaces,
      destinations,
    })
    .map(({ base: b, sources: s, comment: c, limit: l, ports: p, interfaces: i, destinations: d }) => ({
      ...b,
      ...(s ? { sources: s } : {}),
      ...(c ? { comment: c } : {}),
      ...(l ? { limit: l } : {}),
      ...(p !== undefined ? { ports: p } : {}),
      ...(i ? { interfaces: i } : {}),
      ...(d ? { destinations: d } : {}),
    }));

type FieldJson = { const?: unknown; enum?: unknown[]; type?: unknown };

/** A value of one service-specific field, from its JSON schema: enums and literals as declared, port fields as ranges. */
function fieldValue(json: FieldJson): fc.Arbitrary<unknown> {
  if (json.const !== undefined) return fc.constant(json.const);
  if (json.enum) return fc.constantFrom(...json.enum);
  if (json.type === "boolean") return fc.boolean();
  return range;
}

/** Fields withCommon sets (or the service's own literal). */
const COMMON = new Set(["service", "name", "ports", "sources", "comment", "limit", "interfaces", "destinations"]);

/** Every catalog service (src/catalog), each with every field of its own schema. */
const catalogExposures = (CatalogExposureSchema as unknown as { options: z.ZodType[] }).options.map((option) => {
  const { properties } = z.toJSONSchema(option, { io: "input", unrepresentable: "any" }) as {
    properties: Record<string, FieldJson>;
  };
  const own = Object.entries(properties).filter(([key]) => !COMMON.has(key));
  return withCommon(
    fc.record({
      service: fc.constant(properties.service!.const),
      ...Object.fromEntries(own.map(([key, json]) => [key, fieldValue(json)])),
    }),
  );
});

const exposure = fc.oneof(
  ...catalogExposures,
  withCommon(
    fc.record({
      name: fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/),
      protocol: fc.constantFrom("tcp", "udp", "sctp"),
      ports: range,
    }),
  ),
  fc
    .record({
      name: fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/),
      protocol: fc.constantFrom("esp", "ah", "gre", "vrrp", "igmp"),
      sources,
      interfaces,
    })
    .map((e) => Object.fromEntries(Object.entries(e).filter(([, v]) => v !== undefined))),
);

/** Random policies; many are valid, and callers filter with parsePolicy. */
export const policyArbitrary = fc
  .record({
    table: fc.stringMatching(/^[a-z][a-z0-9_]{2,12}$/).map((t) => `t_${t}`),
    exposures: fc.array(exposure, { minLength: 1, maxLength: 6 }),
    forward: fc.record(
      {
        policy: fc.constantFrom("drop", "accept"),
        guestInterfaces: fc.subarray(["docker0", "br-*", "virbr0", "cni0", "podman*", "lxdbr0"], { minLength: 1 }),
      },
      { requiredKeys: ["policy"] },
    ),
    output: fc.record({
      policy: fc.constantFrom("accept", "drop"),
      allow: fc.array(
        fc.record({
          name: fc.stringMatching(/^[a-z][a-z0-9]{0,6}$/),
          protocol: fc.constantFrom("tcp", "udp"),
          ports: range,
        }),
        { maxLength: 2 },
      ),
    }),
    icmp: fc.record({ echo: fc.boolean() }),
    log: fc.record({ dropped: fc.boolean() }),
    blockSets: fc
      .uniqueArray(blockSet, { maxLength: 3, selector: (b) => b.name })
      .map((sets) => sets.map((b) => Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)))),
    deny: fc.record({ sources: fc.array(fc.oneof(v4, v6), { maxLength: 20 }) }),
    conntrack: fc.record({ max: fc.option(fc.integer({ min: 1024, max: 1 << 22 }), { nil: undefined }) }),
    trustedInterfaces: sometimes(fc.array(ifname, { minLength: 1, maxLength: 2 })),
    denied: fc.constantFrom("drop", "reject"),
    reversePath: fc.constantFrom("strict", "loose", "off"),
  })
  .map((p) => (p.trustedInterfaces === undefined ? (({ trustedInterfaces: _, ...rest }) => rest)(p) : p));
