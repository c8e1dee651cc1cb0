/**
 * How to reach a host over SSH.
 *
 * The field names are those Pulumi users know from `@pulumi/command`'s
 * `remote.ConnectionArgs` (host, port, user, password, privateKey, privateKeyPassword,
 * agentSocketPath, dialErrorLimit, perDialTimeout, hostKey, proxy), plus two of ours:
 * `insecureIgnoreHostKey` and `sudo`.
 *
 * Unlike `@pulumi/command`, a host key is required: an unpinned host key is refused unless
 * `insecureIgnoreHostKey: true` says so explicitly.
 *
 * A validated connection (and its proxy) carries what dialing needs, parsed once here: the
 * decrypted private key and the pinned host key ({@link credentialsOf}). They are kept beside
 * the value (a WeakMap), so no spread, JSON or inspect of the connection shows or copies them.
 *
 * No issue produced here ever contains the value of `password`, `privateKey` or
 * `privateKeyPassword` (every issue is passed through {@link redact} as a last line of defence).
 */
import type { ParsedKey } from "ssh2";
import { z } from "zod";
import { type Issue, type Result, uniqueIssues } from "../fields/issues";
import { type PinnedHostKey, parseHostKey } from "./host-key";
import { parsePrivateKey } from "./private-key";
import { redact } from "./redact";

export { fingerprintOf, type PinnedHostKey, parseHostKey } from "./host-key";
export { redact } from "./redact";

const WHITESPACE = /\s/;

const nonEmpty = (what: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? "required" : `must be ${what}`) })
    .min(1, { error: "must not be empty" });

