/**
 * The package's version: the provider plugin reports it (GetPluginInfo, the schema), and the
 * TypeScript HostTable asks the engine for exactly this plugin version.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** The package root: this file lives in src/pulumi (tests, tsx) or dist/pulumi (installed). */
export const PACKAGE_ROOT = path.resolve(__dirname, "..", "..");

export const PACKAGE_VERSION: string = (
  JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }
).version;
