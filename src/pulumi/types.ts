/**
 * The one declaration of the resources' arguments and outputs, with each field's description:
 * the plugin's schema (schema.ts), the TypeScript classes (component.ts, resource.ts), what
 * HostFirewall registers and passes on, and which inputs the provider derives (provider-impl.ts)
 * all come from here. Adding an output here is the whole change for its type and documentation.
 */
import { z } from "zod";
import { ConnectionSchema } from "../model/connection";
import { HostOptionsFields, type HostPathsSchema } from "../model/host-options";
import { PolicyFields } from "../model/policy";

/** Where state and the lock live on the host; defaults /var/lib/hardened-nftables and /run/hardened-nftables. */
export type HostPaths = z.input<typeof HostPathsSchema>;

/** The policy as HostFirewall takes it (its own arguments) and HostTable stores it: every field but `table`. */
export const PolicyArgsSchema = z
  .strictObject(PolicyFields)
  .omit({ table: true })
  .meta({ description: "The firewall policy (every field of HostFirewall's policy arguments)." });

/** Keys of the policy arguments, by construction every field of the policy but `table`. */
export const POLICY_KEYS = Object.keys(PolicyArgsSchema.shape) as (keyof typeof PolicyArgsSchema.shape)[];

/** The arguments of both resources besides the policy: the connection and the shared host options. */
export const HostArgsFields = {
  connection: ConnectionSchema.meta({
    description:
      "How to reach the host over SSH. Stored as a secret: password, privateKey and privateKeyPassword never appear in previews, logs or state in clear.",
  }),
  ...HostOptionsFields,
};

/** The host options' keys (the table among them). */
export const HOST_OPTION_KEYS = Object.keys(HostOptionsFields) as (keyof typeof HostOptionsFields)[];

export const ProbedProfileSchema = z
  .object({
    kernel: z
      .string()
      .meta({ description: '"major.minor" of the host\'s kernel: what the sysctl.d/modprobe.d rendering depends on.' }),
    kernelRelease: z.string().meta({ description: "`uname -r` as the host reports it." }),
    nftVersion: z.string().meta({ description: "`nft --version` of the host." }),
    helperSysctl: z
      .boolean()
      .meta({ description: "The kernel still has net.netfilter.nf_conntrack_helper (automatic helper assignment)." }),
    helperModuleParam: z
      .boolean()
      .meta({ description: "nf_conntrack takes the nf_conntrack_helper module parameter." }),
  })
  .readonly();

/** What the provider learned about the host when it last probed it. */
export type ProbedProfile = z.output<typeof ProbedProfileSchema>;

/** One key per line (line-map.ts): the engine diffs it key by key. */
const LineMapSchema = z.record(z.string(), z.string());
const Lines = z.array(z.string());

/** Outputs both resources report about the host, declared once. */
const hostReport = {
  target: z.string().meta({ description: "`user@host:port` (and ` via` the proxy): never secret." }),
  hostProfile: ProbedProfileSchema.meta({
    description: "What the provider learned from the host: kernel, `uname -r`, nft version, helper switches.",
  }),
  appliedHash: z.string().meta({ description: "sha256 of the applied table, sysctl.d and modprobe.d files." }),
  inSync: z.boolean().meta({ description: "false after a refresh found drift that an apply would repair." }),
  drift: Lines.meta({ description: "Drift found by the last refresh, one line per difference ([] after an apply)." }),
  driftSummary: z.string().meta({ description: 'One line: "... in sync" or "... drifted: 1 rule(s) added; ...".' }),
  warnings: Lines.meta({ description: "Warnings of the last apply (e.g. conntrack tool missing)." }),
};

