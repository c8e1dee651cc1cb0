/** Where in a candidate file nft found its error. Pure: used by the local check and the host's. */

export interface NftCheckResult {
  readonly ok: boolean;
  /** nft's own message; empty when ok. */
  readonly error: string;
  /** The line of the candidate file nft complained about, when it named one. */
  readonly line?: number;
  readonly lineText?: string;
}

/** nft reports `FILE:LINE:COL-COL: Error: ...`; pull out the line so the user sees it. */
export function locateNftError(stderr: string, nftText: string): NftCheckResult {
  const error = stderr.trim();
  const match = /:(\d+):\d+(?:-\d+)?: Error:/.exec(error);
  if (!match) return { ok: false, error };
  const line = Number(match[1]);
  const lineText = nftText.split("\n")[line - 1]?.trim();
  return { ok: false, error, line, lineText };
}
