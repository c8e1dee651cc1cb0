/**
 * The Pulumi package schema the provider plugin serves (`pulumi package get-schema`), built from
 * the policy model itself: every field's type comes from the zod schemas (src/model, src/catalog)
 * through zod's JSON Schema export, every field's text from schema-docs.ts. A field without
 * documentation, or an object without a type name, stops the build: nothing reaches the
 * generated SDKs untyped or undocumented. Pure.
 *
 * The exposure list is one object type with every field of every catalog service (and of custom
 * exposures): the languages Pulumi generates SDKs for have no tagged unions, and the provider's
 * check validates each exposure against its own service.
 */
import { z } from "zod";
import { CatalogExposureSchema } from "../catalog";
import { ConnectionSchema } from "../model/connection";
import { CustomExposureSchema, PolicyFields } from "../model/policy";
import {
  ARGUMENT_DOCS,
  EXPOSURE_DOCS,
  FIREWALL_OUTPUT_DOCS,
  NESTED_DOCS,
  POLICY_DOCS,
  TABLE_OUTPUT_DOCS,
} from "./schema-docs";

export const PACKAGE = "hardened-nftables";
export const HOST_FIREWALL_TOKEN = `${PACKAGE}:index:HostFirewall`;
export const HOST_TABLE_TOKEN = `${PACKAGE}:index:HostTable`;

type Json = Record<string, unknown> & { type?: unknown; properties?: Record<string, Json>; items?: Json; anyOf?: Json[]; required?: string[] };
export interface TypeSpec {
  type?: string;
  $ref?: string;
  items?: TypeSpec;
  additionalProperties?: TypeSpec;
  oneOf?: TypeSpec[];
}
export interface PropertySpec extends TypeSpec {
  description: string;
  secret?: boolean;
}
interface ObjectSpec {
  type: "object";
  description: string;
  properties: Record<string, PropertySpec>;
  required?: string[];
}

const ref = (name: string): TypeSpec => ({ $ref: `#/types/${PACKAGE}:index:${name}` });
const STRING: TypeSpec = { type: "string" };
const LINE_MAP: TypeSpec = { type: "object", additionalProperties: STRING };

/** Object-valued fields and the type each becomes (`<Owner>.<field>`). */
const OBJECT_NAMES: Record<string, string> = {
  policy: "Policy",
  "Policy.exposures": "Exposure",
  "Policy.forward": "ForwardPolicy",
  "Policy.output": "OutputPolicy",
  "Policy.icmp": "IcmpPolicy",
  "Policy.log": "LogPolicy",
  "Policy.conntrack": "ConntrackPolicy",
  "OutputPolicy.allow": "OutputAllow",
  "Connection.proxy": "ProxyConnection",
};

const toJson = (schema: z.ZodType): Json => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json;

const DOCS_OF: Record<string, Record<string, string>> = { ...NESTED_DOCS, Policy: POLICY_DOCS, Exposure: EXPOSURE_DOCS };

class SchemaBuilder {
  readonly types: Record<string, ObjectSpec> = {};

  /** Registers `name` as an object type with `properties`, each documented by `docs`. */
  object(name: string, json: Json, docs: Record<string, string>, description: string): TypeSpec {
    const properties: Record<string, PropertySpec> = {};
    for (const [key, value] of Object.entries(json.properties ?? {})) properties[key] = this.property(name, key, value, docs);
    const required = (json.required ?? []).filter((k) => k !== "service");
    this.types[`${PACKAGE}:index:${name}`] = { type: "object", description, properties, ...(required.length > 0 ? { required } : {}) };
    return ref(name);
  }

  property(owner: string, key: string, json: Json, docs: Record<string, string>): PropertySpec {
    const description = docs[key];
    if (!description) throw new Error(`schema: ${owner}.${key} has no documentation (src/pulumi/schema-docs.ts)`);
    return { ...this.type(`${owner}.${key}`, json), description };
  }

  type(path: string, json: Json): TypeSpec {
    if (json.anyOf) return { oneOf: json.anyOf.flatMap((j) => this.alternatives(path, j)) };
    if (Array.isArray(json.type)) return { oneOf: json.type.map((t) => ({ type: t === "number" ? "integer" : String(t) })) };
    switch (json.type) {
      case "string":
      case "integer":
      case "number":
      case "boolean":
        return { type: json.type };
      case "array":
        return { type: "array", items: this.type(path, json.items ?? {}) };
      case "object": {
        const name = OBJECT_NAMES[path];
        if (!name) throw new Error(`schema: no type name for the object at ${path}`);
        const docs = DOCS_OF[name];
        if (!docs) throw new Error(`schema: no documentation for ${name} (src/pulumi/schema-docs.ts)`);
        return this.object(name, json, docs, `${name} (see HostFirewall's ${path.split(".").pop()}).`);
      }
      default:
        throw new Error(`schema: ${path} has no type Pulumi can express`);
    }
  }

  private alternatives(path: string, json: Json): TypeSpec[] {
    const t = this.type(path, json);
    return t.oneOf ?? [t];
  }
}

/** Every field of every catalog service and of custom exposures, in one object (first definition wins). */
function mergedExposure(): Json {
  const options = [...(CatalogExposureSchema as unknown as { options: z.ZodType[] }).options, CustomExposureSchema].map(toJson);
  const properties: Record<string, Json> = {};
  for (const option of options) {
    for (const [key, value] of Object.entries(option.properties ?? {})) {
      // service and helper are literals per service: in the merged type, plain strings
      properties[key] ??= key === "service" || key === "helper" ? { type: "string" } : value;
    }
  }
  return { type: "object", properties };
}

