/**
 * The connection flags every host command shares (probe, apply, diff, remove), and their
 * translation into a validated {@link Connection}.
 *
 * Secrets never come from argv: a password or passphrase is read from the environment variable
 * the flag names, a private key from the file it names. Issues name the flag (never the schema
 * field): the model's issues are mapped by their path, never by their wording, and redacted once
 * more against the assembled input.
 */
import { readFileSync } from "node:fs";
import type { parseArgs } from "node:util";
import { gatherIssues, type Issue, type Result, uniqueIssues } from "../fields/issues";
import { type Connection, parseConnection, redact } from "../model/connection";

/** parseArgs options for the connection; spread into each host command's options. */
export const CONNECTION_OPTIONS = {
  host: { type: "string" },
  identity: { type: "string" },
  "host-key": { type: "string" },
  "password-env": { type: "string" },
  "passphrase-env": { type: "string" },
  agent: { type: "string" },
  proxy: { type: "string" },
  "proxy-identity": { type: "string" },
  "proxy-host-key": { type: "string" },
  "proxy-password-env": { type: "string" },
  "proxy-passphrase-env": { type: "string" },
  sudo: { type: "boolean" },
  "no-sudo": { type: "boolean" },
  "insecure-ignore-host-key": { type: "boolean" },
  "dial-timeout": { type: "string" },
  "dial-attempts": { type: "string" },
  // Declared only to refuse them without echoing the value (an unknown-option error would).
  password: { type: "string" },
  passphrase: { type: "string" },
  "proxy-password": { type: "string" },
  "proxy-passphrase": { type: "string" },
} as const;

export const CONNECTION_HELP = `Connection:
  --host [USER@]ADDR[:PORT]   target; USER defaults to root, PORT to 22; IPv6 as [2001:db8::1]:22 or bare
  --host-key KEY              the target's public host key ("ssh-ed25519 AAAA...", e.g. from
                              /etc/ssh/ssh_host_ed25519_key.pub) or its "SHA256:..." fingerprint
  --identity KEYFILE          private key file (OpenSSH or PEM)
  --passphrase-env VAR        read the identity's passphrase from environment variable VAR
  --password-env VAR          read the login password from environment variable VAR
  --agent SOCKET              ssh-agent socket (default: $SSH_AUTH_SOCK when neither --identity
                              nor --password-env is given)
  --proxy [USER@]ADDR[:PORT]  jump through this bastion; with --proxy-host-key, --proxy-identity,
                              --proxy-passphrase-env, --proxy-password-env (the agent is shared)
  --sudo / --no-sudo          run host steps through sudo -n (default: on unless USER is root)
  --insecure-ignore-host-key  do not check the target's host key (explicit only; never the default)
  --dial-timeout S            seconds per connection attempt (default 15)
  --dial-attempts N           connection attempts on network errors (default 10, -1 unlimited)
Passwords and passphrases are never taken from the command line.`;

/** The values parseArgs returns for {@link CONNECTION_OPTIONS} (a command's values are a superset). */
export type ConnectionFlagValues = ReturnType<
  typeof parseArgs<{ options: typeof CONNECTION_OPTIONS; strict: true }>
>["values"];

export interface ConnectionFlagSources {
  /** Where --password-env and friends read from (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Reads --identity files (default: readFileSync utf8). */
  readonly readFile?: (path: string) => string;
}

interface HopFlags {
  readonly host: "--host" | "--proxy";
  readonly identity: string;
  readonly hostKey: string;
  readonly passwordEnv: string;
  readonly passphraseEnv: string;
  /** How the model's "hostKey required" reads for this hop. */
  readonly hostKeyRequired: string;
}

const TARGET: HopFlags = {
  host: "--host",
  identity: "--identity",
  hostKey: "--host-key",
  passwordEnv: "--password-env",
  passphraseEnv: "--passphrase-env",
  hostKeyRequired: "required (pin the host's public key) unless --insecure-ignore-host-key is given",
};
const PROXY: HopFlags = {
  host: "--proxy",
  identity: "--proxy-identity",
  hostKey: "--proxy-host-key",
  passwordEnv: "--proxy-password-env",
  passphraseEnv: "--proxy-passphrase-env",
  hostKeyRequired: "required (pin the bastion's public key; it is always checked)",
};

/** The flag that sets each connection field, per hop. */
function fieldFlags(hop: HopFlags): Record<string, string> {
  return {
    host: hop.host,
    port: hop.host,
    user: hop.host,
    password: hop.passwordEnv,
    privateKey: hop.identity,
    privateKeyPassword: hop.passphraseEnv,
    agentSocketPath: "--agent",
    hostKey: hop.hostKey,
    insecureIgnoreHostKey: "--insecure-ignore-host-key",
    sudo: "--sudo",
    dialErrorLimit: "--dial-attempts",
    perDialTimeout: "--dial-timeout",
  };
}

