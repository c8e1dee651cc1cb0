import * as pulumi from "@pulumi/pulumi";
import type { LineMap } from "./line-map";
import { HOST_TABLE_TOKEN } from "./schema";
import type { HostPaths, ProbedProfile } from "./types";
import { PACKAGE_VERSION } from "./version";

/** Type token of the resource served by the hardened-nftables provider plugin. */
export const HOST_TABLE_TYPE = HOST_TABLE_TOKEN;

/**
 * The type the dynamic provider of releases up to 0.1.x registered. A stack created by them moves
 * to the plugin through this alias: the engine finds the old state under it, the plugin's diff
 * compares it with the new inputs, and an unchanged table stays as it is on the host.
 */
export const DYNAMIC_HOST_TABLE_TYPE = "pulumi-nodejs:dynamic/hardened-nftables:HostTable";

export interface HostTableArgs {
  table: pulumi.Input<string>;
  /** The connection; stored as a secret. */
  connection: pulumi.Input<unknown>;
  /** The policy without `table`. */
  policy: pulumi.Input<unknown>;
  hostPaths?: pulumi.Input<HostPaths>;
  confirmTimeoutSeconds?: pulumi.Input<number>;
  allowOtherTables?: pulumi.Input<boolean | pulumi.Input<string>[]>;
}

/**
 * One nftables table on one host, managed by the hardened-nftables provider plugin (plugin.ts,
 * provider-impl.ts). Used by {@link HostFirewall}; usable on its own.
 */
export class HostTable extends pulumi.CustomResource {
  declare public readonly table: pulumi.Output<string>;
  declare public readonly target: pulumi.Output<string>;
  /** The connection as stored: always a secret output. */
  declare public readonly connection: pulumi.Output<unknown>;
  declare public readonly policy: pulumi.Output<unknown>;
  declare public readonly rules: pulumi.Output<LineMap>;
  declare public readonly sysctl: pulumi.Output<LineMap>;
  declare public readonly modprobe: pulumi.Output<LineMap>;
  declare public readonly drift: pulumi.Output<string[]>;
  declare public readonly hostProfile: pulumi.Output<ProbedProfile>;
  declare public readonly appliedHash: pulumi.Output<string>;
  declare public readonly inSync: pulumi.Output<boolean>;
  declare public readonly driftSummary: pulumi.Output<string>;
  declare public readonly warnings: pulumi.Output<string[]>;
  declare public readonly keptLoadable: pulumi.Output<string[]>;

  constructor(name: string, args: HostTableArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(
      HOST_TABLE_TYPE,
      name,
      {
        ...args,
        connection: pulumi.secret(args.connection),
        // outputs, declared so the SDK resolves them
        target: undefined,
        rules: undefined,
        sysctl: undefined,
        modprobe: undefined,
        drift: undefined,
        hostProfile: undefined,
        appliedHash: undefined,
        inSync: undefined,
        driftSummary: undefined,
        warnings: undefined,
        keptLoadable: undefined,
      },
      {
        version: PACKAGE_VERSION,
        ...opts,
        aliases: [...(opts.aliases ?? []), { type: DYNAMIC_HOST_TABLE_TYPE }],
        additionalSecretOutputs: [...new Set([...(opts.additionalSecretOutputs ?? []), "connection"])],
      },
    );
  }
}
