import * as pulumi from "@pulumi/pulumi";
import { HOST_TABLE_TOKEN, PLUGIN_DOWNLOAD_URL } from "./schema";
import { type HostOptionArgs, TABLE_OUTPUT_KEYS, type TableOutputs } from "./types";
import { PACKAGE_VERSION } from "./version";

/** Type token of the resource served by the hardened-nftables provider plugin. */
export const HOST_TABLE_TYPE = HOST_TABLE_TOKEN;

/**
 * The type the dynamic provider of releases up to 0.1.x registered. A stack created by them moves
 * to the plugin through this alias: the engine finds the old state under it, the plugin's diff
 * compares it with the new inputs, and an unchanged table stays as it is on the host.
 */
export const DYNAMIC_HOST_TABLE_TYPE = "pulumi-nodejs:dynamic/hardened-nftables:HostTable";

/** The table, the connection (stored as a secret), the policy without `table`, and the other host options (types.ts). */
export type HostTableArgs = {
  table: pulumi.Input<string>;
  connection: pulumi.Input<unknown>;
  policy: pulumi.Input<unknown>;
} & { [K in Exclude<keyof HostOptionArgs, "table">]?: pulumi.Input<NonNullable<HostOptionArgs[K]>> };

/** `T`'s fields as the resource's outputs. */
export type OutputsOf<T> = { readonly [K in keyof T]: pulumi.Output<T[K]> };

/** HostTable's outputs (types.ts TableOutputsSchema), and its arguments as stored. */
export interface HostTable extends OutputsOf<TableOutputs> {
  readonly table: pulumi.Output<string>;
  /** The connection as stored: always a secret output. */
  readonly connection: pulumi.Output<unknown>;
  readonly policy: pulumi.Output<unknown>;
}

/**
 * One nftables table on one host, managed by the hardened-nftables provider plugin (plugin.ts,
 * provider-impl.ts). Used by {@link HostFirewall}; usable on its own. Its output properties are
 * declared by the interface of the same name, so the SDK sets them (a class field would hide them).
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the outputs are declared once (types.ts) and typed on the class by an interface of its name; class fields would hide the values the SDK sets
export class HostTable extends pulumi.CustomResource {
  constructor(name: string, args: HostTableArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(
      HOST_TABLE_TYPE,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        // outputs, declared so the SDK resolves them
        ...Object.fromEntries(TABLE_OUTPUT_KEYS.map((key) => [key, undefined])),
      },
      {
        version: PACKAGE_VERSION,
        pluginDownloadURL: PLUGIN_DOWNLOAD_URL,
        ...opts,
        aliases: [...(opts.aliases ?? []), { type: DYNAMIC_HOST_TABLE_TYPE }],
        additionalSecretOutputs: [...new Set([...(opts.additionalSecretOutputs ?? []), "connection"])],
      },
    );
  }
}
