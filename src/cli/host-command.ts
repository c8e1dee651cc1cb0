/**
 * What the host commands (probe, apply, diff, remove) share beyond the connection flags: the
 * policy and table flags, --state-root/--run-root, validation of everything before any
 * connection, and the mapping of host-layer errors to exit codes.
 */

import type { parseArgs } from "node:util";
import { failed, type Issue, type Result } from "../fields/issues";
import {
  HostOperationError,
  HostStepFailedError,
  LockoutRolledBackError,
  LostContactError,
  NftRejectedError,
} from "../host/errors";
import { ConnectionError, HostKeyMismatchError } from "../host/ssh";
import type { HostOptions } from "../host/wire/params";
import { type Connection, redact } from "../model/connection";
import { parseHostOptions, type ValidHostOptions } from "../model/host-options";
import type { Policy } from "../model/policy";
import { PolicyError } from "../model/validate";
import { DEFAULT_TABLE } from "../plan/plan";
import { KernelSupportError } from "../render";
import { CONNECTION_HELP, CONNECTION_OPTIONS, connectionFromFlags } from "./connection-flags";
import { EXIT } from "./exit-codes";
import { type Io, printIssues } from "./io";
import { policyFromFiles, UsageError } from "./policy-file";

/** Options of every host command: the connection, -v and --help. */
export const BASE_HOST_OPTIONS = {
  ...CONNECTION_OPTIONS,
  verbose: { type: "boolean", short: "v", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Options of the commands that act on a policy's table (apply, diff, remove). */
export const TABLE_HOST_OPTIONS = {
  ...BASE_HOST_OPTIONS,
  policy: { type: "string", multiple: true },
  table: { type: "string" },
  "state-root": { type: "string" },
  "run-root": { type: "string" },
} as const;

export const TABLE_HELP = `Policy and host paths:
  --policy FILE               policy as JSON or YAML (same schema as the TypeScript API); repeat
                              it to compose one table: the first file is the base, each next one
                              adds to it
  --table NAME                table name when the policy has none (default: ${DEFAULT_TABLE})
  --state-root DIR            where the host records the last committed apply
                              (default /var/lib/hardened-nftables)
  --run-root DIR              where the host keeps the lock and an armed transaction
                              (default /run/hardened-nftables)`;

export const COMMON_HELP = `${CONNECTION_HELP}

Output:
  -v, --verbose               progress lines on stderr (never contain secrets)
  -h, --help                  this text`;

export const EXIT_HELP = `Exit codes: 0 done (or nothing to change), 1 drift (diff only), 2 invalid policy or arguments
(nothing contacted), 3 nft rejected the table (host unchanged), 4 rolled back (a new connection
failed while the applying session still answered: the new ruleset would have locked you out; the
host is back exactly as before), 5 connection or host-key
failure, 6 a host step could not run (not root, sudo refused, nft missing, lock held by another
run, another run ended this one, or another table of this project on the host), 7 a step failed
after the host was changed, or the host could not put back exactly what it had: the message says
what the host runs now and what to do, 8 lost contact (neither a new connection nor the session
that applied reached the host during the confirmation window: the ruleset was not judged, the host
restores its previous state by itself), 141 stdout or stderr failed before all output was written
(the reader went away).`;

/** The values parseArgs returns for {@link TABLE_HOST_OPTIONS} (probe's are a subset). */
export type HostFlagValues = ReturnType<
  typeof parseArgs<{ options: typeof TABLE_HOST_OPTIONS; strict: true }>
>["values"];

export interface Prepared {
  readonly connection: Connection;
  /** Present when --policy was given: the validated policy. */
  readonly policy?: Policy;
  /** The table the command acts on: the policy's, else --table, else the default. */
  readonly table: string;
  readonly hostOptions: HostOptions & Pick<ValidHostOptions, "confirmTimeoutSeconds" | "allowOtherTables">;
}

export interface PrepareRules {
  /** "required": --policy must be given; "table-or-policy": --policy or --table; "none": neither is used. */
  readonly policy: "required" | "table-or-policy" | "none";
  readonly env?: NodeJS.ProcessEnv;
  /** The command's own host-option flags (apply's --confirm-timeout and --allow-other-tables). */
  readonly flags?: { readonly "confirm-timeout"?: string; readonly "allow-other-tables"?: boolean };
}

/** The flag that sets each field of the host options schema. */
export const HOST_OPTION_FLAGS: Record<string, string> = {
  table: "--table",
  stateRoot: "--state-root",
  runRoot: "--run-root",
  hostPaths: "--state-root",
  confirmTimeoutSeconds: "--confirm-timeout",
  allowOtherTables: "--allow-other-tables",
};

/** The flag of the innermost named field (`hostPaths.stateRoot` -> --state-root). */
function flagOf(path: readonly PropertyKey[]): string {
  const field = [...path].reverse().find((k) => typeof k === "string");
  return HOST_OPTION_FLAGS[String(field)] ?? String(field);
}

type HostOptionFlagValues = Pick<HostFlagValues, "table" | "state-root" | "run-root"> &
  NonNullable<PrepareRules["flags"]>;

/**
 * The host options the flags give, validated by the schema every front end shares: the same
 * value gets the same message as from the provider or the host API, under the flag's name.
 */
export function hostOptionsFromFlags(values: HostOptionFlagValues): Result<ValidHostOptions> {
  const timeout = values["confirm-timeout"];
  const parsed = parseHostOptions({
    table: values.table,
    hostPaths:
      values["state-root"] === undefined && values["run-root"] === undefined
        ? undefined
        : { stateRoot: values["state-root"], runRoot: values["run-root"] },
    // digits become a number; anything else goes to the schema as written, so it is refused in its words
    confirmTimeoutSeconds: timeout === undefined ? undefined : /^[0-9]+$/.test(timeout) ? Number(timeout) : timeout,
    allowOtherTables: values["allow-other-tables"] ? true : undefined,
  });
  if (parsed.ok) return parsed;
  return failed(parsed.issues.map((i) => ({ ...i, path: [flagOf(i.path)] })));
}

function tableConflict(value: string | undefined, policy: Policy | undefined): Issue[] {
  if (value === undefined || policy?.table === undefined || policy.table === value) return [];
  return [
    {
      path: ["--table"],
      message: `the policy names table "${policy.table}"; --table "${value}" would be ignored (drop one of them)`,
    },
  ];
}

/**
 * Validates the policy, the table, the host paths and the connection, all before any network
 * activity. Prints every problem (policy problems named by field, the rest by flag) and returns
 * the exit code 2, or returns what the command needs.
 */
export function prepare(values: HostFlagValues, io: Io, rules: PrepareRules): Prepared | number {
  if (rules.policy === "required" && values.policy === undefined) throw new UsageError("--policy: required");
  if (rules.policy === "table-or-policy" && values.policy === undefined && values.table === undefined) {
    throw new UsageError("--policy or --table: one is required (the table to remove)");
  }
  if (values.host === undefined) throw new UsageError("--host: required ([USER@]ADDR[:PORT])");

  const policy = values.policy === undefined ? undefined : policyFromFiles(values.policy);
  const validPolicy = policy?.ok ? policy.value : undefined;
  const argIssues: Issue[] = [];
  const options = hostOptionsFromFlags({ ...values, ...rules.flags });
  if (!options.ok) argIssues.push(...options.issues);
  else argIssues.push(...tableConflict(values.table, validPolicy));
  const connection = connectionFromFlags(values, { env: rules.env });
  if (!connection.ok) argIssues.push(...connection.issues);

  if (policy && !policy.ok) printIssues(io, `invalid policy ${values.policy!.join(" + ")}`, policy.issues);
  if (argIssues.length > 0) printIssues(io, "invalid arguments", argIssues);
  if ((policy && !policy.ok) || argIssues.length > 0 || !connection.ok || !options.ok) return EXIT.invalidPolicy;

  const conn = connection.value;
  const onLog = values.verbose ? (line: string) => io.err(`${redact(line, conn)}\n`) : undefined;
  return {
    connection: conn,
    ...(validPolicy ? { policy: validPolicy } : {}),
    table: validPolicy?.table ?? values.table ?? DEFAULT_TABLE,
    hostOptions: {
      paths: options.value.hostPaths ?? {},
      ...(options.value.confirmTimeoutSeconds !== undefined
        ? { confirmTimeoutSeconds: options.value.confirmTimeoutSeconds }
        : {}),
      ...(options.value.allowOtherTables !== undefined ? { allowOtherTables: options.value.allowOtherTables } : {}),
      ...(onLog ? { onLog } : {}),
    },
  };
}

/**
 * Runs a host operation and turns its failure into the documented exit code, with a message
 * that has been redacted against the connection's secrets.
 */
export async function onHost(io: Io, connection: Connection, operation: () => Promise<number>): Promise<number> {
  try {
    return await operation();
  } catch (err) {
    return reportHostError(err, io, connection);
  }
}

export function reportHostError(err: unknown, io: Io, connection: Connection): number {
  const say = (text: string) => io.err(`${redact(text, connection).replace(/\n*$/, "")}\n`);
  if (err instanceof NftRejectedError) {
    say(err.message);
    return EXIT.nftRejected;
  }
  if (err instanceof LockoutRolledBackError) {
    say(`the new ruleset would lock you out; rolled back\n  ${err.target}: ${err.reason}`);
    return EXIT.rolledBack;
  }
  if (err instanceof LostContactError) {
    say(err.message);
    return EXIT.lostContact;
  }
  if (err instanceof HostKeyMismatchError || err instanceof ConnectionError) {
    say(err.message);
    return EXIT.connection;
  }
  if (err instanceof KernelSupportError) {
    say(`invalid policy for this host's kernel:\n${err.problems.map((p) => `  ${p}`).join("\n")}`);
    return EXIT.invalidPolicy;
  }
  if (err instanceof PolicyError) {
    say(err.message);
    return EXIT.invalidPolicy;
  }
  if (err instanceof HostStepFailedError) {
    say(err.message);
    return EXIT.stepFailed;
  }
  if (err instanceof HostOperationError) {
    say(err.message);
    return EXIT.hostFailed;
  }
  say(`error: ${err instanceof Error ? err.message : String(err)}`);
  return EXIT.hostFailed;
}
