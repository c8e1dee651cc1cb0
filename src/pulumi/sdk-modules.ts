/**
 * Modules as @pulumi/pulumi itself loads them (the same gRPC classes, the same protobuf messages):
 * the plugin's own Diff handler and its engine log speak to the engine with the SDK's copies (in the
 * single-file plugin, the copies its bundle carries).
 */
import { dirname } from "node:path";

// biome-ignore lint/suspicious/noExplicitAny: the SDK's generated protobuf and gRPC modules have no type declarations
export type SdkModule = any;

export function sdkRequire(id: string): SdkModule {
  // the single-file plugin (scripts/plugin-bundle-entry.js) hands over the modules it bundled
  const bundled = (globalThis as { __hnftSdkModules?: Record<string, unknown> }).__hnftSdkModules?.[id];
  if (bundled) return bundled;
  const sdkRoot = dirname(require.resolve("@pulumi/pulumi/package.json"));
  return require(require.resolve(id, { paths: [sdkRoot] }));
}
