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
 * No message produced here ever contains the value of `password`, `privateKey` or
 * `privateKeyPassword` (every message is passed through {@link redact} as a last line of defence).
 */
import { createHash } from "node:crypto";
import { utils } from "ssh2";
import { z } from "zod";
import { formatPath, type Parsed } from "./issues";

/** Fields whose values are secrets and must never appear in a message, log line or JSON. */
export const SECRET_FIELDS = ["password", "privateKey", "privateKeyPassword"] as const;

const WHITESPACE = /\s/;

/** Issue params: names of sibling fields that the message mentions, qualified when formatted. */
interface RefParams {
  refs?: string[];
}

const nonEmpty = (what: string) =>
  z
    .string({ error: (iss) => (iss.input === undefined ? "required" : `must be ${what}`) })
    .min(1, { error: "must not be empty" });

const baseShape = {
  host: nonEmpty("a host name or IP address").refine((h) => !WHITESPACE.test(h), {
    error: "must not contain whitespace",
  }),
  port: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number between 1 and 65535" })
    .min(1, { error: "must be a whole number between 1 and 65535" })
    .max(65535, { error: "must be a whole number between 1 and 65535" })
    .default(22),
  user: nonEmpty("a user name")
    .refine((u) => !/[\s:'"\\/\0]/.test(u), { error: "must be a plain user name" })
    .default("root"),
  password: nonEmpty("a string").optional(),
  privateKey: nonEmpty("the text of a private key (PEM or OpenSSH)").optional(),
  privateKeyPassword: nonEmpty("a string").optional(),
  agentSocketPath: nonEmpty("a path to an ssh-agent socket").optional(),
  dialErrorLimit: z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number >= 1, or -1 for unlimited" })
    .refine((n) => n === -1 || n >= 1, { error: "must be a whole number >= 1, or -1 for unlimited" })
    .default(10),
  perDialTimeout: z
    .number({ error: "must be a number of seconds" })
    .min(0, { error: "must be a number of seconds >= 0 (0 = no limit)" })
    .max(3600, { error: "must be at most 3600 seconds" })
    .default(15),
  hostKey: nonEmpty('an OpenSSH public key line ("ssh-ed25519 AAAA...") or a "SHA256:..." fingerprint').optional(),
  insecureIgnoreHostKey: z.boolean({ error: "must be true or false" }).default(false),
};

type BaseFields = {
  host: string;
  port: number;
  user: string;
  password?: string | undefined;
  privateKey?: string | undefined;
  privateKeyPassword?: string | undefined;
  agentSocketPath?: string | undefined;
  hostKey?: string | undefined;
  insecureIgnoreHostKey: boolean;
};

function addIssue(ctx: z.RefinementCtx, field: string | undefined, message: string, refs?: string[]): void {
  ctx.addIssue({
    code: "custom",
    message,
    path: field === undefined ? [] : [field],
    ...(refs ? { params: { refs } satisfies RefParams } : {}),
  });
}

/** Result of checking a `hostKey` value: the pinned key blob, or only its fingerprint. */
export type PinnedHostKey =
  | { kind: "key"; type: string; blob: Buffer; fingerprint: string }
  | { kind: "fingerprint"; fingerprint: string };

/** OpenSSH-style SHA256 fingerprint of a public key blob: `SHA256:<base64 without padding>`. */
export function fingerprintOf(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/**
 * Parse a `hostKey` value. Accepts an OpenSSH public key line (`ssh-ed25519 AAAA... comment`)
 * or an OpenSSH SHA256 fingerprint (`SHA256:...`, with or without base64 padding).
 * Returns an error text (without the value) when it is neither.
 */
export function parseHostKey(value: string): PinnedHostKey | { error: string } {
  const text = value.trim();
  if (/^SHA256:/i.test(text)) {
    const b64 = text.slice("SHA256:".length).replace(/=+$/, "");
    if (!/^[A-Za-z0-9+/]{43}$/.test(b64) || Buffer.from(b64, "base64").length !== 32) {
      return { error: 'not a SHA256 fingerprint (expected "SHA256:" and 43 base64 characters, as ssh-keygen -lf prints)' };
    }
    return { kind: "fingerprint", fingerprint: `SHA256:${b64}` };
  }
  if (/^MD5:/i.test(text) || /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(text)) {
    return { error: 'MD5 fingerprints are not accepted; use the public key line or its "SHA256:..." fingerprint' };
  }
  if (/PRIVATE KEY/.test(text)) {
    return { error: "is a private key; pin the host's PUBLIC key (e.g. /etc/ssh/ssh_host_ed25519_key.pub)" };
  }
  const tokens = text.split(/\s+/);
  if (tokens.length >= 3 && !/^(ssh-|ecdsa-|sk-)/.test(tokens[0] ?? "") && /^(ssh-|ecdsa-|sk-)/.test(tokens[1] ?? "")) {
    return { error: "looks like a known_hosts line; drop the leading host name(s) and keep \"<type> <base64>\"" };
  }
  if (tokens.length > 1 && !/^(ssh-|ecdsa-|sk-)/.test(tokens[0] ?? "")) {
    return { error: 'not an OpenSSH public key line ("ssh-ed25519 AAAA...") or "SHA256:..." fingerprint' };
  }
  const parsed = utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    return { error: 'not an OpenSSH public key line ("ssh-ed25519 AAAA...") or "SHA256:..." fingerprint' };
  }
  if (key.isPrivateKey()) {
    return { error: "is a private key; pin the host's PUBLIC key (e.g. /etc/ssh/ssh_host_ed25519_key.pub)" };
  }
  const blob = key.getPublicSSH();
  return { kind: "key", type: key.type, blob, fingerprint: fingerprintOf(blob) };
}

/**
 * Check a private key (and its passphrase) with ssh2's own parser, exactly as the connection
 * will. Returns undefined when usable, or the field and problem otherwise.
 */
export function checkPrivateKey(
  privateKey: string,
  passphrase: string | undefined,
): undefined | { field: "privateKey" | "privateKeyPassword"; message: string; refs?: string[] } {
  const parsed = utils.parseKey(privateKey, passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined || key instanceof Error) {
    const reason = key instanceof Error ? key.message : "no key found";
    if (/passphrase|encrypted/i.test(reason)) {
      return passphrase === undefined
        ? { field: "privateKeyPassword", message: "required: privateKey is encrypted", refs: ["privateKey"] }
        : { field: "privateKeyPassword", message: "cannot decrypt privateKey", refs: ["privateKey"] };
    }
    const trimmed = privateKey.trim();
    if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(trimmed)) {
      return {
        field: "privateKey",
        message:
          'PKCS#8 keys ("BEGIN PRIVATE KEY") are not supported by ssh2; convert to OpenSSH format with ssh-keygen -p -f <file>',
      };
    }
    if (!trimmed.includes("\n") && /^(~|\.{0,2}\/|[A-Za-z]:\\)/.test(trimmed)) {
      return { field: "privateKey", message: "not a private key (pass the key's text, not a file path)" };
    }
    return { field: "privateKey", message: "not a private key (expected PEM or OpenSSH private key text)" };
  }
  if (!key.isPrivateKey()) {
    return { field: "privateKey", message: "not a private key (this is a public key)" };
  }
  return undefined;
}

/** Rules shared by a connection and its proxy, beyond the field types. */
function checkBase(v: BaseFields, ctx: z.RefinementCtx): void {
  if (/^\[.*\]$/.test(v.host)) {
    addIssue(ctx, "host", "write an IPv6 address without brackets (the port goes in port)");
  } else if ((v.host.match(/:/g) ?? []).length === 1) {
    addIssue(ctx, "host", 'must not include a port (use the port field, not "host:port")');
  }
  if (v.privateKey === undefined && v.password === undefined && v.agentSocketPath === undefined) {
    addIssue(ctx, undefined, "one of privateKey, password or agentSocketPath is required");
  }
  if (v.privateKey !== undefined) {
    const problem = checkPrivateKey(v.privateKey, v.privateKeyPassword);
    if (problem) addIssue(ctx, problem.field, problem.message, problem.refs);
  } else if (v.privateKeyPassword !== undefined) {
    addIssue(ctx, "privateKeyPassword", "set without privateKey", ["privateKey"]);
  }
  if (v.hostKey !== undefined) {
    if (v.insecureIgnoreHostKey) {
      addIssue(ctx, "insecureIgnoreHostKey", "cannot be combined with hostKey (a pinned key is always checked)", [
        "hostKey",
      ]);
    }
    const pinned = parseHostKey(v.hostKey);
    if ("error" in pinned) addIssue(ctx, "hostKey", pinned.error);
  } else if (!v.insecureIgnoreHostKey) {
    addIssue(ctx, "hostKey", "required (pin the host's public key) unless insecureIgnoreHostKey is true");
  }
}

/** A bastion / proxy jump host: the connection fields minus `proxy` and `sudo`. */
export const ProxyConnectionSchema = z.strictObject(baseShape).superRefine(checkBase);

export const ConnectionSchema = z
  .strictObject({
    ...baseShape,
    proxy: ProxyConnectionSchema.optional(),
    sudo: z.boolean({ error: "must be true or false" }).optional(),
  })
  .superRefine(checkBase)
  .transform((v) => ({ ...v, sudo: v.sudo ?? v.user !== "root" }));

export type ProxyConnection = z.output<typeof ProxyConnectionSchema>;
export type Connection = z.output<typeof ConnectionSchema>;
/** What users write (defaults not applied). */
export type ConnectionInput = z.input<typeof ConnectionSchema>;

const KNOWN_FIELDS = [...Object.keys(baseShape), "proxy", "sudo"];

/** Secret strings found in a raw (unvalidated) connection input, including its proxy. */
function secretsOf(input: unknown, depth = 0): string[] {
  if (typeof input !== "object" || input === null || depth > 1) return [];
  const rec = input as Record<string, unknown>;
  const out: string[] = [];
  for (const f of SECRET_FIELDS) {
    const v = rec[f];
    if (typeof v === "string" && v.length > 0) out.push(v);
  }
  return out.concat(secretsOf(rec.proxy, depth + 1));
}

/**
 * Replace every secret value of `conn` (password, privateKey, privateKeyPassword, also those of
 * its proxy) occurring in `text` with `[REDACTED]`. Private keys are also redacted line by line,
 * so a fragment of a key cannot leak either.
 */
export function redact(text: string, conn: unknown): string {
  const needles = new Set<string>();
  for (const secret of secretsOf(conn)) {
    needles.add(secret);
    const trimmed = secret.trim();
    if (trimmed.length > 0) needles.add(trimmed);
    if (secret.includes("\n")) {
      for (const line of secret.split(/\r?\n/)) {
        const l = line.trim();
        // Key body lines; header lines (-----BEGIN ...) are not secret.
        if (l.length >= 8 && !l.startsWith("-----")) needles.add(l);
      }
    }
  }
  let out = text;
  // Longest first, so the whole key goes before its lines.
  for (const needle of [...needles].sort((a, b) => b.length - a.length)) {
    if (needle.length === 0) continue;
    out = out.split(needle).join("[REDACTED]");
  }
  return out;
}

/** Format zod issues from {@link ConnectionSchema} as `"<path>.<field>: <problem>"` lines. */
export function formatConnectionIssues(issues: readonly z.core.$ZodIssue[], path = "connection"): string[] {
  const errors: string[] = [];
  const qualify = (segments: readonly PropertyKey[]) => formatPath([path, ...segments]);
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        const near = KNOWN_FIELDS.find((k) => k.toLowerCase() === key.toLowerCase());
        const hint =
          near === key
            ? " (a proxy takes the connection fields except proxy and sudo)"
            : near
              ? ` (did you mean ${near}?)`
              : "";
        errors.push(`${qualify([...issue.path, key])}: unknown field${hint}`);
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === "invalid_type" && issue.path.length === 0) {
      message = "must be an object";
    }
    const refs = (issue as { params?: RefParams }).params?.refs;
    if (refs) {
      const parent = issue.path.slice(0, -1);
      for (const ref of refs) {
        message = message.replace(new RegExp(`\\b${ref}\\b`), qualify([...parent, ref]));
      }
    }
    errors.push(`${qualify(issue.path)}: ${message}`);
  }
  return errors;
}

/**
 * Validate a connection. Each error is `"<path>.<field>: <problem>"` and never contains a secret.
 */
export function parseConnection(input: unknown, path = "connection"): Parsed<Connection> {
  const result = ConnectionSchema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  const errors = formatConnectionIssues(result.error.issues, path).map((e) => redact(e, input));
  return { ok: false, errors: [...new Set(errors)] };
}
