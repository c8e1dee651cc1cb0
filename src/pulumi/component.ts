import * as pulumi from "@pulumi/pulumi";
import { type ConnectionInput, parseConnection, redact } from "../model/connection";
import type { ExposureInput, PolicyInput } from "../model/policy";
import { formatIssues, type Issue } from "../fields/issues";
import { PolicyError, parsePolicy } from "../model/validate";
import { renderPolicy } from "../render";
import { fromLineMap, type LineMap } from "./line-map";
import { describeTarget, tableNameFor } from "./names";
import { HostTable } from "./resource";
import type { HostPaths, ProbedProfile } from "./types";

/** `T` with every field, element and nested field a `pulumi.Input`. */
export type DeepInput<T> = T extends string | number | boolean | null | undefined
  ? pulumi.Input<T>
  : T extends readonly (infer E)[]
    ? pulumi.Input<DeepInput<E>[]>
    : T extends object
      ? pulumi.Input<{ [K in keyof T]: DeepInput<T[K]> }>
      : pulumi.Input<T>;

type PolicyFields = Omit<PolicyInput, "table">;

/** One exposure (a catalog service or a custom port exposure), every field an Input. */
export type ExposureArgs = DeepInput<ExposureInput>;

/** The connection: `@pulumi/command`'s remote.ConnectionArgs fields, plus `insecureIgnoreHostKey` and `sudo`. */
export type ConnectionArgs = DeepInput<ConnectionInput>;

