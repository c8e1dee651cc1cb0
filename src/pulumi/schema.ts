/**
 * The Pulumi package schema the provider plugin serves (`pulumi package get-schema`), built from
 * the policy model itself: every field's type and description come from the zod schemas (src/model,
 * src/catalog, types.ts) through zod's JSON Schema export, the description from the field's
 * `.meta({ description })`. A field without a description, or an object without a type name, stops
 * the build: nothing reaches the generated SDKs untyped or undocumented. Pure.
 *
 * The exposure list is one object type with every field of every catalog service (and of custom
 * exposures): the languages Pulumi generates SDKs for have no tagged unions, and the provider's
 * check validates each exposure against its own service. Each field says which services take it.
 */
import { z } from "zod";
import { CatalogExposureSchema, serviceNames } from "../catalog";
import { CustomExposureSchema } from "../model/policy";
import { HOST_FIREWALL_TOKEN, HOST_TABLE_TOKEN, PACKAGE } from "./tokens";
import { FirewallOutputsSchema, HostArgsFields, PolicyArgsSchema, TableOutputsSchema } from "./types";

export { HOST_FIREWALL_TOKEN, HOST_TABLE_TOKEN, PACKAGE } from "./tokens";

type Json = Record<string, unknown> & {
  type?: unknown;
  description?: string;
  properties?: Record<string, Json>;
  items?: Json;
  additionalProperties?: Json | boolean;
  anyOf?: Json[];
  required?: string[];
  const?: unknown;
};
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

/**
 * The SDK type each object-valued field becomes (`<Owner>.<field>`), and the description of the
 * types that are more than a field's value (the others: "<Name> (see HostFirewall's <field>).").
 */
const OBJECT_TYPES: Record<string, { readonly name: string; readonly description?: string }> = {
  policy: {
    name: "Policy",
    description:
      "A host's firewall policy: what it exposes, and how forward, output, ICMP, logging and conntrack behave.",
  },
  "Policy.exposures": {
    name: "Exposure",
    description:
      'One thing the host offers to the network: a catalog service (with its own fields, documented per service) or a custom port exposure (service "custom", with name, protocol and ports).',
  },
  "Policy.forward": { name: "ForwardPolicy" },
  "Policy.output": { name: "OutputPolicy" },
  "Policy.icmp": { name: "IcmpPolicy" },
  "Policy.log": { name: "LogPolicy" },
  "Policy.conntrack": { name: "ConntrackPolicy" },
  "OutputPolicy.allow": { name: "OutputAllow" },
  "Exposure.limit": {
    name: "ExposureLimit",
    description: "Per-source limits on new and concurrent connections to an exposure.",
  },
  "Policy.blockSets": {
    name: "BlockSet",
    description:
      "A set whose elements another tool writes (fail2ban, CrowdSec, a script); its sources are dropped early.",
  },
  "Policy.deny": { name: "DenyPolicy" },
  "arguments.connection": {
    name: "Connection",
    description:
      "How to reach a host over SSH (the fields of @pulumi/command's remote.ConnectionArgs, plus insecureIgnoreHostKey and sudo).",
  },
  "Connection.proxy": { name: "ProxyConnection" },
  "arguments.hostPaths": { name: "HostPaths", description: "Where the project's state and lock live on the host." },
  "outputs.hostProfile": {
    name: "ProbedProfile",
    description: "What the provider learned about the host when it last probed it.",
  },
};

const toJson = (schema: z.ZodType): Json => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json;

class SchemaBuilder {
  readonly types: Record<string, ObjectSpec> = {};

  /** Registers `name` as an object type with the properties of `json`. */
  object(name: string, json: Json, description: string): TypeSpec {
    const properties = this.properties(name, json);
    const required = (json.required ?? []).filter((k) => k !== "service");
    this.types[`${PACKAGE}:index:${name}`] = {
      type: "object",
      description,
      properties,
      ...(required.length > 0 ? { required } : {}),
    };
    return ref(name);
  }

  /** The properties of an object's JSON schema, each typed and described. */
  properties(owner: string, json: Json): Record<string, PropertySpec> {
    const properties: Record<string, PropertySpec> = {};
    for (const [key, value] of Object.entries(json.properties ?? {}))
      properties[key] = this.property(owner, key, value);
    return properties;
  }

  property(owner: string, key: string, json: Json): PropertySpec {
    const { description } = json;
    if (!description)
      throw new Error(`schema: ${owner}.${key} has no description (give the zod field .meta({ description }))`);
    return { ...this.type(`${owner}.${key}`, json), description };
  }

