/** A pinned host key, as `hostKey` gives it: an OpenSSH public key line or its SHA256 fingerprint. */
import { createHash } from "node:crypto";
import { utils } from "ssh2";
import type { Result } from "../fields/issues";

/** The pinned key blob, or only its fingerprint. */
export type PinnedHostKey =
  | { kind: "key"; type: string; blob: Buffer; fingerprint: string }
  | { kind: "fingerprint"; fingerprint: string };

/** OpenSSH-style SHA256 fingerprint of a public key blob: `SHA256:<base64 without padding>`. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

const NOT_A_KEY = 'not an OpenSSH public key line ("ssh-ed25519 AAAA...") or "SHA256:..." fingerprint';
const PRIVATE = "is a private key; pin the host's PUBLIC key (e.g. /etc/ssh/ssh_host_ed25519_key.pub)";
const KEY_TYPE = /^(ssh-|ecdsa-|sk-)/;

const problem = (message: string): Result<PinnedHostKey> => ({ ok: false, issues: [{ path: [], message }] });

/**
 * Parse a `hostKey` value. Accepts an OpenSSH public key line (`ssh-ed25519 AAAA... comment`)
 * or an OpenSSH SHA256 fingerprint (`SHA256:...`, with or without base64 padding). The issue,
 * when it is neither, never repeats the value.
 */
export function parseHostKey(value: string): Result<PinnedHostKey> {
  const text = value.trim();
  if (/^SHA256:/i.test(text)) {
    const b64 = text.slice("SHA256:".length).replace(/=+$/, "");
    if (!/^[A-Za-z0-9+/]{43}$/.test(b64) || Buffer.from(b64, "base64").length !== 32) {
      return problem(
        'not a SHA256 fingerprint (expected "SHA256:" and 43 base64 characters, as ssh-keygen -lf prints)',
      );
    }
    return { ok: true, value: { kind: "fingerprint", fingerprint: `SHA256:${b64}` } };
  }
  if (/^MD5:/i.test(text) || /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(text)) {
    return problem('MD5 fingerprints are not accepted; use the public key line or its "SHA256:..." fingerprint');
  }
  if (/PRIVATE KEY/.test(text)) return problem(PRIVATE);
  const tokens = text.split(/\s+/);
  if (tokens.length >= 3 && !KEY_TYPE.test(tokens[0] ?? "") && KEY_TYPE.test(tokens[1] ?? "")) {
    return problem('looks like a known_hosts line; drop the leading host name(s) and keep "<type> <base64>"');
  }
  if (tokens.length > 1 && !KEY_TYPE.test(tokens[0] ?? "")) return problem(NOT_A_KEY);
  const parsed = utils.parseKey(text);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) return problem(NOT_A_KEY);
  if (key.isPrivateKey()) return problem(PRIVATE);
  const blob = key.getPublicSSH();
  return { ok: true, value: { kind: "key", type: key.type, blob, fingerprint: fingerprintOf(blob) } };
}
