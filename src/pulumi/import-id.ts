/**
 * HostTable ids, and what `pulumi import` starts from.
 *
 * An id is `[user@]host[:port]/table` (an IPv6 address in brackets: `root@[2001:db8::5]:22/web`):
 * which host, and which `table inet` on it. create() returns ids of this form. For an import the
 * engine hands read() nothing but the id (pkg/resource/deploy/step.go, ImportStep), so the rest of
 * the connection (host key, credentials, proxy) comes from the environment of the `pulumi import`
 * command, which the engine passes on to the plugin: HNFT_IMPORT_CONNECTION holds the connection
 * fields as JSON, or HNFT_IMPORT_CONNECTION_FILE names a file that does. host, port and user
 * come from the id.
 */
import * as fs from "node:fs";
import { TableName } from "../model/policy";

export const IMPORT_CONNECTION_ENV = "HNFT_IMPORT_CONNECTION";
export const IMPORT_CONNECTION_FILE_ENV = "HNFT_IMPORT_CONNECTION_FILE";

/** What an imported table's policy is recorded as until the program declares one: nothing open. */
export const IMPORTED_POLICY = { exposures: [], allowNothing: true } as const;

const ID = /^(?:([^@/\s[\]]+)@)?(\[[0-9A-Fa-f:.]+\]|[^@:/\s[\]]+)(?::([0-9]{1,5}))?\/([^/\s]+)$/;
const FORMAT = "expected [user@]host[:port]/table, e.g. root@198.51.100.7:22/web or admin@[2001:db8::5]/web";

export interface TableId {
  readonly user?: string;
  readonly host: string;
  readonly port?: number;
  readonly table: string;
}

export function parseTableId(id: string): TableId {
  const m = ID.exec(id);
  if (!m) throw new Error(`import id "${id}": ${FORMAT}`);
  const [, user, rawHost, rawPort, table] = m as unknown as [
    string,
    string | undefined,
    string,
    string | undefined,
    string,
  ];
  const port = rawPort === undefined ? undefined : Number(rawPort);
  if (port !== undefined && (port < 1 || port > 65535))
    throw new Error(`import id "${id}": port ${rawPort} is not between 1 and 65535`);
  const named = TableName.safeParse(table);
  if (!named.success)
    throw new Error(
      `import id "${id}": table "${table}" ${named.error.issues[0]?.message ?? "is not a valid table name"}`,
    );
  const host = rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost;
  return { host, table, ...(user !== undefined ? { user } : {}), ...(port !== undefined ? { port } : {}) };
}

/** The id of `table` on the host `connection` reaches. */
export function tableId(connection: { host?: unknown; port?: unknown; user?: unknown }, table: string): string {
  const host = String(connection.host);
  const port = typeof connection.port === "number" ? connection.port : 22;
  const user = typeof connection.user === "string" ? connection.user : "root";
  return `${user}@${host.includes(":") ? `[${host}]` : host}:${port}/${table}`;
}

function connectionFromEnvironment(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const file = env[IMPORT_CONNECTION_FILE_ENV];
  const [source, text] = file
    ? [IMPORT_CONNECTION_FILE_ENV, readText(file)]
    : [IMPORT_CONNECTION_ENV, env[IMPORT_CONNECTION_ENV]];
  if (text === undefined || text.trim() === "") {
    throw new Error(
      `importing a HostTable needs its connection (host key, credentials): set ${IMPORT_CONNECTION_ENV} to the connection fields as JSON, or ${IMPORT_CONNECTION_FILE_ENV} to a file holding them`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // never the text itself: it holds credentials
    throw new Error(`${source}: not valid JSON`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new Error(`${source}: expected a JSON object of connection fields`);
  return parsed as Record<string, unknown>;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(
      `${IMPORT_CONNECTION_FILE_ENV}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
}

/** The inputs an import starts from: the id's table and host, the environment's connection, no policy yet. */
export function importedInputs(id: string, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const { table, ...address } = parseTableId(id);
  return { table, connection: { ...connectionFromEnvironment(env), ...address }, policy: IMPORTED_POLICY };
}
