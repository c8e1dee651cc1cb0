/** Entry point of the provider plugin: the engine runs bin/pulumi-resource-hardened-nftables, which runs this. */
import * as provider from "@pulumi/pulumi/provider";
import { serveDetailedDiffs } from "./detailed-diff-server";
import { hardenedNftablesProvider } from "./plugin";

const hostTables = hardenedNftablesProvider();
serveDetailedDiffs(hostTables.diff!);
void provider.main(hostTables, process.argv.slice(2));
