export const EXIT = {
  ok: 0,
  drift: 1,
  invalidPolicy: 2,
  nftRejected: 3,
  rolledBack: 4,
  connection: 5,
  /** A host step failed for another reason: not root, sudo refused, nft missing, lock held. */
  hostFailed: 6,
} as const;