const flagIssue = (flag: string, message: string): Issue => ({ path: [flag], message });

export interface HostSpec {
  readonly user?: string;
  readonly host: string;
  readonly port?: number | string;
}

/**
 * Splits `[user@]addr[:port]`: `[v6]:port`, `[v6]`, bare v6 (two colons or more: no port),
 * `name:port`, `name`. The port is returned as a number when it is digits (the schema checks
 * its range), as the raw text otherwise (so the schema reports it).
 */
export function parseHostSpec(flag: string, spec: string): Result<HostSpec> {
  const refuse = (message: string): Result<HostSpec> => ({ ok: false, issues: [flagIssue(flag, message)] });
  const at = spec.lastIndexOf("@");
  const user = at >= 0 ? spec.slice(0, at) : undefined;
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  if (user === "") return refuse('empty user name before "@" (write ADDR or USER@ADDR)');
  if (rest === "") return refuse('missing address after "@"');
  let host: string;
  let port: string | undefined;
  if (rest.startsWith("[")) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
    if (!m?.[1]) return refuse(`expected [IPv6]:PORT or [IPv6], got "${spec}"`);
    if (!m[1].includes(":")) return refuse(`brackets are for IPv6 addresses, got "${spec}"`);
    host = m[1];
    port = m[2];
  } else {
    const colons = (rest.match(/:/g) ?? []).length;
    if (colons === 1) [host, port] = rest.split(":") as [string, string];
    else host = rest;
  }
  if (port === undefined) return { ok: true, value: { user, host } };
  if (/^[0-9]{1,5}$/.test(port)) return { ok: true, value: { user, host, port: Number(port) } };
  return refuse(`port "${port}" must be a whole number between 1 and 65535`);
}

function numberFlag(flag: string, text: string | undefined): Result<number | undefined> {
  if (text === undefined) return { ok: true, value: undefined };
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n))
    return { ok: false, issues: [flagIssue(flag, `expected a number, got "${text}"`)] };
  return { ok: true, value: n };
}

function readEnv(flag: string, name: string | undefined, env: NodeJS.ProcessEnv): Result<string | undefined> {
  if (name === undefined) return { ok: true, value: undefined };
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    return {
      ok: false,
      issues: [flagIssue(flag, "expects the NAME of an environment variable (letters, digits, _), not its value")],
    };
  }
  const value = env[name];
  // The name is not echoed: a user who passed the secret itself by mistake must not see it printed.
  if (value === undefined || value === "")
    return { ok: false, issues: [flagIssue(flag, "the environment variable it names is not set or is empty")] };
  return { ok: true, value };
}