function policyJson(): Json {
  const json = toJson(z.strictObject(PolicyFields).omit({ table: true }));
  return { ...json, properties: { ...json.properties, exposures: { type: "array", items: mergedExposure() } }, required: ["exposures"] };
}

const HOST_PATHS_JSON: Json = { type: "object", properties: { stateRoot: { type: "string" }, runRoot: { type: "string" } } };
const PROFILE_JSON: Json = {
  type: "object",
  properties: {
    kernel: { type: "string" },
    kernelRelease: { type: "string" },
    nftVersion: { type: "string" },
    helperSysctl: { type: "boolean" },
    helperModuleParam: { type: "boolean" },
  },
  required: ["kernel", "kernelRelease", "nftVersion", "helperSysctl", "helperModuleParam"],
};

const documented = (docs: Record<string, string>, specs: Record<string, TypeSpec>): Record<string, PropertySpec> =>
  Object.fromEntries(
    Object.entries(specs).map(([key, spec]) => {
      const description = docs[key];
      if (!description) throw new Error(`schema: ${key} has no documentation (src/pulumi/schema-docs.ts)`);
      return [key, { ...spec, description }];
    }),
  );

/** The package schema for provider version `version`. */
/** The Go SDK's module: `pulumi package add` names it in the consumer's go.mod replace line. */
export const GO_MODULE = "github.com/hardened-nftables/pulumi-hardened-nftables/sdk/go";

export function packageSchema(version: string) {
  const b = new SchemaBuilder();
  const policy = b.type("policy", policyJson());
  const policyType = b.types[`${PACKAGE}:index:Policy`]!;
  policyType.description = "A host's firewall policy: what it exposes, and how forward, output, ICMP, logging and conntrack behave.";
  b.types[`${PACKAGE}:index:Exposure`]!.description =
    'One thing the host offers to the network: a catalog service (with its own fields, documented per service) or a custom port exposure (service "custom", with name, protocol and ports).';
  const connection = b.object("Connection", toJson(ConnectionSchema), NESTED_DOCS.Connection!, "How to reach a host over SSH (the fields of @pulumi/command's remote.ConnectionArgs, plus insecureIgnoreHostKey and sudo).");
  const hostPaths = b.object("HostPaths", HOST_PATHS_JSON, NESTED_DOCS.HostPaths!, "Where the project's state and lock live on the host.");
  const profile = b.object("ProbedProfile", PROFILE_JSON, NESTED_DOCS.ProbedProfile!, "What the provider learned about the host when it last probed it.");

  const commonArgs: Record<string, TypeSpec> = {
    connection,
    table: STRING,
    hostPaths,
    confirmTimeoutSeconds: { type: "integer" },
    allowOtherTables: { oneOf: [{ type: "boolean" }, { type: "array", items: STRING }] },
  };
  const args = documented(ARGUMENT_DOCS, commonArgs);
  args.connection!.secret = true;

  const firewallInputs = { ...policyType.properties, ...args };
  const firewallOutputs = documented(FIREWALL_OUTPUT_DOCS, {
    table: STRING,
    target: STRING,
    renderedTable: STRING,
    ruleLines: { type: "array", items: STRING },
    sysctlConf: STRING,
    modprobeConf: STRING,
    hostProfile: profile,
    appliedHash: STRING,
    inSync: { type: "boolean" },
    drift: { type: "array", items: STRING },
    driftSummary: STRING,
    warnings: { type: "array", items: STRING },
  });
  const tableInputs = { ...args, policy: { ...policy, description: ARGUMENT_DOCS.policy! } };
  const tableOutputs = documented(TABLE_OUTPUT_DOCS, {
    target: STRING,
    rules: LINE_MAP,
    sysctl: LINE_MAP,
    modprobe: LINE_MAP,
    drift: { type: "array", items: STRING },
    hostProfile: profile,
    appliedHash: STRING,
    inSync: { type: "boolean" },
    driftSummary: STRING,
    warnings: { type: "array", items: STRING },
    keptLoadable: { type: "array", items: STRING },
  });

  return {
    name: PACKAGE,
    displayName: "Hardened nftables",
    version,
    description:
      "A host's nftables firewall and conntrack-helper hardening as declarative state: rendered default-drop, validated with nft -c on the host, applied over SSH with an on-host rollback, observed for drift on refresh.",
    keywords: ["nftables", "firewall", "ssh", "category/infrastructure", "kind/component"],
    license: "Apache-2.0",
    meta: { moduleFormat: "(.*)" },
    // without them Go's SDK would be the placeholder module example.com/pulumi-hardened-nftables/sdk/go
    language: { go: { importBasePath: `${GO_MODULE}/hardenednftables`, modulePath: GO_MODULE } },
    config: {},
    types: b.types,
    resources: {
      [HOST_FIREWALL_TOKEN]: {
        isComponent: true,
        description:
          "A host's firewall: one hardened `table inet` plus its sysctl.d/modprobe.d files on one host reached over SSH, applied with an on-host rollback and checked for drift on refresh. Its child HostTable carries the host's state.",
        inputProperties: firewallInputs,
        requiredInputs: ["exposures", "connection"],
        properties: firewallOutputs,
        required: Object.keys(firewallOutputs),
      },
      [HOST_TABLE_TOKEN]: {
        description:
          "One nftables table on one host: check renders it, create/update apply it safely (nft -c on the host, on-host rollback unless a new SSH connection confirms), read observes drift, delete removes the table and its files. Import id: `[user@]host[:port]/table` (see docs/provider.md).",
        inputProperties: tableInputs,
        requiredInputs: ["table", "connection", "policy"],
        properties: { ...tableInputs, ...tableOutputs },
        required: ["table", "connection", "policy", ...Object.keys(tableOutputs)],
      },
    },
  };
}
