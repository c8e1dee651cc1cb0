/**
 * Writes provider/schema.json: the schema the provider plugin serves, kept in the repository for
 * SDK generation and review (test/unit/provider-schema.test.ts checks it matches). `npm run schema`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { packageSchema } from "../src/pulumi/schema";
import { PACKAGE_VERSION } from "../src/pulumi/version";

const file = path.resolve(__dirname, "..", "provider", "schema.json");
fs.writeFileSync(file, `${JSON.stringify(packageSchema(PACKAGE_VERSION), null, 2)}\n`);
process.stdout.write(`${file}\n`);
