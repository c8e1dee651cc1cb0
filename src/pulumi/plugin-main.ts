/** Entry point of the provider plugin: the engine runs bin/pulumi-resource-hardened-nftables, which runs this. */
import * as provider from "@pulumi/pulumi/provider";
import { hardenedNftablesProvider } from "./plugin";

void provider.main(hardenedNftablesProvider(), process.argv.slice(2));
