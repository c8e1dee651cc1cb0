import * as path from "node:path";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // The examples import the package by name: in tests that is this repository's source.
    alias: [{ find: /^pulumi-hardened-nftables$/, replacement: path.resolve(__dirname, "src/index.ts") }],
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default"],
  },
});