  type(path: string, json: Json): TypeSpec {
    if (json.anyOf) return { oneOf: json.anyOf.flatMap((j) => this.alternatives(path, j)) };
    if (Array.isArray(json.type))
      return { oneOf: json.type.map((t) => ({ type: t === "number" ? "integer" : String(t) })) };
    switch (json.type) {
      case "string":
      case "integer":
      case "number":
      case "boolean":
        return { type: json.type };
      case "array":
        return { type: "array", items: this.type(path, json.items ?? {}) };
      case "object": {
        // a map (z.record): one key per line
        if (!json.properties && typeof json.additionalProperties === "object") {
          return { type: "object", additionalProperties: this.type(path, json.additionalProperties) };
        }
        const named = OBJECT_TYPES[path];
        if (!named)
          throw new Error(`schema: no type name for the object at ${path} (src/pulumi/schema.ts OBJECT_TYPES)`);
        return this.object(
          named.name,
          json,
          named.description ?? `${named.name} (see HostFirewall's ${path.split(".").pop()}).`,
        );
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

/** "ftp only (required)", "tftp (required), sane and amanda": the services that take a field. */
function takenBy(services: readonly { service: string; required: boolean }[]): string {
  const names = services.map((s) => (s.required && services.length > 1 ? `${s.service} (required)` : s.service));
  if (names.length === 1) return `${names[0]} only${services[0]!.required ? " (required)" : ""}`;
  return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/** "The passive data range" -> "the passive data range" (after a prefix); "RTP" stays. */
const continuing = (text: string): string =>
  /^[A-Z][a-z]/.test(text) ? `${text[0]!.toLowerCase()}${text.slice(1)}` : text;

/**
 * Every field of every catalog service and of custom exposures, in one object: its type from the
 * first service that has it, its description prefixed by the services that take it (when not all
 * do); `service` and `helper` are literals per service, in the merged type plain strings.
 */
function mergedExposure(): Json {
  const options = [...(CatalogExposureSchema as unknown as { options: z.ZodType[] }).options, CustomExposureSchema].map(
    toJson,
  );
  const holders = new Map<string, { json: Json; services: { service: string; required: boolean }[] }>();
  for (const option of options) {
    const service = String(option.properties?.service?.const ?? "custom");
    for (const [key, value] of Object.entries(option.properties ?? {})) {
      const entry = holders.get(key) ?? { json: value, services: [] };
      entry.services.push({ service, required: (option.required ?? []).includes(key) });
      holders.set(key, entry);
    }
  }
  const properties: Record<string, Json> = {};
  for (const [key, { json, services }] of holders) {
    let description = json.description;
    if (key === "service")
      description = `${description} Catalog services: ${serviceNames.map((n) => JSON.stringify(n)).join(", ")}.`;
    else if (services.length < options.length && description)
      description = `${takenBy(services)}: ${continuing(description)}`;
    properties[key] =
      key === "service" || key === "helper" ? { type: "string", description } : { ...json, description };
  }
  return { type: "object", properties };
}

function policyJson(): Json {
  const json = toJson(PolicyArgsSchema);
  const exposures = json.properties!.exposures!;
  return {
    ...json,
    properties: { ...json.properties, exposures: { ...exposures, items: mergedExposure() } },
    required: ["exposures"],
  };
}

/** The Go SDK's module: `pulumi package add` names it in the consumer's go.mod replace line. */
export const GO_MODULE = "github.com/hardened-nftables/pulumi-hardened-nftables/sdk/go";

/**
 * Where the engine downloads the plugin archive when it is not installed: the release's assets,
 * `${VERSION}` filled in by the engine, the archive's name (pulumi-resource-hardened-nftables-v<version>-<os>-<arch>.tar.gz)
 * appended (docs/release.md). package.json's `pulumi.server` is the same URL.
 */
export const PLUGIN_DOWNLOAD_URL =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VERSION} is the engine's placeholder, filled in when it downloads
  "https://github.com/hardened-nftables/pulumi-hardened-nftables/releases/download/v${VERSION}";

/** The package schema for provider version `version`. */
export function packageSchema(version: string) {
  const b = new SchemaBuilder();
  const policyJsonSchema = policyJson();
  const policy = b.type("policy", policyJsonSchema);
  const policyType = b.types[`${PACKAGE}:index:Policy`]!;

  const args = b.properties("arguments", toJson(z.object(HostArgsFields)));
  args.connection!.secret = true;

  const firewallInputs = { ...policyType.properties, ...args };
  const firewallOutputs = b.properties("outputs", toJson(FirewallOutputsSchema));
  const tableInputs = {
    ...args,
    policy: {
      ...policy,
      description: `${policyJsonSchema.description!} The provider also takes it as its JSON text, which is what HostFirewall passes: one value in every engine message and state copy instead of one per prefix.`,
    },
  };
  const tableOutputs = b.properties("outputs", toJson(TableOutputsSchema));

  return {
    name: PACKAGE,
    displayName: "Hardened nftables",
    version,
    description:
      "A host's nftables firewall and conntrack-helper hardening as declarative state: rendered default-drop, validated with nft -c on the host, applied over SSH with an on-host rollback, observed for drift on refresh.",
    keywords: ["nftables", "firewall", "ssh", "category/infrastructure", "kind/component"],
    license: "Apache-2.0",
    pluginDownloadURL: PLUGIN_DOWNLOAD_URL,
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
        // rules lives in the stored inputs only (types.ts): an output the provider never sets is not required
        required: ["table", "connection", "policy", ...Object.keys(tableOutputs).filter((k) => k !== "rules")],
      },
    },
  };
}
