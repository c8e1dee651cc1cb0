export const EXIT = {
  ok: 0,
  drift: 1,
  invalidPolicy: 2,
  nftRejected: 3,
  rolledBack: 4,
  connection: 5,
  /** A host step failed for another reason: not root, sudo refused, nft missing, lock held. */
  hostFailed: 6,
  /**
   * A step failed after the host was changed, or the host could not put back exactly what it
   * had (commit failed, backup unloadable, disk full...): the message says what the host runs
   * now and what to do.
   */
  stepFailed: 7,
  /** stdout or stderr failed before every byte was written (the reader went away): 128 + SIGPIPE, as a shell reports a writer killed by it. */
  outputFailed: 141,
} as const;
