import * as pulumi from "@pulumi/pulumi";
import type { z } from "zod";
import { formatIssues, type Issue } from "../fields/issues";
import { type ConnectionInput, parseConnection, redact } from "../model/connection";
import type { ExposureInput } from "../model/policy";
import { PolicyError } from "../model/validate";
import { DEFAULT_PROFILE, renderPolicy } from "../render";
import { fromLineMap, type LineMap } from "./line-map";
import { describeTarget, tableNameFor } from "./names";
import { memoRender, parsedPolicyInput, policyKey } from "./render-memo";
import { HostTable, type OutputsOf } from "./resource";
import {
  FIREWALL_OUTPUT_KEYS,
  type FirewallOutputs,
  HOST_OPTION_KEYS,
  type HostArgsFields,
  POLICY_KEYS,
  type PolicyArgsSchema,
} from "./types";

/** `T` with every field, element and nested field a `pulumi.Input`. */
export type DeepInput<T> = T extends string | number | boolean | null | undefined
  ? pulumi.Input<T>
  : T extends readonly (infer E)[]
    ? pulumi.Input<DeepInput<E>[]>
    : T extends object
      ? pulumi.Input<{ [K in keyof T]: DeepInput<T[K]> }>
      : pulumi.Input<T>;

type PolicyArgs = z.input<typeof PolicyArgsSchema>;
type HostArgs = z.input<z.ZodObject<typeof HostArgsFields>>;

/** One exposure (a catalog service or a custom port exposure), every field an Input. */
export type ExposureArgs = DeepInput<ExposureInput>;

/** The connection: `@pulumi/command`'s remote.ConnectionArgs fields, plus `insecureIgnoreHostKey` and `sudo`. */
export type ConnectionArgs = DeepInput<ConnectionInput>;

/**
 * Every field of the policy but `table`, the connection and the host options (types.ts; each
 * field's documentation is its description in the provider's schema and docs/reference.md).
 * `connection`'s password, privateKey and privateKeyPassword are stored as secrets.
 */
export type HostFirewallArgs = { [K in keyof PolicyArgs]: DeepInput<PolicyArgs[K]> } & {
  [K in Exclude<keyof HostArgs, "connection">]?: DeepInput<NonNullable<HostArgs[K]>>;
} & {
  connection: ConnectionArgs;
};

/** Invalid arguments: `errors` holds one `path: problem` line each; the message lists them all. */
export class HostFirewallArgsError extends PolicyError {
  constructor(resourceName: string, issues: readonly Issue[]) {
    super(issues);
    this.name = "HostFirewallArgsError";
    this.message = `HostFirewall "${resourceName}": invalid arguments:\n${this.errors.map((e) => `  ${e}`).join("\n")}`;
  }
}

/** Outputs and Promises anywhere inside `value`? (Then validation waits for the values.) */
function hasEventualValues(value: unknown, depth = 0): boolean {
  if (pulumi.Output.isInstance(value)) return true;
  if (value instanceof Promise) return true;
  if (depth > 32 || value === null || typeof value !== "object") return false;
  return Object.values(value as object).some((v) => hasEventualValues(v, depth + 1));
}

/**
 * Outputs the program renders from the policy on every run, so the state need not keep them: the
 * program (and, through the plugin's construct, every other language) still reads them; the
 * HostTable's stored inputs hold the same lines once.
 */
const NOT_STORED: readonly string[] = ["renderedTable", "ruleLines"];

/** A file's text from its line map (none yet, e.g. under mocks: empty). */
const fileText = (lines: LineMap | undefined): string => (lines ? `${fromLineMap(lines).join("\n")}\n` : "");

/**
 * Every `path: problem` line of the plain parts of the arguments (the policy with its table, the
 * connection; a part left undefined is not checked). Never contains a secret.
 */
export function argumentErrors(plain: {
  policy?: Record<string, unknown>;
  table?: string;
  connection?: unknown;
}): string[] {
  return formatIssues(argumentIssues(plain));
}

function argumentIssues(plain: { policy?: Record<string, unknown>; table?: string; connection?: unknown }): Issue[] {
  const issues: Issue[] = [];
  if (plain.policy !== undefined) {
    const policy = parsedPolicyInput(plain.policy, plain.table);
    if (!policy.ok) issues.push(...policy.issues);
  }
  if (plain.connection !== undefined) {
    const connection = parseConnection(plain.connection);
    if (!connection.ok) issues.push(...connection.issues);
  }
  return issues.map((i) => ({ ...i, message: redact(i.message, plain.connection) }));
}

/** The policy's fields of the arguments: every field the policy schema has (types.ts POLICY_KEYS). */
export function policyPart(args: HostFirewallArgs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of POLICY_KEYS) if (args[key] !== undefined) out[key] = args[key];
  return out;
}

