import { execFileSync } from "node:child_process";

/**
 * Suites that need root (network namespaces, nft, sshd) call this at collection time.
 * On a laptop without root they are skipped with a loud message; under CI=true a missing
 * capability is an error, so a skipped suite can never pass a CI run.
 */
export function requireRoot(suite: string, tools: string[] = ["nft", "ip"]): boolean {
  const missing: string[] = [];
  if (typeof process.getuid === "function" && process.getuid() !== 0) missing.push("root");
  for (const tool of tools) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      missing.push(tool);
    }
  }
  if (missing.length === 0) return true;
  const message = `${suite}: needs ${missing.join(", ")}`;
  if (process.env.CI === "true") {
    throw new Error(`${message}; CI must run every suite (run .ci/run as root)`);
  }
  console.warn(`\n!!! SKIPPED ${message}. These tests run in CI as root. !!!\n`);
  return false;
}
