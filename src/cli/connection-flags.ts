/**
 * The connection flags every host command shares (probe, apply, diff, remove), and their
 * translation into a validated {@link Connection}.
 *
 * Secrets never come from argv: a password or passphrase is read from the environment variable
 * the flag names, a private key from the file it names. Error messages name the flag (never the
 * schema field) and never contain a secret: they are built from parseConnection's already
 * redacted lines and redacted once more against the assembled input.
 */
import { readFileSync } from "node:fs";
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
export interface ConnectionFlagValues {
  host?: string;
  identity?: string;
  "host-key"?: string;
  "password-env"?: string;
  "passphrase-env"?: string;
  agent?: string;
  proxy?: string;
  "proxy-identity"?: string;
  "proxy-host-key"?: string;
  "proxy-password-env"?: string;
  "proxy-passphrase-env"?: string;
  sudo?: boolean;
  "no-sudo"?: boolean;
  "insecure-ignore-host-key"?: boolean;
  "dial-timeout"?: string;
  "dial-attempts"?: string;
  password?: string;
  passphrase?: string;
  "proxy-password"?: string;
  "proxy-passphrase"?: string;
}

export interface ConnectionFlagSources {
  /** Where --password-env and friends read from (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Reads --identity files (default: readFileSync utf8). */
  readonly readFile?: (path: string) => string;
}

export type ConnectionFromFlags = { ok: true; value: Connection } | { ok: false; errors: string[] };

interface HopFlags {
  readonly host: "--host" | "--proxy";
  readonly identity: string;
  readonly hostKey: string;
  readonly passwordEnv: string;
  readonly passphraseEnv: string;
}

const TARGET: HopFlags = {
  host: "--host",
  identity: "--identity",
  hostKey: "--host-key",
  passwordEnv: "--password-env",
  passphraseEnv: "--passphrase-env",
};
const PROXY: HopFlags = {
  host: "--proxy",
  identity: "--proxy-identity",
  hostKey: "--proxy-host-key",
  passwordEnv: "--proxy-password-env",
  passphraseEnv: "--proxy-passphrase-env",
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
export function parseHostSpec(flag: string, spec: string): HostSpec | { error: string } {
  const at = spec.lastIndexOf("@");
  const user = at >= 0 ? spec.slice(0, at) : undefined;
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  if (user === "") return { error: `${flag}: empty user name before "@" (write ADDR or USER@ADDR)` };
  if (rest === "") return { error: `${flag}: missing address after "@"` };
  let host: string;
  let port: string | undefined;
  if (rest.startsWith("[")) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
    if (!m || !m[1]) return { error: `${flag}: expected [IPv6]:PORT or [IPv6], got "${spec}"` };
    if (!m[1].includes(":")) return { error: `${flag}: brackets are for IPv6 addresses, got "${spec}"` };
    host = m[1];
    port = m[2];
  } else {
    const colons = (rest.match(/:/g) ?? []).length;
    if (colons === 1) [host, port] = rest.split(":") as [string, string];
    else host = rest;
  }
  if (port === undefined) return { user, host };
  if (/^[0-9]{1,5}$/.test(port)) return { user, host, port: Number(port) };
  return { error: `${flag}: port "${port}" must be a whole number between 1 and 65535` };
}

function numberFlag(flag: string, text: string | undefined, errors: string[]): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n)) {
    errors.push(`${flag}: expected a number, got "${text}"`);
    return undefined;
  }
  return n;
}

function readEnv(flag: string, name: string | undefined, env: NodeJS.ProcessEnv, errors: string[]): string | undefined {
  if (name === undefined) return undefined;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    errors.push(`${flag}: expects the NAME of an environment variable (letters, digits, _), not its value`);
    return undefined;
  }
  const value = env[name];
  if (value === undefined || value === "") {
    // The name is not echoed: a user who passed the secret itself by mistake must not see it printed.
    errors.push(`${flag}: the environment variable it names is not set or is empty`);
    return undefined;
  }
  return value;
}

