/**
 * The one source of the documentation: every field of every zod schema a user writes or reads
 * has a description (`.meta({ description })`), and provider/schema.json is what `npm run schema`
 * generates from them now (the engine suite checks the plugin serves exactly this file).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CatalogExposureSchema } from "../../src/catalog";
import { ConnectionSchema } from "../../src/model/connection";
import { HostOptionsSchema } from "../../src/model/host-options";
import { CustomExposureSchema, PolicySchema } from "../../src/model/policy";
import { packageSchema } from "../../src/pulumi/schema";
import { FirewallOutputsSchema, TableOutputsSchema } from "../../src/pulumi/types";
import { PACKAGE_VERSION } from "../../src/pulumi/version";

type Json = {
  description?: string;
  properties?: Record<string, Json>;
  items?: Json;
  anyOf?: Json[];
  additionalProperties?: Json | boolean;
};

/** `owner.field` of every property, at any depth, that has no description. */
function undescribed(json: Json, at: string): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(json.properties ?? {})) {
    if (!value.description?.trim()) out.push(`${at}.${key}`);
    out.push(...undescribed(value, `${at}.${key}`));
  }
  if (json.items) out.push(...undescribed(json.items, `${at}[]`));
  for (const option of json.anyOf ?? []) out.push(...undescribed(option, at));
  if (typeof json.additionalProperties === "object") out.push(...undescribed(json.additionalProperties, `${at}{}`));
  return out;
}

const SCHEMAS: Record<string, z.ZodType> = {
  policy: PolicySchema,
  custom: CustomExposureSchema,
  connection: ConnectionSchema,
  hostOptions: HostOptionsSchema,
  firewallOutputs: FirewallOutputsSchema,
  tableOutputs: TableOutputsSchema,
  ...Object.fromEntries(
    (CatalogExposureSchema as unknown as { options: z.ZodObject[] }).options.map((o) => [
      String(o.shape.service!.def.values?.[0] ?? "?"),
      o,
    ]),
  ),
};

describe("field descriptions", () => {
  it("every field of the policy, each catalog service, the connection, the host options and the outputs has one", () => {
    const missing = Object.entries(SCHEMAS).flatMap(([name, schema]) =>
      undescribed(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json, name),
    );
    expect(missing).toEqual([]);
    expect(Object.keys(SCHEMAS)).toContain("ftp");
  });

  it("a field without one stops the schema build, naming it", () => {
    const bare = z.strictObject({
      ...(CustomExposureSchema.shape as z.ZodRawShape),
      undocumented: z.string().optional(),
    });
    expect(undescribed(z.toJSONSchema(bare, { io: "input" }) as Json, "custom")).toEqual(["custom.undocumented"]);
  });
});

describe("provider/schema.json", () => {
  it("is what `npm run schema` generates from the zod schemas now", () => {
    const committed = JSON.parse(
      fs.readFileSync(path.resolve(__dirname, "../../provider/schema.json"), "utf8"),
    ) as unknown;
    const fresh = JSON.parse(JSON.stringify(packageSchema(PACKAGE_VERSION))) as unknown;
    // stale: run `npm run schema` and commit provider/schema.json
    expect(committed).toEqual(fresh);
  });
});
