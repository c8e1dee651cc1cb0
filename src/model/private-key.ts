/** A private key as `privateKey` (and `privateKeyPassword`) give it, parsed and decrypted once. */
import { utils, type ParsedKey } from "ssh2";

/** Why a private key cannot be used; each side (schema, CLI, host layer) words it its own way. */
export type KeyProblem =
  | "encrypted-without-passphrase"
  | "wrong-passphrase"
  | "pkcs8"
  | "file-path"
  | "not-a-key"
  | "public-key";

export type KeyResult = { ok: true; key: ParsedKey } | { ok: false; problem: KeyProblem };

/**
 * Parse (and decrypt: bcrypt KDF, ~0.3 s) a private key with ssh2's own parser, exactly as the
 * connection will use it. ssh2's parser texts hold no key material, and are not kept anyway.
 */
export function parsePrivateKey(privateKey: string, passphrase: string | undefined): KeyResult {
  const parsed = utils.parseKey(privateKey, passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key !== undefined && !(key instanceof Error)) {
    return key.isPrivateKey() ? { ok: true, key } : { ok: false, problem: "public-key" };
  }
  const reason = key instanceof Error ? key.message : "no key found";
  if (/passphrase|encrypted/i.test(reason)) {
    return { ok: false, problem: passphrase === undefined ? "encrypted-without-passphrase" : "wrong-passphrase" };
  }
  const trimmed = privateKey.trim();
  if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(trimmed)) return { ok: false, problem: "pkcs8" };
  if (!trimmed.includes("\n") && /^(~|\.{0,2}\/|[A-Za-z]:\\)/.test(trimmed)) return { ok: false, problem: "file-path" };
  return { ok: false, problem: "not-a-key" };
}
