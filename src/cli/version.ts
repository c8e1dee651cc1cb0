/** The package's version for `hardened-nftables --version`: package.json beside src/ or dist/ (installed). */
import * as fs from "node:fs";
import * as path from "node:path";

export const CLI_VERSION: string = (
  JSON.parse(fs.readFileSync(path.resolve(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }
).version;