/**
 * A host's firewall: one hardened `table inet` plus its sysctl.d/modprobe.d files, on one host
 * reached over SSH, applied with an on-host rollback and checked for drift on refresh.
 *
 * The policy is validated before anything is registered: a plain-value policy in the constructor
 * (a bad one throws here, naming every field), one built from Outputs as soon as its values are
 * known. No host is contacted by the program itself; the hardened-nftables provider plugin does
 * that during `pulumi up` (apply) and `pulumi refresh` (observe). Its outputs are declared by the
 * interface of the same name (types.ts FirewallOutputsSchema).
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the outputs are declared once (types.ts) and typed on the class by an interface of its name; class fields would hide the values the SDK sets
export class HostFirewall extends pulumi.ComponentResource {
  /** The custom resource (served by the provider plugin) that carries the host state. */
  public readonly hostTable: HostTable;

  constructor(name: string, args: HostFirewallArgs, opts: pulumi.ComponentResourceOptions = {}) {
    // Validate before anything is registered: a bad plain policy never reaches the engine. The
    // policy and the connection are checked here whenever they are plain values (a secret key
    // from config does not postpone the policy's check); Outputs are checked once known, below.
    const defaultTable = tableNameFor(name);
    const policyIsPlain = !hasEventualValues(policyPart(args)) && !hasEventualValues(args.table);
    const connectionIsPlain = !hasEventualValues(args.connection);
    const issues = argumentIssues({
      ...(policyIsPlain ? { policy: policyPart(args), table: (args.table as string | undefined) ?? defaultTable } : {}),
      ...(connectionIsPlain ? { connection: args.connection } : {}),
    });
    if (issues.length > 0) throw new HostFirewallArgsError(name, issues);
    super("hardened-nftables:index:HostFirewall", name, {}, opts);

    // Policy and connection resolve separately: a secret in the connection must not make the
    // rendered table (or anything derived from the policy) secret.
    const resolvedPolicy = pulumi.output({
      policy: policyPart(args),
      table: args.table ?? defaultTable,
    }) as unknown as pulumi.Output<{
      policy: Record<string, unknown>;
      table: string;
    }>;
    const checked = resolvedPolicy.apply((value) => {
      const key = policyKey(value.policy, value.table);
      const parsed = parsedPolicyInput(value.policy, value.table, key);
      if (!parsed.ok) throw new HostFirewallArgsError(name, parsed.issues);
      // a fleet's hosts mostly share one policy: rendered once, not once per host
      const artefacts = memoRender(key, DEFAULT_PROFILE, [], () => renderPolicy(parsed.value, { table: value.table }));
      return {
        table: value.table,
        // as its JSON text: one value in every engine message and copy of the state, where an
        // object is one value per prefix (100,000 of them took seconds per message to encode)
        policyJson: JSON.stringify(value.policy),
        nft: artefacts.nft,
        ruleLines: [...artefacts.ruleLines],
      };
    });
    const connection = pulumi.output(
      args.connection as pulumi.Input<Record<string, unknown>>,
    ) as unknown as pulumi.Output<Record<string, unknown>>;
    const checkedConnection = pulumi.secret(connection).apply((c) => {
      const parsed = parseConnection(c);
      if (!parsed.ok)
        throw new HostFirewallArgsError(
          name,
          parsed.issues.map((i) => ({ ...i, message: redact(i.message, c) })),
        );
      return c;
    });
    // Built from host, port and user only (describeTarget): safe to show even when the connection is secret.
    const target: pulumi.Output<string> = pulumi.unsecret(connection.apply((c) => describeTarget(c)));

    this.hostTable = new HostTable(
      `${name}-table`,
      {
        table: checked.table,
        connection: checkedConnection,
        policy: checked.policyJson,
        // every host option but the table (checked above): passed on as given
        ...Object.fromEntries(
          HOST_OPTION_KEYS.filter((key) => key !== "table" && args[key] !== undefined).map((key) => [key, args[key]]),
        ),
      },
      // a table adopted with `pulumi import hardened-nftables:index:HostTable <name>-table <id>`
      // (top level) becomes this component's child
      { parent: this, aliases: [{ parent: pulumi.rootStackResource }] },
    );

    const outputs: OutputsOf<FirewallOutputs> = {
      table: checked.table,
      target,
      renderedTable: checked.nft,
      ruleLines: checked.ruleLines,
      sysctlConf: this.hostTable.sysctl.apply(fileText),
      modprobeConf: this.hostTable.modprobe.apply(fileText),
      hostProfile: this.hostTable.hostProfile,
      appliedHash: this.hostTable.appliedHash,
      inSync: this.hostTable.inSync,
      drift: this.hostTable.drift,
      driftSummary: this.hostTable.driftSummary,
      warnings: this.hostTable.warnings,
    };
    Object.assign(this, outputs);
    // the state keeps what only the host can tell; what the program renders again on every run
    // is not stored (a set of 100,000 prefixes would be stored twice more): NOT_STORED
    this.registerOutputs(
      Object.fromEntries(
        FIREWALL_OUTPUT_KEYS.filter((key) => !NOT_STORED.includes(key)).map((key) => [key, outputs[key]]),
      ),
    );
  }
}

/** HostFirewall's outputs (types.ts FirewallOutputsSchema). */
export interface HostFirewall extends OutputsOf<FirewallOutputs> {}
