/**
 * The provider plugin as the engine sees it: `pulumi package get-schema` starts
 * bin/pulumi-resource-hardened-nftables (the compiled plugin) and prints the schema it serves,
 * which must be provider/schema.json exactly (`npm run schema` regenerates the file). The schema
 * types every exposure field of every catalog service, documents every property and keeps the
 * connection secret.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { CatalogExposureSchema } from "../../src/catalog";
import { CustomExposureSchema } from "../../src/model/policy";
import { packageSchema } from "../../src/pulumi/schema";
import { PACKAGE_VERSION } from "../../src/pulumi/version";
import { engineBinDir, REPO } from "../support/engine";

const PLUGIN = path.join(REPO, "bin", "pulumi-resource-hardened-nftables");
type Schema = ReturnType<typeof packageSchema>;

describe("the hardened-nftables provider plugin's schema", () => {
  let home: string;
  let served: Schema;

  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-get-schema-"));
    const out = execFileSync(path.join(engineBinDir(), "pulumi"), ["package", "get-schema", PLUGIN], {
      cwd: home,
      env: {
        ...process.env,
        PULUMI_HOME: home,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      },
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    served = JSON.parse(out) as Schema;
  }, 120_000);
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

  it("`pulumi package get-schema` prints exactly provider/schema.json, for this package version", () => {
    const file = JSON.parse(fs.readFileSync(path.join(REPO, "provider", "schema.json"), "utf8")) as Schema;
    expect(served).toEqual(file);
    expect(served).toEqual(JSON.parse(JSON.stringify(packageSchema(PACKAGE_VERSION))));
    expect(served.name).toBe("hardened-nftables");
    expect(served.version).toBe(PACKAGE_VERSION);
    expect(Object.keys(served.resources).sort()).toEqual([
      "hardened-nftables:index:HostFirewall",
      "hardened-nftables:index:HostTable",
    ]);
    expect(served.resources["hardened-nftables:index:HostFirewall"].isComponent).toBe(true);
  });

  it("the exposure type has every field of every catalog service and of custom exposures, each documented", () => {
    const exposure = served.types["hardened-nftables:index:Exposure"]!;
    const fields = new Set<string>();
    for (const option of [
      ...(CatalogExposureSchema as unknown as { options: z.ZodType[] }).options,
      CustomExposureSchema,
    ]) {
      const json = z.toJSONSchema(option, { io: "input", unrepresentable: "any" }) as {
        properties: Record<string, unknown>;
      };
      for (const key of Object.keys(json.properties)) fields.add(key);
    }
    expect(Object.keys(exposure.properties).sort()).toEqual([...fields].sort());
    expect(fields).toContain("passivePorts");
    expect(fields).toContain("rtpPorts");
    expect(exposure.properties.ports!.oneOf!.map((t) => t.type)).toEqual(["integer", "string", "array"]);
    const exposures = served.resources["hardened-nftables:index:HostFirewall"].inputProperties.exposures!;
    expect(exposures.items).toEqual({ $ref: "#/types/hardened-nftables:index:Exposure" });
  });

  it("every property of every type and resource has a description, and the connection is secret", () => {
    const undocumented: string[] = [];
    const visit = (owner: string, props: Record<string, { description?: string }>) => {
      for (const [k, v] of Object.entries(props))
        if (!v.description || v.description.length < 10) undocumented.push(`${owner}.${k}`);
    };
    for (const [name, t] of Object.entries(served.types)) {
      expect(t.description.length, name).toBeGreaterThan(10);
      visit(name, t.properties);
    }
    for (const [name, r] of Object.entries(served.resources)) {
      visit(`${name} input`, r.inputProperties);
      visit(`${name} output`, r.properties);
      expect((r.inputProperties as Record<string, { secret?: boolean }>).connection!.secret, name).toBe(true);
    }
    expect(undocumented).toEqual([]);
    expect(
      (served.resources["hardened-nftables:index:HostTable"].properties as Record<string, unknown>).rules,
    ).toMatchObject({ type: "object", additionalProperties: { type: "string" } });
  });
});
