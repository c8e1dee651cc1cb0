/**
 * A language plugin for CLI commands that load the project's language host but run no program:
 * `pulumi import --generate-code=false` asks it only which plugins the program needs (none).
 * The Go module proxy does not serve pulumi-language-nodejs (README, "The engine"), so the
 * import test names this directory in its project's `plugins.languages`. It is the Automation
 * API's own language server (the one inline programs use), with a program that refuses to run:
 * everything the import does (the plan, the plugin's Read, the state) is the real engine's.
 */
const path = require("node:path");

const sdk = path.resolve(__dirname, "../../../node_modules/@pulumi/pulumi");
const grpc = require(require.resolve("@grpc/grpc-js", { paths: [sdk] }));
const langrpc = require(path.join(sdk, "proto/language_grpc_pb"));
const { LanguageServer } = require(path.join(sdk, "automation/server"));

const server = new grpc.Server();
server.addService(
  langrpc.LanguageRuntimeService,
  new LanguageServer(async () => {
    throw new Error("language stand-in: no program runs here (use tools/engine/run.ts)");
  }),
);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${port}\n`);
});
