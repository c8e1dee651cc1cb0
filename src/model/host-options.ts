/**
 * The options every front end passes to a host operation besides the policy and the connection:
 * the table, where state and the lock live on the host, how long the host waits for proof of
 * access, and which other tables of this project may share the host. One schema: the CLI's flags,
 * the provider's check and the host API's entry points all validate through
 * {@link parseHostOptions}, so the same value gets the same issue everywhere (each front end only
 * names the field its own way: `--confirm-timeout`, `confirmTimeoutSeconds`).
 */
import { z } from "zod";
import { failed, type Issue, ok, type Result } from "../fields/issues";
import { TableName } from "./policy";
import { PolicyError, policyIssues } from "./validate";

/**
 * Why a state or run root would be refused by the host scripts (lib.sh `require_path`), or
 * undefined when it is fine.
 */
export function hostRootProblem(value: string): string | undefined {
  if (!/^\/[A-Za-z0-9._/-]*$/.test(value)) return "must be an absolute path of letters, digits and . _ - /";
  if (value.includes("..")) return 'must not contain ".."';
  return undefined;
}

const HostRoot = z
  .string({ error: "must be a string" })
  .superRefine((value, ctx) => {
    const problem = hostRootProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: value });
  })
  // "/srv/state/" and "/srv/state" are one directory: the host's paths are built as `${root}/${table}`
  .transform((value) => (value.length > 1 ? value.replace(/\/+$/, "") : value));

/**
 * The proof of access is a NEW SSH connection (TCP, key exchange, authentication, the commit
 * step): about a second on a LAN, several through a bastion or over a slow link. Below 5 s a good
 * table on a slow path is rolled back as a lock-out. While the rollback is armed the host holds the
 * table's lock (other runs wait up to the timeout plus a minute) and a locked-out operator waits
 * the whole timeout for the host to recover: 10 minutes is ample for the slowest proof and the
 * longest an operator should be locked out.
 */
export const CONFIRM_TIMEOUT_BOUNDS = { min: 5, max: 600 } as const;
export const DEFAULT_CONFIRM_TIMEOUT = 30;

const CONFIRM_TIMEOUT_PROBLEM = `must be a whole number of seconds between ${CONFIRM_TIMEOUT_BOUNDS.min} and ${CONFIRM_TIMEOUT_BOUNDS.max}`;
const ALLOW_OTHER_TABLES_PROBLEM = "expected true, false or a list of table names";

export const HostPathsSchema = z.strictObject({
  stateRoot: HostRoot.optional().meta({
    description: "Directory of the on-host state (the last committed apply). Default /var/lib/hardened-nftables.",
    examples: ["/var/lib/hardened-nftables"],
  }),
  runRoot: HostRoot.optional().meta({
    description:
      "Directory of the on-host lock and rollback guardian (forgotten at reboot). Default /run/hardened-nftables.",
    examples: ["/run/hardened-nftables"],
  }),
});

export const HostOptionsFields = {
  table: TableName.optional().meta({
    description:
      "Name of the `table inet` this resource owns. HostFirewall's default: the resource name, made a safe nft identifier; the CLI's: hardened.",
    examples: ["web"],
  }),
  hostPaths: HostPathsSchema.optional().meta({ description: "Where state and the lock live on the host." }),
  confirmTimeoutSeconds: z
    .number()
    .int()
    .min(CONFIRM_TIMEOUT_BOUNDS.min)
    .max(CONFIRM_TIMEOUT_BOUNDS.max)
    .optional()
    .meta({
      description: `Seconds the host waits for a NEW SSH connection to prove access after an apply before it rolls back (${CONFIRM_TIMEOUT_BOUNDS.min}-${CONFIRM_TIMEOUT_BOUNDS.max}, default ${DEFAULT_CONFIRM_TIMEOUT}).`,
      examples: [DEFAULT_CONFIRM_TIMEOUT],
    }),
  allowOtherTables: z
    .union([z.boolean(), z.array(TableName)])
    .optional()
    .meta({
      description:
        "Another table of this project already on the host is refused (two tables admit only what both admit). true allows any, a list allows exactly those tables.",
      examples: [["base"]],
    }),
};

export const HostOptionsSchema = z.strictObject(HostOptionsFields);

export type HostOptionsInput = z.input<typeof HostOptionsSchema>;
export type ValidHostPaths = z.output<typeof HostPathsSchema>;
export type ValidHostOptions = z.output<typeof HostOptionsSchema>;

/** Fields whose every problem reads the same: what the field takes. */
const ONE_PROBLEM: Record<string, string> = {
  confirmTimeoutSeconds: CONFIRM_TIMEOUT_PROBLEM,
  allowOtherTables: ALLOW_OTHER_TABLES_PROBLEM,
};

export function parseHostOptions(input: unknown): Result<ValidHostOptions> {
  const result = HostOptionsSchema.safeParse(input);
  if (result.success) return ok(result.data);
  const issues = policyIssues(result.error.issues, input).map((issue): Issue => {
    const [field] = issue.path;
    const problem = issue.path.length === 1 && typeof field === "string" ? ONE_PROBLEM[field] : undefined;
    return problem && issue.message !== "unknown field" ? { ...issue, message: problem } : issue;
  });
  return failed([...new Map(issues.map((i) => [`${String(i.path.join("."))}\0${i.message}`, i])).values()]);
}

/** Invalid host options where a caller wants an exception (the host API's entry points). */
export class HostOptionsError extends PolicyError {
  constructor(issues: readonly Issue[]) {
    super(issues);
    this.name = "HostOptionsError";
    this.message = `invalid host options:\n${this.errors.map((e) => `  ${e}`).join("\n")}`;
  }
}
