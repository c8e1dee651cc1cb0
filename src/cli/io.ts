import { formatIssues, type Issue } from "../fields/issues";
import { EXIT } from "./exit-codes";
import { UsageError } from "./policy-file";

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Checks `--format`: every command that has one takes text or json. */
export function outputFormat(value: string | undefined): "text" | "json" {
  if (value !== "text" && value !== "json") throw new UsageError(`--format: expected text or json, got "${value}"`);
  return value;
}

/** Prints issues under a heading ("invalid policy app.yaml", "invalid arguments"), one `path: problem` line each. */
export function printIssues(io: Io, heading: string, issues: readonly Issue[]): void {
  io.err(
    `${heading}:\n${formatIssues(issues)
      .map((e) => `  ${e}`)
      .join("\n")}\n`,
  );
}

/**
 * Resolves once every byte written to `stream` so far has been handed to the kernel, or the
 * stream failed (false). Writes complete in order, so an empty write's callback comes last.
 */
function drained(stream: NodeJS.WriteStream): Promise<boolean> {
  if (stream.destroyed || stream.errored) return Promise.resolve(false);
  return new Promise((resolve) => {
    stream.write("", (err) => resolve(!err));
  });
}

let outputFailed: NodeJS.ErrnoException | undefined;
let watching = false;

/** Records a failing stdout or stderr (EPIPE when the reader went away) instead of crashing on it. */
export function watchOutput(): void {
  if (watching) return;
  watching = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      outputFailed ??= err;
    });
  }
}

/**
 * Exits with `code` only after stdout and stderr have taken every byte. On a pipe Node writes
 * asynchronously, and process.exit() drops whatever the reader has not taken yet (a JSON
 * document cut at the pipe's 64 KiB, with exit 0). When a stream failed (the reader went
 * away), the exit status says so instead of the command's own: EXIT.outputFailed.
 */
export async function exitAfterOutput(code: number): Promise<never> {
  watchOutput();
  const [out, err] = await Promise.all([drained(process.stdout), drained(process.stderr)]);
  if (!out || !err || outputFailed) {
    if (err && !process.stderr.destroyed) {
      const which = out ? "stderr" : "stdout";
      await new Promise<void>((resolve) =>
        process.stderr.write(
          `hardened-nftables: could not write all output to ${which} (${outputFailed?.code ?? "write failed"}); the command itself ended with exit ${code}; exiting ${EXIT.outputFailed}\n`,
          () => resolve(),
        ),
      );
    }
    process.exit(EXIT.outputFailed);
  }
  process.exit(code);
}
