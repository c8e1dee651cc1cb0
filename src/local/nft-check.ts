import { spawn } from "node:child_process";
import { locateNftError, type NftCheckResult } from "./nft-error";

export interface ScratchOptions {
  /** Also list the loaded table (JSON) after loading it. */
  readonly list?: string;
  readonly timeoutMs?: number;
}

/**
 * Loads a candidate nft file into a throwaway network namespace (`unshare -n`), so it is
 * checked by the running kernel without touching the machine's own ruleset. Needs root.
 */
export function checkInScratchNamespace(
  nftText: string,
  options: ScratchOptions = {},
): Promise<NftCheckResult & { listing?: string }> {
  const script = options.list ? `nft -f /dev/stdin && nft -j list table inet "$1"` : "nft -f /dev/stdin";
  const args = ["-n", "sh", "-c", script, "nft-check", ...(options.list ? [options.list] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn("unshare", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run unshare/nft for the check: ${err.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ ok: true, error: "", listing: options.list ? stdout : undefined });
      else resolve({ ...locateNftError(stderr, nftText), ok: false });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(nftText);
  });
}
