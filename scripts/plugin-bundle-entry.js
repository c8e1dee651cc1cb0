// The single-file provider plugin's entry (scripts/release.ts bundles it with esbuild): the gRPC
// modules that src/pulumi/sdk-modules.ts hands to the Diff handler and the engine log are bundled
// here, the same instances the SDK's bundled code uses, then the plugin starts.
globalThis.__hnftSdkModules = {
  "@grpc/grpc-js": require("@grpc/grpc-js"),
  "@pulumi/pulumi/proto/provider_pb": require("@pulumi/pulumi/proto/provider_pb"),
  "@pulumi/pulumi/proto/provider_grpc_pb": require("@pulumi/pulumi/proto/provider_grpc_pb"),
  "@pulumi/pulumi/proto/engine_pb": require("@pulumi/pulumi/proto/engine_pb"),
  "@pulumi/pulumi/proto/engine_grpc_pb": require("@pulumi/pulumi/proto/engine_grpc_pb"),
};
require("../dist/pulumi/plugin-main.js");
