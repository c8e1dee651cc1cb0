import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { goldenCases } from "./policies";
import { GOLDEN_DIR, renderGolden } from "./render-golden";

const REGENERATE = "the render changed: run `npm run golden` and review the diff of test/golden/";

describe("golden renders: table, sysctl.d, modprobe.d and explanation", () => {
  for (const c of goldenCases) {
    it(c.name, () => {
      for (const [file, content] of Object.entries(renderGolden(c))) {
        const path = join(GOLDEN_DIR, c.name, file);
        expect(existsSync(path), `${path} is missing: ${REGENERATE}`).toBe(true);
        expect(content, `${c.name}/${file}: ${REGENERATE}`).toBe(readFileSync(path, "utf8"));
      }
    });
  }
});