const baseShape = {
  host: nonEmpty("a host name or IP address")
    .refine((h) => !WHITESPACE.test(h), { error: "must not contain whitespace" })
    .meta({ description: "Host name or IP address to connect to.", examples: ["198.51.100.7"] }),
  port: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number between 1 and 65535" })
    .min(1, { error: "must be a whole number between 1 and 65535" })
    .max(65535, { error: "must be a whole number between 1 and 65535" })
    .default(22)
    .meta({ description: "SSH port. Default 22.", examples: [2222] }),
  user: nonEmpty("a user name")
    .refine((u) => !/[\s:'"\\/\0]/.test(u), { error: "must be a plain user name" })
    .default("root")
    .meta({
      description: 'User to log in as. Default "root"; any other user runs the host steps through sudo.',
      examples: ["deploy"],
    }),
  password: nonEmpty("a string").optional().meta({ description: "Password of the user (secret)." }),
  privateKey: nonEmpty("the text of a private key (PEM or OpenSSH)")
    .optional()
    .meta({ description: "Text of a private key, PEM or OpenSSH format (secret)." }),
  privateKeyPassword: nonEmpty("a string").optional().meta({ description: "Passphrase of the private key (secret)." }),
  agentSocketPath: nonEmpty("a path to an ssh-agent socket")
    .optional()
    .meta({
      description: "Path of an ssh-agent socket to authenticate with.",
      examples: ["/run/user/1000/ssh-agent.sock"],
    }),
  dialErrorLimit: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number >= 1, or -1 for unlimited" })
    .refine((n) => n === -1 || n >= 1, { error: "must be a whole number >= 1, or -1 for unlimited" })
    .default(10)
    .meta({ description: "Attempts to connect before giving up; -1 for unlimited. Default 10.", examples: [3] }),
  perDialTimeout: z
    .number({ error: "must be a number of seconds" })
    .min(0, { error: "must be a number of seconds >= 0 (0 = no limit)" })
    .max(3600, { error: "must be at most 3600 seconds" })
    .default(15)
    .meta({ description: "Seconds each attempt may take. Default 15.", examples: [30] }),
  hostKey: nonEmpty('an OpenSSH public key line ("ssh-ed25519 AAAA...") or a "SHA256:..." fingerprint')
    .optional()
    .meta({
      description:
        'The host\'s public key ("ssh-ed25519 AAAA...") or its "SHA256:..." fingerprint. Required unless insecureIgnoreHostKey is true.',
      examples: ["SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"],
    }),
  insecureIgnoreHostKey: z
    .boolean({ error: "must be true or false" })
    .default(false)
    .meta({ description: "Connect without checking the host key. Default false." }),
};

/** The dialing fields of one hop (a connection or its proxy), defaults applied. */
type HopFields = z.output<z.ZodObject<typeof baseShape>>;

/** What dialing a hop needs, parsed once: the decrypted key, the pinned host key (none when insecureIgnoreHostKey). */
export interface DialCredentials {
  readonly key?: ParsedKey;
  readonly hostKey?: PinnedHostKey;
}

/** The credentials of validated hops: beside the value, so no spread, JSON or inspect of it shows or copies them. */
const carried = new WeakMap<object, DialCredentials>();

/**
 * The credentials of one hop, or the issues that make them unusable (paths relative to the hop).
 * Key problems carry their KeyProblem (private-key.ts) as `code`.
 */
export function hopCredentials(hop: HopFields): Result<DialCredentials> {
  const issues: Issue[] = [];
  let key: ParsedKey | undefined;
  let hostKey: PinnedHostKey | undefined;
  if (hop.privateKey !== undefined) {
    const parsed = parsePrivateKey(hop.privateKey, hop.privateKeyPassword);
    if (parsed.ok) key = parsed.value;
    else issues.push(...parsed.issues);
  } else if (hop.privateKeyPassword !== undefined) {
    issues.push({ path: ["privateKeyPassword"], message: "set without privateKey", refs: ["privateKey"] });
  }
  if (hop.hostKey !== undefined) {
    if (hop.insecureIgnoreHostKey) {
      issues.push({
        path: ["insecureIgnoreHostKey"],
        message: "cannot be combined with hostKey (a pinned key is always checked)",
        refs: ["hostKey"],
      });
    }
    const pinned = parseHostKey(hop.hostKey);
    if (pinned.ok) hostKey = pinned.value;
    else issues.push(...pinned.issues.map((i) => ({ ...i, path: ["hostKey"] })));
  } else if (!hop.insecureIgnoreHostKey) {
    issues.push({
      path: ["hostKey"],
      message: "required (pin the host's public key) unless insecureIgnoreHostKey is true",
      code: "host-key-required",
    });
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { ...(key ? { key } : {}), ...(hostKey ? { hostKey } : {}) } };
}

/**
 * The credentials a validated hop carries. A hop that did not come from {@link parseConnection}
 * (built by hand, deserialized, or spread into a new object) carries none: they are parsed here,
 * once per call.
 */
export function credentialsOf(hop: HopFields): Result<DialCredentials> {
  const credentials = carried.get(hop);
  return credentials ? { ok: true, value: credentials } : hopCredentials(hop);
}

function carrying<T extends object>(value: T, credentials: DialCredentials | undefined): T {
  if (credentials) carried.set(value, credentials);
  return value;
}

function addIssue(ctx: z.RefinementCtx, issue: Issue): void {
  ctx.addIssue({
    code: "custom",
    message: issue.message,
    path: [...issue.path],
    params: { ...(issue.refs ? { refs: issue.refs } : {}), ...(issue.code ? { issueCode: issue.code } : {}) },
  });
}

/** Rules shared by a connection and its proxy, beyond the field types; attaches the credentials. */
function checkHop(v: HopFields, ctx: z.RefinementCtx): void {
  if (/^\[.*\]$/.test(v.host)) {
    addIssue(ctx, { path: ["host"], message: "write an IPv6 address without brackets (the port goes in port)" });
  } else if ((v.host.match(/:/g) ?? []).length === 1) {
    addIssue(ctx, { path: ["host"], message: 'must not include a port (use the port field, not "host:port")' });
  }
  if (v.privateKey === undefined && v.password === undefined && v.agentSocketPath === undefined) {
    addIssue(ctx, {
      path: [],
      message: "one of privateKey, password or agentSocketPath is required",
      code: "no-credentials",
    });
  }
  const credentials = hopCredentials(v);
  if (credentials.ok) carrying(v, credentials.value);
  else for (const issue of credentials.issues) addIssue(ctx, issue);
}

/** A bastion / proxy jump host: the connection fields minus `proxy` and `sudo`. */
export const ProxyConnectionSchema = z.strictObject(baseShape).superRefine(checkHop);

export const ConnectionSchema = z
  .strictObject({
    ...baseShape,
    proxy: ProxyConnectionSchema.optional().meta({
      description: "A bastion to jump through (same fields, without proxy and sudo).",
    }),
    sudo: z
      .boolean({ error: "must be true or false" })
      .optional()
      .meta({ description: "Run the host steps through sudo. Default: true unless user is root." }),
  })
  .superRefine(checkHop)
  .transform((v) => carrying({ ...v, sudo: v.sudo ?? v.user !== "root" }, carried.get(v)));

export type ProxyConnection = z.output<typeof ProxyConnectionSchema>;
export type Connection = z.output<typeof ConnectionSchema>;
/** What users write (defaults not applied). */
export type ConnectionInput = z.input<typeof ConnectionSchema>;

const KNOWN_FIELDS = [...Object.keys(baseShape), "proxy", "sudo"];

/** Our issues for zod's issues of {@link ConnectionSchema}, at `prefix`. */
function connectionIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const near = KNOWN_FIELDS.find((k) => k.toLowerCase() === key.toLowerCase());
        const hint =
          near === key
            ? " (a proxy takes the connection fields except proxy and sudo)"
            : near
              ? ` (did you mean ${near}?)`
              : "";
        out.push({ path: [...path, key], message: `unknown field${hint}` });
      }
      continue;
    }
    const message = issue.code === "invalid_type" && issue.path.length === 0 ? "must be an object" : issue.message;
    const params = (issue as { params?: { refs?: string[]; issueCode?: string } }).params;
    out.push({
      path,
      message,
      ...(params?.refs ? { refs: params.refs } : {}),
      ...(params?.issueCode ? { code: params.issueCode } : {}),
    });
  }
  return out;
}

/**
 * Validate a connection; issues are placed at `path` (e.g. `connection.privateKey`) and never
 * contain a secret.
 */
export function parseConnection(input: unknown, path = "connection"): Result<Connection> {
  const result = ConnectionSchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const issues = uniqueIssues(
    connectionIssues(result.error.issues, [path]).map((i) => ({
      ...i,
      path: i.path.map((p) => (typeof p === "string" ? redact(p, input) : p)),
      message: redact(i.message, input),
    })),
  );
  return { ok: false, issues };
}
