import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * A fresh ed25519 key pair in OpenSSH format from ssh-keygen, encrypted when a passphrase is given
 * (bcrypt KDF with `rounds`). Not ssh2's utils.generateKeyPairSync: about 1 in 150 of its keys
 * cannot be parsed back (a dropped leading zero), which made suites fail at random.
 */
export function generateKeyPair(options: { passphrase?: string; rounds?: number } = {}): {
  private: string;
  public: string;
} {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-key-"));
  try {
    const rounds = options.passphrase ? ["-a", String(options.rounds ?? 2)] : [];
    execFileSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      options.passphrase ?? "",
      ...rounds,
      "-f",
      path.join(dir, "k"),
    ]);
    return {
      private: fs.readFileSync(path.join(dir, "k"), "utf8"),
      public: fs.readFileSync(path.join(dir, "k.pub"), "utf8").trim(),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A fresh unencrypted ed25519 private key from ssh-keygen. */
export function generatePrivateKey(): string {
  return generateKeyPair().private;
}

/** A syntactically valid host key for tests that never connect. */
export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
