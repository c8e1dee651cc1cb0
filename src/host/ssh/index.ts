/** The SSH transport of the host layer, one concern per module; this is their public face. */
export { HostSession, type RunOptions, type RunResult, type SessionStats, withSession } from "./session";
export { commandLine, shellQuote } from "./shell";
export { ConnectionError, HostKeyMismatchError } from "./ssh-errors";
