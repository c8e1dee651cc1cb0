/**
 * The `version` input of every host table: the package version plus a hash of the compiled
 * package (every dist/**\/*.js and the host scripts). The serialized provider only `require`s the
 * installed package, so when that code changes nothing else in the state would; this input makes
 * the next `pulumi up` update (re-apply) each host with the new code.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** The package root: this file lives in src/pulumi (tests, tsx) or dist/pulumi (installed). */
export const PACKAGE_ROOT = path.resolve(__dirname, "..", "..");

function listFiles(dir: string, keep: (file: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, keep));
    else if (keep(full)) out.push(full);
  }
  return out;
}

/** sha256 over the compiled code (relative names and contents), in a stable order. */
export function hashCompiledPackage(distDir: string): string {
  const files = listFiles(distDir, (f) => f.endsWith(".js") || f.endsWith(".sh")).sort();
  if (!files.some((f) => f.endsWith(path.join("pulumi", "provider-impl.js")))) {
    throw new Error(`pulumi-hardened-nftables: ${path.join(distDir, "pulumi", "provider-impl.js")} not found; build the package (npm run build)`);
  }
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(path.relative(distDir, file).split(path.sep).join("/")).update("\0").update(fs.readFileSync(file)).update("\0");
  }
  return hash.digest("hex");
}

let cached: string | undefined;

/** `<package version>+<first 12 hex digits of the compiled code's hash>`, computed once per process. */
export function providerVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
    cached = `${pkg.version}+${hashCompiledPackage(path.join(PACKAGE_ROOT, "dist")).slice(0, 12)}`;
  }
  return cached;
}
