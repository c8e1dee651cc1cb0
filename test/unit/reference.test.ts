/**
 * docs/reference.md is generated (`npm run docs`) from the zod schemas' metadata and the catalog,
 * and `hardened-nftables reference` prints the same text: this fails when the file is stale.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { serviceNames } from "../../src/catalog";
import { main } from "../../src/cli/main";
import { referenceMarkdown } from "../../src/cli/reference";
import { HostOptionsFields } from "../../src/model/host-options";
import { PolicyFields } from "../../src/model/policy";

const FILE = path.resolve(__dirname, "../../docs/reference.md");

describe("docs/reference.md", () => {
  it("is what `npm run docs` generates now", () => {
    // stale: run `npm run docs` and commit docs/reference.md
    expect(fs.readFileSync(FILE, "utf8")).toBe(referenceMarkdown());
  });

  it("documents every policy field, every catalog service and every host option", () => {
    const text = referenceMarkdown();
    for (const key of Object.keys(PolicyFields)) expect(text).toContain(`| \`${key}\` |`);
    for (const key of ["forward.policy", "output.allow[].destinations", "log.prefix", "conntrack.max"])
      expect(text).toContain(`| \`${key}\` |`);
    for (const name of serviceNames) expect(text).toContain(`### ${name}\n`);
    for (const key of Object.keys(HostOptionsFields)) expect(text).toContain(`| \`${key}\` |`);
    expect(text).toContain("pasv_min_port=50000");
    expect(text).toContain("`--confirm-timeout`");
  });

  it("`hardened-nftables reference` prints it", async () => {
    let out = "";
    expect(await main(["reference"], { out: (t) => void (out += t), err: () => undefined })).toBe(0);
    expect(out).toBe(fs.readFileSync(FILE, "utf8"));
  });
});
