/** Entry point of the provider plugin: the engine runs bin/pulumi-resource-hardened-nftables, which runs this. */
// first, before any other module is loaded: compiled code comes from Node's cache (compile-cache.ts)
import "./compile-cache";
import * as provider from "@pulumi/pulumi/provider";
import { serveDetailedDiffs } from "./detailed-diff-server";
import { useEngineFromArgs } from "./engine-log";
import { engineGoneMessage, watchEngine } from "./engine-watch";
import { hardenedNftablesProvider, warmUp } from "./plugin";
import { traceServing } from "./plugin-trace";

// Exits at once: closing the SSH sessions mid-step is what hands an armed change to the guardian.
watchEngine((gone) => {
  try {
    process.stderr.write(engineGoneMessage(gone));
  } finally {
    process.exit(1);
  }
});
useEngineFromArgs(process.argv.slice(2));
const hostTables = hardenedNftablesProvider();
serveDetailedDiffs(hostTables.diff!);
void provider.main(hostTables, process.argv.slice(2)).then(() => {
  traceServing();
  // what HostTable's methods need loads while the engine does its own work (plugin.ts)
  setImmediate(() => void warmUp().catch(() => undefined));
});
