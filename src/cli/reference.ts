/**
 * The reference of everything a policy and a host command take, generated from the zod schemas'
 * metadata (each field's `.meta({ description, examples })`) and the catalog: docs/reference.md
 * (`npm run docs`) and `hardened-nftables reference` print this text. Pure.
 */
import { z } from "zod";
import type { Service } from "../catalog";
import { CatalogExposureSchema, exposedService, services } from "../catalog";
import { HelperMode } from "../catalog/schema-helpers";
import { commonFields, SERVICE_FIELD } from "../fields/exposure";
import { formatRange, formatRanges } from "../fields/ports";
import { ConnectionSchema } from "../model/connection";
import { CONFIRM_TIMEOUT_BOUNDS, HostOptionsFields } from "../model/host-options";
import { CustomExposureSchema, PolicyFields } from "../model/policy";
import { HOST_OPTION_FLAGS } from "./host-command";

type Json = {
  type?: unknown;
  const?: unknown;
  enum?: unknown[];
  anyOf?: Json[];
  items?: Json;
  default?: unknown;
  description?: string;
  examples?: unknown[];
  additionalProperties?: Json | boolean;
};

interface Row {
  readonly path: string;
  readonly type: string;
  /** "required", the default, or "" (optional, no default). */
  readonly default: string;
  readonly description: string;
  readonly example: string;
}

const toJson = (schema: z.ZodType): Json => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Json;

type Def = {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  defaultValue?: unknown;
};
const defOf = (schema: z.ZodType): Def => (schema as unknown as { def: Def }).def;

/** The schemas inside `schema`'s wrappers (optional, default, pipe...), outermost first. */
function layers(schema: z.ZodType): z.ZodType[] {
  const out: z.ZodType[] = [schema];
  for (let def = defOf(schema); ; def = defOf(out[out.length - 1]!)) {
    const inner = def.innerType ?? (def.type === "pipe" ? def.in : undefined);
    if (!inner) return out;
    out.push(inner);
  }
}

/** A field's metadata: the outermost `.meta()` among its wrappers. */
function metaOf(schema: z.ZodType): { description?: string; examples?: unknown[] } {
  for (const layer of layers(schema)) {
    const meta = layer.meta() as { description?: string; examples?: unknown[] } | undefined;
    if (meta) return meta;
  }
  return {};
}

/** The object or array inside `schema`'s wrappers, if any. */
function container(schema: z.ZodType): { shape?: Record<string, z.ZodType>; element?: z.ZodType } {
  const inner = layers(schema).at(-1)!;
  const def = defOf(inner);
  if (def.type === "object") return { shape: (inner as unknown as { shape: Record<string, z.ZodType> }).shape };
  if (def.type === "array") return { element: def.element };
  return {};
}

function typeText(json: Json): string {
  if (json.const !== undefined) return JSON.stringify(json.const);
  if (json.enum) return json.enum.map((v) => JSON.stringify(v)).join(" or ");
  if (json.anyOf) return [...new Set(json.anyOf.map(typeText))].join(" or ");
  if (Array.isArray(json.type)) return json.type.join(" or ");
  if (json.type === "array") {
    const items = json.items ? typeText(json.items) : "values";
    return `list of ${items.includes(" or ") ? `(${items})` : items}`;
  }
  if (json.type === "object") return typeof json.additionalProperties === "object" ? "map" : "object";
  return typeof json.type === "string" ? json.type : "any";
}

const code = (value: unknown): string => (value === undefined ? "" : `\`${JSON.stringify(value)}\``);
const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function defaultText(schema: z.ZodType, json: Json): string {
  if (!schema.safeParse(undefined).success) return "required";
  const withDefault = layers(schema).find((l) => defOf(l).type === "default");
  const value = json.default ?? (withDefault ? defOf(withDefault).defaultValue : undefined);
  return value === undefined ? "" : code(value);
}

/** One row per field of `shape`, nested objects and lists of objects included (`skip`: paths not descended into). */
function rows(shape: Record<string, z.ZodType>, prefix = "", skip: Readonly<Record<string, string>> = {}): Row[] {
  return Object.entries(shape).flatMap(([key, field]) => {
    const path = prefix ? `${prefix}.${key}` : key;
    const json = toJson(field);
    const meta = metaOf(field);
    const row: Row = {
      path,
      type: skip[path] ?? typeText(json),
      default: defaultText(field, json),
      description: json.description ?? meta.description ?? "",
      example: code(meta.examples?.[0] ?? json.examples?.[0]),
    };
    if (skip[path] !== undefined) return [row];
    const { shape: inner, element } = container(field);
    if (inner) return [row, ...rows(inner, path, skip)];
    const elementShape = element ? container(element).shape : undefined;
    return elementShape ? [row, ...rows(elementShape, `${path}[]`, skip)] : [row];
  });
}

function table(header: readonly string[], body: readonly (readonly string[])[]): string[] {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...body.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ];
}

const fieldTable = (list: readonly Row[]): string[] =>
  table(
    ["Field", "Type", "Default", "Description", "Example"],
    list.map((r) => [`\`${r.path}\``, r.type, r.default, r.description, r.example]),
  );

/** The fields every exposure has: documented once, not per service. */
const COMMON = new Set(["service", ...Object.keys(commonFields), "helper"]);

/** A parsed exposure of a service with its required fields, and its data range, set from their own examples. */
function exampleExposure(schema: z.ZodType, service: Service): z.output<typeof CatalogExposureSchema> {
  const { shape } = container(schema);
  const input: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape ?? {})) {
    if (key === "service") input.service = toJson(field).const;
    else if (!field.safeParse(undefined).success || key === service.data?.field)
      input[key] = metaOf(field).examples?.[0];
  }
  return CatalogExposureSchema.parse(input);
}