function readIdentity(flag: string, path: string | undefined, read: (p: string) => string): Result<string | undefined> {
  if (path === undefined) return { ok: true, value: undefined };
  try {
    return { ok: true, value: read(path) };
  } catch (err) {
    return {
      ok: false,
      issues: [flagIssue(flag, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`)],
    };
  }
}

/**
 * The flag issue for one of parseConnection's issues (path `connection[.proxy][.field]`): the
 * flag that sets the field, the fields the message names replaced by their flags.
 */
export function asFlagIssue(issue: Issue, identityFiles: { target?: string; proxy?: string } = {}): Issue {
  const [, ...rest] = issue.path;
  const isProxy = rest[0] === "proxy";
  const hop = isProxy ? PROXY : TARGET;
  const field = String((isProxy ? rest[1] : rest[0]) ?? "");
  const flags = fieldFlags(hop);
  if (issue.code === "no-credentials")
    return flagIssue(
      `${hop.identity}, ${hop.passwordEnv} or --agent`,
      "one is required (and $SSH_AUTH_SOCK is not set)",
    );
  if (issue.code === "host-key-required") return flagIssue(hop.hostKey, hop.hostKeyRequired);
  let message = issue.message;
  for (const ref of issue.refs ?? []) message = message.replace(new RegExp(`\\b${ref}\\b`), flags[ref] ?? ref);
  if (field === "") return flagIssue(hop.host, message);
  let flag = flags[field] ?? field;
  const file = field === "privateKey" ? (isProxy ? identityFiles.proxy : identityFiles.target) : undefined;
  if (file) flag = `${flag} ${file}`;
  if (field === "port" || field === "user") message = `${field} ${message}`;
  return flagIssue(flag, message);
}

const ARGV_SECRETS = [
  ["password", "--password-env VAR"],
  ["passphrase", "--passphrase-env VAR"],
  ["proxy-password", "--proxy-password-env VAR"],
  ["proxy-passphrase", "--proxy-passphrase-env VAR"],
] as const;

const PROXY_ONLY = ["proxy-identity", "proxy-host-key", "proxy-password-env", "proxy-passphrase-env"] as const;

/**
 * Builds and validates the Connection the flags describe. Never contacts anything; reads only
 * the identity files and the named environment variables. Each issue names a flag.
 */
export function connectionFromFlags(
  values: ConnectionFlagValues,
  sources: ConnectionFlagSources = {},
): Result<Connection> {
  const env = sources.env ?? process.env;
  const read = sources.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const { issues, take } = gatherIssues();

  for (const [flag, instead] of ARGV_SECRETS) {
    if (values[flag] !== undefined)
      issues.push(
        flagIssue(`--${flag}`, `not accepted on the command line (argv shows in ps and shell history); use ${instead}`),
      );
  }
  if (values.sudo && values["no-sudo"]) issues.push(flagIssue("--sudo", "cannot be combined with --no-sudo"));
  if (values.host === undefined)
    return { ok: false, issues: [...issues, flagIssue("--host", "required ([USER@]ADDR[:PORT])")] };

  const target = take(parseHostSpec("--host", values.host));
  const proxySpec = values.proxy === undefined ? undefined : take(parseHostSpec("--proxy", values.proxy));
  if (values.proxy === undefined) {
    for (const flag of PROXY_ONLY)
      if (values[flag] !== undefined) issues.push(flagIssue(`--${flag}`, "set without --proxy"));
  }

  const perDialTimeout = take(numberFlag("--dial-timeout", values["dial-timeout"]));
  const dialErrorLimit = take(numberFlag("--dial-attempts", values["dial-attempts"]));
  const privateKey = take(readIdentity("--identity", values.identity, read));
  const password = take(readEnv("--password-env", values["password-env"], env));
  const privateKeyPassword = take(readEnv("--passphrase-env", values["passphrase-env"], env));
  const proxyKey = take(readIdentity("--proxy-identity", values["proxy-identity"], read));
  const proxyPassword = take(readEnv("--proxy-password-env", values["proxy-password-env"], env));
  const proxyPassphrase = take(readEnv("--proxy-passphrase-env", values["proxy-passphrase-env"], env));

  const defaultAgent = env.SSH_AUTH_SOCK ? env.SSH_AUTH_SOCK : undefined;
  const agentFor = (
    key: string | undefined,
    pw: string | undefined,
    keyFlag: string | undefined,
    pwFlag: string | undefined,
  ) =>
    values.agent ??
    (key === undefined && pw === undefined && keyFlag === undefined && pwFlag === undefined ? defaultAgent : undefined);
  const defined = (fields: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));

  const dial = defined({ perDialTimeout, dialErrorLimit });
  const input: Record<string, unknown> = {
    ...defined({ host: target ? target.host : "unset.invalid", user: target?.user, port: target?.port }),
    ...defined({ privateKey, privateKeyPassword, password, hostKey: values["host-key"] }),
    ...(values["insecure-ignore-host-key"] ? { insecureIgnoreHostKey: true } : {}),
    ...(values.sudo ? { sudo: true } : values["no-sudo"] ? { sudo: false } : {}),
    ...dial,
    ...defined({ agentSocketPath: agentFor(privateKey, password, values.identity, values["password-env"]) }),
  };
  if (proxySpec) {
    input.proxy = {
      ...defined({ host: proxySpec.host, user: proxySpec.user, port: proxySpec.port }),
      ...defined({
        privateKey: proxyKey,
        privateKeyPassword: proxyPassphrase,
        password: proxyPassword,
        hostKey: values["proxy-host-key"],
      }),
      ...dial,
      ...defined({
        agentSocketPath: agentFor(proxyKey, proxyPassword, values["proxy-identity"], values["proxy-password-env"]),
      }),
    };
  }

  const parsed = parseConnection(input);
  if (parsed.ok && issues.length === 0) return parsed;
  // Problems already reported by flag (an unreadable key file, an unset variable, a bad --host)
  // are not reported a second time in schema words ("one of privateKey, password ... is required").
  const reported = new Set(issues.map((i) => i.path[0]));
  const files = { target: values.identity, proxy: values["proxy-identity"] };
  for (const issue of parsed.ok ? [] : parsed.issues) {
    const hop = issue.path[1] === "proxy" ? PROXY : TARGET;
    if (issue.code === "no-credentials" && (reported.has(hop.identity) || reported.has(hop.passwordEnv))) continue;
    const flagged = asFlagIssue(issue, files);
    if (target === undefined && flagged.path[0] === "--host") continue;
    issues.push(flagged);
  }
  // One issue per flag and message: both hops can report the same thing about one flag.
  const unique = uniqueIssues(
    issues.map((i) => ({ ...i, message: redact(i.message, input) })),
    (i) => `${String(i.path[0])}\0${i.message}`,
  );
  return { ok: false, issues: unique };
}
