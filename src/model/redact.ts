/** The last line of defence: no secret of a connection in any text we print, log or store. */

/** Fields whose values are secrets and must never appear in a message, log line or JSON. */
export const SECRET_FIELDS = ["password", "privateKey", "privateKeyPassword"] as const;

/** Secret strings found in a connection (validated or not), including its proxy's. */
function secretsOf(input: unknown, depth = 0): string[] {
  if (typeof input !== "object" || input === null || depth > 1) return [];
  const rec = input as Record<string, unknown>;
  const out: string[] = [];
  for (const f of SECRET_FIELDS) {
    const v = rec[f];
    if (typeof v === "string" && v.length > 0) out.push(v);
  }
  return out.concat(secretsOf(rec.proxy, depth + 1));
}

/**
 * Replace every secret value of `conn` (password, privateKey, privateKeyPassword, also those of
 * its proxy) occurring in `text` with `[REDACTED]`. Private keys are also redacted line by line,
 * so a fragment of a key cannot leak either.
 */
export function redact(text: string, conn: unknown): string {
  const needles = new Set<string>();
  for (const secret of secretsOf(conn)) {
    needles.add(secret);
    const trimmed = secret.trim();
    if (trimmed.length > 0) needles.add(trimmed);
    if (secret.includes("\n")) {
      for (const line of secret.split(/\r?\n/)) {
        const l = line.trim();
        // Key body lines; header lines (-----BEGIN ...) are not secret.
        if (l.length >= 8 && !l.startsWith("-----")) needles.add(l);
      }
    }
  }
  let out = text;
  // Longest first, so the whole key goes before its lines.
  for (const needle of [...needles].sort((a, b) => b.length - a.length)) {
    if (needle.length === 0) continue;
    out = out.split(needle).join("[REDACTED]");
  }
  return out;
}