/** HostFirewall's outputs. */
export const FirewallOutputsSchema = z.object({
  table: z.string().meta({ description: "Name of the table inet the component owns." }),
  target: hostReport.target,
  renderedTable: z.string().meta({ description: "The whole nft file (rendered in the program: known at preview)." }),
  ruleLines: Lines.meta({ description: "One line per rule, set element, helper object and chain policy." }),
  sysctlConf: z.string().meta({ description: "The sysctl.d file as applied (rendered for the host's probed kernel)." }),
  modprobeConf: z
    .string()
    .meta({ description: "The modprobe.d file as applied (rendered for the host's probed kernel)." }),
  hostProfile: hostReport.hostProfile,
  appliedHash: hostReport.appliedHash,
  inSync: hostReport.inSync,
  drift: hostReport.drift,
  driftSummary: hostReport.driftSummary,
  warnings: hostReport.warnings,
});
export type FirewallOutputs = z.output<typeof FirewallOutputsSchema>;
export const FIREWALL_OUTPUT_KEYS = Object.keys(FirewallOutputsSchema.shape) as (keyof FirewallOutputs)[];

/** HostTable's outputs besides its arguments. */
export const TableOutputsSchema = z.object({
  target: hostReport.target,
  rules: LineMapSchema.meta({
    description:
      'The table\'s lines, one key per rule, helper object and chain policy; the value names the line before it in its chain ("(first)" or "after: <line>"), so a preview diffs rule by rule. A set is one key (`set <name>`) whose value is `| <n> elements` then its elements one a line, sorted, so a preview prints a changed set as a line diff: the elements gone and new, with two unchanged lines of context. Stored in the resource\'s inputs only (the outputs do not repeat it: a set of 100,000 prefixes is kept once).',
  }),
  sysctl: LineMapSchema.meta({ description: "The sysctl.d file, one key per line (value: the line before it)." }),
  modprobe: LineMapSchema.meta({ description: "The modprobe.d file, one key per line (value: the line before it)." }),
  drift: hostReport.drift,
  hostProfile: hostReport.hostProfile,
  appliedHash: hostReport.appliedHash,
  inSync: hostReport.inSync,
  driftSummary: hostReport.driftSummary,
  warnings: hostReport.warnings,
  keptLoadable: Lines.meta({
    description: "Helper modules left out of the deny list because other tables on the host need them.",
  }),
});
export type TableOutputs = z.output<typeof TableOutputsSchema>;
export const TABLE_OUTPUT_KEYS = Object.keys(TableOutputsSchema.shape) as (keyof TableOutputs)[];

/**
 * Outputs the provider also keeps among the stored inputs: derived by check() (the rendered lines,
 * the target) or recorded by the last apply or refresh (drift, the host's profile, what was left
 * loadable), never taken from the program, so the next preview compares them.
 */
export const RECORDED_INPUTS = [
  "target",
  "rules",
  "sysctl",
  "modprobe",
  "drift",
  "hostProfile",
  "keptLoadable",
] as const satisfies readonly (keyof TableOutputs)[];

type Recorded = (typeof RECORDED_INPUTS)[number];

/** The host options both resources take besides the table (the table is required of HostTable). */
export type HostOptionArgs = Omit<z.input<z.ZodObject<typeof HostOptionsFields>>, "table">;

/** What the engine stores as HostTable's inputs: its arguments and the recorded outputs. */
export type HostTableInputs = Readonly<
  HostOptionArgs & {
    table: string;
    /** The whole connection; stored as a secret. */
    connection: z.input<typeof ConnectionSchema>;
    /** The policy as written (without `table`). */
    policy: z.input<typeof PolicyArgsSchema>;
  } & Pick<TableOutputs, Exclude<Recorded, "hostProfile" | "keptLoadable">> &
    Partial<Pick<TableOutputs, "hostProfile" | "keptLoadable">>
>;

export type HostTableOutputs = HostTableInputs & Readonly<TableOutputs>;

/** Keys of {@link HostTableInputs}: what read() writes back as the stored inputs. */
export const INPUT_KEYS: readonly (keyof HostTableInputs)[] = [
  ...(Object.keys(HostArgsFields) as (keyof typeof HostArgsFields)[]),
  "policy",
  ...RECORDED_INPUTS,
];

/** The placeholder the engine passes for values not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}
