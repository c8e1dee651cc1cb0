/** The command lines the host layer sends: fixed scripts, quoted as one shell word. */

/** Quote `text` as one POSIX shell word. */
export function shellQuote(text: string): string {
  if (text.includes("\0")) throw new Error("shellQuote: NUL byte in text");
  return `'${text.replace(/'/g, `'"'"'`)}'`;
}

/**
 * The command line sent for a fixed script: `[sudo -n ][timeout -s KILL <s> ]/bin/sh -c '<script>'`.
 *
 * With a timeout, coreutils `timeout` (its own process group, killed as a group) ends the
 * remote processes: closing an SSH channel without a pty does not stop them, and a "signal"
 * channel request cannot reach processes that sudo runs as root.
 */
export function commandLine(script: string, sudo: boolean, timeoutMs?: number): string {
  const limit = timeoutMs === undefined ? "" : `timeout -s KILL ${(Math.max(1, timeoutMs) / 1000).toFixed(3)} `;
  return `${sudo ? "sudo -n " : ""}${limit}/bin/sh -c ${shellQuote(script)}`;
}