function serviceSection(service: Service, schema: z.ZodType): string[] {
  const exposure = exampleExposure(schema, service);
  const exposed = exposedService(exposure);
  const out = [`### ${service.service}`, "", `${service.title}.`, ""];
  const controls = exposed.controls.map(
    (c) => `${c.protocol}/${formatRanges(c.ports)} (${c.label}${c.fixed ? "; not moved by ports" : ""})`,
  );
  out.push(
    `- Control ports: ${controls.join(", ")}${service.service === "sip" ? " (with the default transport)" : ""}`,
  );
  if (service.data) {
    const d = service.data;
    out.push(
      `- Data range: \`${d.field}\`, ${d.protocol}, ${d.label} (${d.direction === "inbound" ? "peers connect to it" : "the server sends first from it"}${d.bidirectional ? "; both ways" : ""})`,
    );
  }
  if (service.originated) {
    const o = service.originated;
    out.push(
      `- Connections the server opens: with \`${o.field}: true\`, ${o.protocol} from ${formatRanges(o.ports)} (${o.label})`,
    );
  }
  if (service.ipProtocols) out.push(`- Also passes IP protocol(s): ${service.ipProtocols.join(", ")}`);
  if (service.helper) {
    const h = service.helper;
    const kernel = h.helpers.map((k) => `\`${k.type}\` on ${k.protocol}`).join(", ");
    out.push(
      `- Helper modes: \`none\` (default), \`scoped\`: kernel helper ${kernel} (module ${h.module}${h.natModule ? `, NAT ${h.natModule}` : ""})${h.ipv4Only ? ", IPv4 only" : ""}`,
    );
    if (h.scopedWarning) out.push(`- With \`scoped\`: ${h.scopedWarning}`);
  } else out.push("- Helper modes: `none` only (no kernel helper)");
  const dataRange = exposed.dataRange;
  const settings = [
    ...service.serverSettings(dataRange),
    ...(service.originated ? service.originated.serverSettings : []),
  ];
  if (settings.length > 0) {
    out.push(`- Server settings${dataRange ? ` (for the example data range ${formatRange(dataRange)})` : ""}:`);
    for (const s of settings) out.push(`  - ${s}`);
  }
  for (const note of service.notes ?? []) out.push(`- Note: ${note}`);
  const own = Object.fromEntries(Object.entries(container(schema).shape ?? {}).filter(([key]) => !COMMON.has(key)));
  if (Object.keys(own).length > 0) out.push("", ...fieldTable(rows(own)));
  return [...out, ""];
}

/** The reference as Markdown. */
export function referenceMarkdown(): string {
  const schemas = (CatalogExposureSchema as unknown as { options: z.ZodType[] }).options;
  // the fields as a catalog service takes them, and the custom exposure's protocol
  const common = {
    service: z.string().optional().meta(SERVICE_FIELD),
    ...commonFields,
    protocol: CustomExposureSchema.shape.protocol,
    helper: HelperMode,
  };
  const flags = (path: string) => HOST_OPTION_FLAGS[path.split(".").pop()!] ?? "";
  const out = [
    "# Reference",
    "",
    "<!-- Generated by `npm run docs` from the zod schemas (src/model, src/fields, src/catalog) and the catalog; do not edit. -->",
    "",
    "Every field a policy takes, every catalog service, the host options and the connection. The",
    "policy is the same in every front end: a TypeScript or Python/Go/YAML program, or a JSON/YAML file",
    "given to the CLI (`hardened-nftables reference` prints this page).",
    "",
    "## Policy",
    "",
    ...fieldTable(rows(PolicyFields, "", { exposures: "list of exposures (below)" })),
    "",
    "## Exposures",
    "",
    "An exposure is a catalog service (`service` names it) or a custom port exposure (no `service`, or",
    '`"custom"`, with `name`, `protocol` and `ports`). Fields every exposure has (`protocol`: custom',
    'exposures only, which also require `name` and `ports`; `helper`: `"scoped"` only for services with a kernel helper):',
    "",
    ...fieldTable(rows(common, "", { service: `a catalog service's name (below) or "custom"` })),
    "",
    "## Catalog services",
    "",
    `${services.length} services: ${services.map((s) => `[\`${s.service}\`](#${s.service})`).join(", ")}.`,
    "",
    ...services.flatMap((service, i) => serviceSection(service, schemas[i]!)),
    "## Host options",
    "",
    `Given to HostFirewall and HostTable as arguments, to the CLI as flags, to the host API (\`applyPolicy\`,`,
    "`observePolicy`, `removeTable`) as options (`hostPaths` is `paths` there). All three check them with",
    `one schema and report the same problem for the same value (e.g. a confirm timeout outside ${CONFIRM_TIMEOUT_BOUNDS.min}-${CONFIRM_TIMEOUT_BOUNDS.max}).`,
    "",
    ...table(
      ["Field", "CLI flag", "Type", "Default", "Description", "Example"],
      rows(HostOptionsFields).map((r) => [
        `\`${r.path}\``,
        r.type !== "object" && flags(r.path) ? `\`${flags(r.path)}\`` : "",
        r.type,
        r.default,
        r.description,
        r.example,
      ]),
    ),
    "",
    "## Connection",
    "",
    "How HostFirewall and HostTable reach the host (the CLI takes the same as `--host`, `--identity` and the other connection flags).",
    "",
    ...fieldTable(
      rows(container(ConnectionSchema).shape ?? {}, "", { proxy: "object (the same fields but proxy and sudo)" }),
    ),
    "",
  ];
  return `${out.join("\n")}`;
}
