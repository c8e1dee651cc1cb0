/** The SSH transport of the host layer, one concern per module; this is their public face. */
export { HostSession, withSession, type RunOptions, type RunResult, type SessionStats } from "./session";
export { ConnectionError, HostKeyMismatchError } from "./ssh-errors";
export { commandLine, shellQuote } from "./shell";
