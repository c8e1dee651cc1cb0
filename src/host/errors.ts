/** nft refused the candidate on the target kernel; the host is unchanged. */
export class NftRejectedError extends Error {
  readonly code = "nft-rejected";
  constructor(readonly target: string, readonly nftMessage: string, readonly line?: number, readonly lineText?: string) {
    super(`nft on ${target} rejected the table; nothing changed:\n${nftMessage}${line ? `\noffending line ${line}: ${lineText ?? ""}` : ""}`);
    this.name = "NftRejectedError";
  }
}

/** The new ruleset did not let a fresh SSH connection in; the host restored its previous state. */
export class LockoutRolledBackError extends Error {
  readonly code = "rolled-back";
  constructor(readonly target: string, readonly reason: string) {
    super(`the new ruleset would lock you out of ${target}; rolled back (${reason})`);
    this.name = "LockoutRolledBackError";
  }
}

/** A host step failed in a way that is neither nft's verdict nor the connection. */
export class HostOperationError extends Error {
  readonly code = "host";
  constructor(readonly target: string, message: string) {
    super(`${target}: ${message}`);
    this.name = "HostOperationError";
  }
}

/**
 * A step failed after the host was touched, or the host could not put back exactly what it had:
 * the message says which step, what the host really runs now and what the operator should do,
 * whole (the Pulumi provider shows it as it is). `hostState` is the host's word for that state.
 */
export class HostStepFailedError extends Error {
  readonly code = "step-failed";
  constructor(
    readonly target: string,
    /** What failed, as the operator would say it ("commit (install-table)", "rollback", ...). */
    readonly step: string,
    readonly hostState: string,
    /** The host's own account: the failing command's message, the guardian's record. */
    readonly details: readonly string[],
    /** One sentence: what the host runs now. */
    readonly stateText: string,
    /** One sentence: what to do next. */
    readonly advice: string,
  ) {
    super(
      [
        `${target}: ${step} failed. ${stateText}`,
        ...details.map((d) => `  ${d}`),
        `What to do: ${advice}`,
      ].join("\n"),
    );
    this.name = "HostStepFailedError";
  }
}
