/** `npm run golden`: rewrites test/golden/<case>/ from the current renderer. Review the diff. */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { goldenCases } from "./policies";
import { GOLDEN_DIR, renderGolden } from "./render-golden";

const wanted = new Set(goldenCases.map((c) => c.name));
for (const entry of readdirSync(GOLDEN_DIR, { withFileTypes: true })) {
  if (entry.isDirectory() && !wanted.has(entry.name)) rmSync(join(GOLDEN_DIR, entry.name), { recursive: true });
}
for (const c of goldenCases) {
  const dir = join(GOLDEN_DIR, c.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const [file, content] of Object.entries(renderGolden(c))) writeFileSync(join(dir, file), content);
}
console.log(`wrote ${goldenCases.length} golden cases to ${GOLDEN_DIR}`);
