/**
 * Writes docs/reference.md: every policy field, catalog service, host option and connection field,
 * generated from the zod schemas' metadata and the catalog (src/cli/reference.ts), kept in the
 * repository for readers (test/unit/reference.test.ts checks it matches). `npm run docs`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { referenceMarkdown } from "../src/cli/reference";

const file = path.resolve(__dirname, "..", "docs", "reference.md");
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, referenceMarkdown());
process.stdout.write(`${file}\n`);
