/** A private key as `privateKey` (and `privateKeyPassword`) give it, parsed and decrypted once. */
import { type ParsedKey, utils } from "ssh2";
import type { Issue, Result } from "../fields/issues";

/** Why a private key cannot be used: the issue's `code`, so each side can word it its own way. */
export type KeyProblem =
  | "encrypted-without-passphrase"
  | "wrong-passphrase"
  | "pkcs8"
  | "file-path"
  | "not-a-key"
  | "public-key";

const KEY_ISSUES: Record<KeyProblem, Omit<Issue, "code">> = {
  "encrypted-without-passphrase": {
    path: ["privateKeyPassword"],
    message: "required: privateKey is encrypted",
    refs: ["privateKey"],
  },
  "wrong-passphrase": { path: ["privateKeyPassword"], message: "cannot decrypt privateKey", refs: ["privateKey"] },
  pkcs8: {
    path: ["privateKey"],
    message:
      'PKCS#8 keys ("BEGIN PRIVATE KEY") are not supported by ssh2; convert to OpenSSH format with ssh-keygen -p -f <file>',
  },
  "file-path": { path: ["privateKey"], message: "not a private key (pass the key's text, not a file path)" },
  "not-a-key": { path: ["privateKey"], message: "not a private key (expected PEM or OpenSSH private key text)" },
  "public-key": { path: ["privateKey"], message: "not a private key (this is a public key)" },
};

const refused = (problem: KeyProblem): Result<ParsedKey> => ({
  ok: false,
  issues: [{ ...KEY_ISSUES[problem], code: problem }],
});

/**
 * Parse (and decrypt: bcrypt KDF, ~0.3 s) a private key with ssh2's own parser, exactly as the
 * connection will use it. Issues are placed at `privateKey` or `privateKeyPassword`; ssh2's
 * parser texts hold no key material, and are not kept anyway.
 */
export function parsePrivateKey(privateKey: string, passphrase: string | undefined): Result<ParsedKey> {
  const parsed = utils.parseKey(privateKey, passphrase);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key !== undefined && !(key instanceof Error))
    return key.isPrivateKey() ? { ok: true, value: key } : refused("public-key");
  const reason = key instanceof Error ? key.message : "no key found";
  if (/passphrase|encrypted/i.test(reason))
    return refused(passphrase === undefined ? "encrypted-without-passphrase" : "wrong-passphrase");
  const trimmed = privateKey.trim();
  if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(trimmed)) return refused("pkcs8");
  if (!trimmed.includes("\n") && /^(~|\.{0,2}\/|[A-Za-z]:\\)/.test(trimmed)) return refused("file-path");
  return refused("not-a-key");
}
