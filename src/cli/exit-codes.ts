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
  /**
   * The host could not be reached at all while it waited for the proof of access (a new connection
   * failed and the applying session went silent too): the ruleset was not judged; the host
   * restores its previous state by itself.
   */
  lostContact: 8,
  /** stdout or stderr failed before every byte was written (the reader went away): 128 + SIGPIPE, as a shell reports a writer killed by it. */
  outputFailed: 141,
} as const;
