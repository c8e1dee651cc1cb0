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

/** Prints a policy file's problems, one `path: problem` line each. */
export function printPolicyErrors(io: Io, file: string, errors: readonly string[]): void {
  io.err(`invalid policy ${file}:\n${errors.map((e) => `  ${e}`).join("\n")}\n`);
}
