/**
 * Warnings the plugin shows through the engine (its Log RPC), under the resource they concern:
 * `pulumi up` and `pulumi preview --refresh` print them with the resource's diagnostics. The SDK's
 * own `log.warn` reaches the engine only inside construct and call (it configures its runtime
 * there), so create, update and read use the engine's address from the plugin's arguments.
 * Messages never carry secrets: the callers redact them with the resource's connection.
 */
import { type SdkModule, sdkRequire } from "./sdk-modules";

let engineAddress: string | undefined;
let client: SdkModule;

/** The plugin's arguments, as the engine starts it: the first one that is not a flag is its address. */
export function useEngineFromArgs(args: readonly string[]): void {
  const skipNext = new Set(["--tracing"]);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (skipNext.has(a)) i++;
    else if (!a.startsWith("-")) {
      engineAddress = a;
      return;
    }
  }
}

/** Logs a warning on the resource `urn`; a failure to log is no failure of the step (stderr instead). */
export function engineWarn(urn: string, message: string): Promise<void> {
  if (!engineAddress) {
    process.stderr.write(`warning: ${message}\n`);
    return Promise.resolve();
  }
  const grpc = sdkRequire("@grpc/grpc-js");
  const engrpc = sdkRequire("@pulumi/pulumi/proto/engine_grpc_pb");
  const engproto = sdkRequire("@pulumi/pulumi/proto/engine_pb");
  client ??= new engrpc.EngineClient(engineAddress, grpc.credentials.createInsecure());
  const req = new engproto.LogRequest();
  req.setSeverity(engproto.LogSeverity.WARNING);
  req.setMessage(message);
  req.setUrn(urn);
  return new Promise((resolve) => {
    client.log(req, (err: Error | null) => {
      if (err) process.stderr.write(`warning: ${message}\n`);
      resolve();
    });
  });
}