export type HostFirewallArgs = { [K in keyof PolicyFields]: DeepInput<PolicyFields[K]> } & {
  /** How to reach the host over SSH. password, privateKey and privateKeyPassword are stored as secrets. */
  connection: ConnectionArgs;
  /** Name of the `table inet` this component owns. Default: the resource name, made a safe nft identifier. */
  table?: pulumi.Input<string>;
  /** Where state and the lock live on the host; defaults /var/lib/hardened-nftables and /run/hardened-nftables. */
  hostPaths?: DeepInput<HostPaths>;
  /** Seconds the host waits for a new SSH connection to prove access before it rolls back (default 30). */
  confirmTimeoutSeconds?: pulumi.Input<number>;
  /**
   * Another table of this project already on the host is refused (two tables admit only what
   * both admit). `true` allows any, a list allows exactly those tables; prefer one policy
   * composed with `mergePolicies`.
   */
  allowOtherTables?: pulumi.Input<boolean | pulumi.Input<string>[]>;
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

/** A file's text from its line map (none yet, e.g. under mocks: empty). */
const fileText = (lines: LineMap | undefined): string => (lines ? `${fromLineMap(lines).join("\n")}\n` : "");

const POLICY_KEYS = ["exposures", "allowNothing", "forward", "output", "icmp", "log", "conntrack", "dhcpv6Client", "trustedInterfaces", "denied", "reversePath"] as const;
// A policy field missing above would be dropped from the arguments without a word: this fails to compile instead.
type UnpassedPolicyField = Exclude<keyof PolicyFields, (typeof POLICY_KEYS)[number]>;
const everyPolicyFieldPassed: [UnpassedPolicyField] extends [never] ? true : UnpassedPolicyField = true;
void everyPolicyFieldPassed;

/**
 * Every `path: problem` line of the plain parts of the arguments (the policy with its table, the
 * connection; a part left undefined is not checked). Never contains a secret.
 */
export function argumentErrors(plain: { policy?: Record<string, unknown>; table?: string; connection?: unknown }): string[] {
  return formatIssues(argumentIssues(plain));
}

function argumentIssues(plain: { policy?: Record<string, unknown>; table?: string; connection?: unknown }): Issue[] {
  const issues: Issue[] = [];
  if (plain.policy !== undefined) {
    const policy = parsePolicy({ ...plain.policy, table: plain.table });
    if (!policy.ok) issues.push(...policy.issues);
  }
  if (plain.connection !== undefined) {
    const connection = parseConnection(plain.connection);
    if (!connection.ok) issues.push(...connection.issues);
  }
  return issues.map((i) => ({ ...i, message: redact(i.message, plain.connection) }));
}

function policyPart(args: HostFirewallArgs): Record<string, unknown> {
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
 * that during `pulumi up` (apply) and `pulumi refresh` (observe).
 */
export class HostFirewall extends pulumi.ComponentResource {
  /** Name of the table inet the component owns. */
  public readonly table: pulumi.Output<string>;
  /** `user@host:port` (and ` via` the proxy). */
  public readonly target: pulumi.Output<string>;
  /** The whole nft file (rendered in the program: known at preview). */
  public readonly renderedTable: pulumi.Output<string>;
  /** One line per rule, set element, helper object and chain policy (rendered in the program). */
  public readonly ruleLines: pulumi.Output<string[]>;
  /** The sysctl.d file as applied (rendered for the host's probed kernel). */
  public readonly sysctlConf: pulumi.Output<string>;
  /** The modprobe.d file as applied (rendered for the host's probed kernel). */
  public readonly modprobeConf: pulumi.Output<string>;
  /** What the provider learned from the host: kernel, `uname -r`, nft version, helper switches. */
  public readonly hostProfile: pulumi.Output<ProbedProfile>;
  /** sha256 of the applied table + sysctl.d + modprobe.d files. */
  public readonly appliedHash: pulumi.Output<string>;
  /** false after a refresh found drift that an apply would repair. */
  public readonly inSync: pulumi.Output<boolean>;
  /** Drift found by the last refresh, one line per difference ([] after an apply). */
  public readonly drift: pulumi.Output<string[]>;
  /** One line: "... in sync" or "... drifted: 1 rule(s) added; ...". */
  public readonly driftSummary: pulumi.Output<string>;
  /** Warnings of the last apply (e.g. conntrack tool missing). */
  public readonly warnings: pulumi.Output<string[]>;
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
    const resolvedPolicy = pulumi.output({ policy: policyPart(args), table: args.table ?? defaultTable }) as unknown as pulumi.Output<{
      policy: Record<string, unknown>;
      table: string;
    }>;
    const checked = resolvedPolicy.apply((value) => {
      const parsed = parsePolicy({ ...value.policy, table: value.table });
      if (!parsed.ok) throw new HostFirewallArgsError(name, parsed.issues);
      const artefacts = renderPolicy(parsed.value, { table: value.table });
      return {
        table: value.table,
        policy: value.policy,
        nft: artefacts.nft,
        ruleLines: [...artefacts.ruleLines],
      };
    });
    const connection = pulumi.output(args.connection as pulumi.Input<Record<string, unknown>>) as unknown as pulumi.Output<Record<string, unknown>>;
    const checkedConnection = pulumi.secret(connection).apply((c) => {
      const parsed = parseConnection(c);
      if (!parsed.ok) throw new HostFirewallArgsError(name, parsed.issues.map((i) => ({ ...i, message: redact(i.message, c) })));
      return c;
    });
    // Built from host, port and user only (describeTarget): safe to show even when the connection is secret.
    const target: pulumi.Output<string> = pulumi.unsecret(connection.apply((c) => describeTarget(c)));

    this.hostTable = new HostTable(
      `${name}-table`,
      {
        table: checked.table,
        connection: checkedConnection,
        policy: checked.policy,
        ...(args.hostPaths !== undefined ? { hostPaths: args.hostPaths as pulumi.Input<HostPaths> } : {}),
        ...(args.confirmTimeoutSeconds !== undefined ? { confirmTimeoutSeconds: args.confirmTimeoutSeconds } : {}),
        ...(args.allowOtherTables !== undefined ? { allowOtherTables: args.allowOtherTables } : {}),
      },
      // a table adopted with `pulumi import hardened-nftables:index:HostTable <name>-table <id>`
      // (top level) becomes this component's child
      { parent: this, aliases: [{ parent: pulumi.rootStackResource }] },
    );

    this.table = checked.table;
    this.target = target;
    this.renderedTable = checked.nft;
    this.ruleLines = checked.ruleLines;
    this.sysctlConf = this.hostTable.sysctl.apply(fileText);
    this.modprobeConf = this.hostTable.modprobe.apply(fileText);
    this.hostProfile = this.hostTable.hostProfile;
    this.appliedHash = this.hostTable.appliedHash;
    this.inSync = this.hostTable.inSync;
    this.drift = this.hostTable.drift;
    this.driftSummary = this.hostTable.driftSummary;
    this.warnings = this.hostTable.warnings;

    this.registerOutputs({
      table: this.table,
      target: this.target,
      renderedTable: this.renderedTable,
      ruleLines: this.ruleLines,
      sysctlConf: this.sysctlConf,
      modprobeConf: this.modprobeConf,
      hostProfile: this.hostProfile,
      appliedHash: this.appliedHash,
      inSync: this.inSync,
      drift: this.drift,
      driftSummary: this.driftSummary,
      warnings: this.warnings,
    });
  }
}
