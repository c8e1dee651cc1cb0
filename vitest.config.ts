import * as path from "node:path";
import { defineConfig } from "vitest/config";

/**
 * Three tiers (test/README.md): `unit` needs no root, no network namespace and no build (the inner
 * loop: `npm run test:unit`); `lab` runs the real nft, sshd and packets between network namespaces;
 * `engine` runs programs under the real Pulumi engine. `vitest run` (npm test, CI) runs all three.
 */
const tier = (name: string, include: string[]) => ({ extends: true as const, test: { name, include } });

export default defineConfig({
  resolve: {
    // The examples import the package by name: in tests that is this repository's source.
    alias: [{ find: /^pulumi-hardened-nftables$/, replacement: path.resolve(__dirname, "src/index.ts") }],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      tier("unit", ["test/unit/**/*.test.ts", "test/golden/**/*.test.ts"]),
      tier("lab", ["test/integration/**/*.test.ts", "test/services/**/*.test.ts"]),
      tier("engine", ["test/engine/**/*.test.ts"]),
    ],
  },
});