function readIdentity(flag: string, path: string | undefined, read: (p: string) => string, errors: string[]): string | undefined {
  if (path === undefined) return undefined;
  try {
    return read(path);
  } catch (err) {
    errors.push(`${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? "unreadable"}`);
    return undefined;
  }
}

/**
 * Rewrites one parseConnection line (`connection.privateKey: problem mentioning connection.hostKey`)
 * with flag names (`--identity: problem mentioning --host-key`).
 */
export function flagMessage(line: string, identityFiles: { target?: string; proxy?: string } = {}): string {
  const colon = line.indexOf(": ");
  const path = colon >= 0 ? line.slice(0, colon) : line;
  let message = colon >= 0 ? line.slice(colon + 2) : "";
  const isProxy = path === "connection.proxy" || path.startsWith("connection.proxy.");
  const hop = isProxy ? PROXY : TARGET;
  const flags = fieldFlags(hop);
  const field = path.split(".").pop() ?? "";

  // Qualified references first (connection.privateKey, connection.proxy.hostKey), then bare ones.
  message = message.replace(/\bconnection(\.proxy)?\.(\w+)/g, (_m, proxy: string | undefined, f: string) => fieldFlags(proxy ? PROXY : TARGET)[f] ?? f);
  if (/^one of privateKey, password or agentSocketPath is required/.test(message)) {
    return `${hop.identity}, ${hop.passwordEnv} or --agent: one is required (and $SSH_AUTH_SOCK is not set)`;
  }
  if (isProxy) message = message.replace(/^required \(pin the host's public key\) unless insecureIgnoreHostKey is true$/, "required (pin the bastion's public key; it is always checked)");
  else message = message.replace(/unless insecureIgnoreHostKey is true/, "unless --insecure-ignore-host-key is given");
  message = message.replace(/\b(privateKeyPassword|privateKey|agentSocketPath|insecureIgnoreHostKey|hostKey)\b/g, (f) => flags[f] ?? f);

  if (path === "connection" || path === "connection.proxy") return `${isProxy ? "--proxy" : "--host"}: ${message}`;
  let flag = flags[field] ?? path;
  if (field === "privateKey") {
    const file = isProxy ? identityFiles.proxy : identityFiles.target;
    if (file) flag = `${flag} ${file}`;
  }
  if (field === "port") message = `port ${message}`;
  if (field === "user") message = `user ${message}`;
  return `${flag}: ${message}`;
}

/**
 * Builds and validates the Connection the flags describe. Never contacts anything; reads only
 * the identity files and the named environment variables. Each error names a flag.
 */
export function connectionFromFlags(values: ConnectionFlagValues, sources: ConnectionFlagSources = {}): ConnectionFromFlags {
  const env = sources.env ?? process.env;
  const read = sources.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const errors: string[] = [];

  for (const [flag, instead] of [
    ["password", "--password-env VAR"],
    ["passphrase", "--passphrase-env VAR"],
    ["proxy-password", "--proxy-password-env VAR"],
    ["proxy-passphrase", "--proxy-passphrase-env VAR"],
  ] as const) {
    if (values[flag] !== undefined) errors.push(`--${flag}: not accepted on the command line (argv shows in ps and shell history); use ${instead}`);
  }
  if (values.sudo && values["no-sudo"]) errors.push("--sudo: cannot be combined with --no-sudo");
  if (values.host === undefined) {
    errors.push("--host: required ([USER@]ADDR[:PORT])");
    return { ok: false, errors };
  }

  const target = parseHostSpec("--host", values.host);
  if ("error" in target) errors.push(target.error);
  const proxySpec = values.proxy === undefined ? undefined : parseHostSpec("--proxy", values.proxy);
  if (proxySpec && "error" in proxySpec) errors.push(proxySpec.error);
  if (values.proxy === undefined) {
    for (const flag of ["proxy-identity", "proxy-host-key", "proxy-password-env", "proxy-passphrase-env"] as const) {
      if (values[flag] !== undefined) errors.push(`--${flag}: set without --proxy`);
    }
  }

  const perDialTimeout = numberFlag("--dial-timeout", values["dial-timeout"], errors);
  const dialErrorLimit = numberFlag("--dial-attempts", values["dial-attempts"], errors);
  const privateKey = readIdentity("--identity", values.identity, read, errors);
  const password = readEnv("--password-env", values["password-env"], env, errors);
  const privateKeyPassword = readEnv("--passphrase-env", values["passphrase-env"], env, errors);
  const proxyKey = readIdentity("--proxy-identity", values["proxy-identity"], read, errors);
  const proxyPassword = readEnv("--proxy-password-env", values["proxy-password-env"], env, errors);
  const proxyPassphrase = readEnv("--proxy-passphrase-env", values["proxy-passphrase-env"], env, errors);

  const defaultAgent = env.SSH_AUTH_SOCK ? env.SSH_AUTH_SOCK : undefined;
  const agentFor = (key: string | undefined, pw: string | undefined, keyFlag: string | undefined, pwFlag: string | undefined) =>
    values.agent ?? (key === undefined && pw === undefined && keyFlag === undefined && pwFlag === undefined ? defaultAgent : undefined);

  const dial = {
    ...(perDialTimeout !== undefined ? { perDialTimeout } : {}),
    ...(dialErrorLimit !== undefined ? { dialErrorLimit } : {}),
  };
  const input: Record<string, unknown> = {
    ...("error" in target ? { host: "unset.invalid" } : target.user !== undefined ? { user: target.user, host: target.host } : { host: target.host }),
    ...("error" in target || target.port === undefined ? {} : { port: target.port }),
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(privateKeyPassword !== undefined ? { privateKeyPassword } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(values["host-key"] !== undefined ? { hostKey: values["host-key"] } : {}),
    ...(values["insecure-ignore-host-key"] ? { insecureIgnoreHostKey: true } : {}),
    ...(values.sudo ? { sudo: true } : values["no-sudo"] ? { sudo: false } : {}),
    ...dial,
  };
  const agent = agentFor(privateKey, password, values.identity, values["password-env"]);
  if (agent !== undefined) input.agentSocketPath = agent;
  if (proxySpec && !("error" in proxySpec)) {
    const proxy: Record<string, unknown> = {
      host: proxySpec.host,
      ...(proxySpec.user !== undefined ? { user: proxySpec.user } : {}),
      ...(proxySpec.port !== undefined ? { port: proxySpec.port } : {}),
      ...(proxyKey !== undefined ? { privateKey: proxyKey } : {}),
      ...(proxyPassphrase !== undefined ? { privateKeyPassword: proxyPassphrase } : {}),
      ...(proxyPassword !== undefined ? { password: proxyPassword } : {}),
      ...(values["proxy-host-key"] !== undefined ? { hostKey: values["proxy-host-key"] } : {}),
      ...dial,
    };
    const proxyAgent = agentFor(proxyKey, proxyPassword, values["proxy-identity"], values["proxy-password-env"]);
    if (proxyAgent !== undefined) proxy.agentSocketPath = proxyAgent;
    input.proxy = proxy;
  }

  // Problems already reported by flag (an unreadable key file, an unset variable) are not
  // reported a second time in schema words ("one of privateKey, password ... is required").
  const parsed = parseConnection(input);
  if (parsed.ok && errors.length === 0) return { ok: true, value: parsed.value };
  const alreadyReported = (flag: string) => errors.some((e) => e.startsWith(`${flag}:`));
  const files = { target: values.identity, proxy: values["proxy-identity"] };
  if (!parsed.ok) {
    for (const line of parsed.errors) {
      const text = flagMessage(line, files);
      if (text.startsWith("--identity, ") && (alreadyReported("--identity") || alreadyReported("--password-env"))) continue;
      if (text.startsWith("--proxy-identity, ") && (alreadyReported("--proxy-identity") || alreadyReported("--proxy-password-env"))) continue;
      if ("error" in target && text.startsWith("--host:")) continue;
      errors.push(text);
    }
  }
  return { ok: false, errors: [...new Set(errors.map((e) => redact(e, input)))] };
}
