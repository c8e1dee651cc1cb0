import { HostOperationError } from "../errors";
import type { HostSession } from "../ssh";
import { BOOTSTRAP, type BundleInput, bundle } from "./bundle";
import { LAST_TRANSACTION_PREFIX } from "./last-transaction";
import { HOST_EXIT } from "./protocol";

export interface RemoteOutput {
  readonly code: number;
  /** `key=value` lines before the first section. */
  readonly values: Readonly<Record<string, string>>;
  /** `::name::` sections, each with its lines. */
  readonly sections: Readonly<Record<string, string>>;
  /** The last `hnft-status ...` line, without the prefix. */
  readonly status: string;
  readonly warnings: readonly string[];
  /** `hnft-detail ...` lines: what failed and what the host did about it, in order. */
  readonly details: readonly string[];
  /** `hnft-last-transaction ...` lines: the outcome of an earlier apply no controller read (last-transaction.ts). */
  readonly lastTransaction: readonly string[];
  readonly stdout: string;
  readonly stderr: string;
}

export function parseOutput(code: number, stdout: string, stderr: string): RemoteOutput {
  const values: Record<string, string> = {};
  const sections: Record<string, string[]> = {};
  const warnings: string[] = [];
  const details: string[] = [];
  const lastTransaction: string[] = [];
  let status = "";
  let current: string | undefined;
  for (const line of stdout.split("\n")) {
    const marker = /^::(.+)::$/.exec(line);
    if (marker) {
      current = marker[1] === "end" ? undefined : marker[1]!;
      if (current) sections[current] = [];
      continue;
    }
    if (current) {
      sections[current]!.push(line);
      continue;
    }
    if (line.startsWith("hnft-status ")) status = line.slice("hnft-status ".length);
    else if (line.startsWith("hnft-warning ")) warnings.push(line.slice("hnft-warning ".length));
    else if (line.startsWith("hnft-detail ")) details.push(line.slice("hnft-detail ".length));
    else if (line.startsWith(LAST_TRANSACTION_PREFIX)) lastTransaction.push(line);
    else {
      const eq = line.indexOf("=");
      if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  const joined = Object.fromEntries(Object.entries(sections).map(([k, v]) => [k, v.join("\n").replace(/\n+$/, "")]));
  return { code, values, sections: joined, status, warnings, details, lastTransaction, stdout, stderr };
}

export interface StepOptions {
  readonly timeoutMs?: number;
}

/** Runs one fixed host script with its bundle on stdin: one round trip. */
export async function runStep(
  session: HostSession,
  input: BundleInput,
  options: StepOptions = {},
): Promise<RemoteOutput> {
  const stdin = await bundle(input);
  const result = await session.run(BOOTSTRAP, { stdin, timeoutMs: options.timeoutMs });
  const output = parseOutput(result.code, result.stdout, result.stderr);
  if (
    result.code === HOST_EXIT.badParameter ||
    result.code === HOST_EXIT.noTempDir ||
    result.code === HOST_EXIT.noUnpack
  ) {
    throw new HostOperationError(
      session.target,
      `the ${input.main} step could not start (${output.status || `exit ${result.code}`}): ${session.redact(result.stderr.trim())}`,
    );
  }
  if (/sudo: a password is required|sudo: .*not allowed/.test(result.stderr)) {
    throw new HostOperationError(session.target, `sudo refused: the user needs passwordless sudo (sudo -n)`);
  }
  return output;
}
