import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** A fresh unencrypted ed25519 private key from ssh-keygen (ssh2's own generator makes broken keys). */
export function generatePrivateKey(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-key-"));
  try {
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "k")]);
    return fs.readFileSync(path.join(dir, "k"), "utf8");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A syntactically valid host key for tests that never connect. */
export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
