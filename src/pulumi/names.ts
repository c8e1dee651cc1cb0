import { TableName } from "../model/policy";

interface Hop {
  readonly host?: unknown;
  readonly port?: unknown;
  readonly user?: unknown;
}

function hop(c: Hop): string {
  const host = String(c.host ?? "?");
  const port = typeof c.port === "number" ? c.port : 22;
  const user = typeof c.user === "string" ? c.user : "root";
  return `${user}@${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** `user@host:port`, plus ` via user@bastion:port` for a proxy jump. Never contains secrets. */
export function describeTarget(connection: Hop & { readonly proxy?: Hop }): string {
  return connection.proxy ? `${hop(connection)} via ${hop(connection.proxy)}` : hop(connection);
}

/** host:port: what identifies the machine; a change replaces the resource. */
export function machineOf(connection: Hop): string {
  return `${String(connection.host)}:${typeof connection.port === "number" ? connection.port : 22}`;
}

/**
 * The default table name for a resource name: letters, digits, `_` and `-` kept, anything else
 * becomes `-`; must start with a letter (else `hnft-` is prefixed), at most 64 characters, and not
 * an nft keyword (else `hnft-` is prefixed).
 */
export function tableNameFor(resourceName: string): string {
  let name = resourceName.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  if (!/^[A-Za-z]/.test(name)) name = `hnft-${name}`.replace(/-+$/, "");
  name = name.slice(0, 64).replace(/-+$/, "");
  if (!TableName.safeParse(name).success) name = `hnft-${name}`.slice(0, 64);
  return name;
}
