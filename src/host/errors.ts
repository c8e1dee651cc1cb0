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
