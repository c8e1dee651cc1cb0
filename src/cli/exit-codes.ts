export const EXIT = {
  ok: 0,
  drift: 1,
  invalidPolicy: 2,
  nftRejected: 3,
  rolledBack: 4,
  connection: 5,
} as const;
