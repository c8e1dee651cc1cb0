import * as pulumi from "@pulumi/pulumi";
import { hostTableProvider } from "./provider";
import type { LineMap } from "./line-map";
import type { HostPaths, ProbedProfile } from "./types";

/** Type token: pulumi-nodejs:dynamic/hardened-nftables:HostTable (module and type are part of the URN). */
export const HOST_TABLE_MODULE = "hardened-nftables";
export const HOST_TABLE_TYPE = "HostTable";

export interface HostTableArgs {
  version: pulumi.Input<string>;
  table: pulumi.Input<string>;
  target: pulumi.Input<string>;
  connection: pulumi.Input<unknown>;
  policy: pulumi.Input<unknown>;
  /** line-map.ts: one key per line, so previews diff rule by rule */
  rules: pulumi.Input<LineMap>;
  sysctl: pulumi.Input<LineMap>;
  modprobe: pulumi.Input<LineMap>;
  hostPaths?: pulumi.Input<HostPaths>;
  confirmTimeoutSeconds?: pulumi.Input<number>;
  allowOtherTables?: pulumi.Input<boolean | pulumi.Input<string>[]>;
}

/**
 * One nftables table on one host, managed by the dynamic provider (see provider-impl.ts).
 * Used by {@link HostFirewall}; usable on its own with inputs the component would compute.
 */
export class HostTable extends pulumi.dynamic.Resource {
  declare public readonly version: pulumi.Output<string>;
  declare public readonly table: pulumi.Output<string>;
  declare public readonly target: pulumi.Output<string>;
  /** The connection as stored: always a secret output (additionalSecretOutputs). */
  declare public readonly connection: pulumi.Output<unknown>;
  declare public readonly rules: pulumi.Output<LineMap>;
  declare public readonly sysctl: pulumi.Output<LineMap>;
  declare public readonly modprobe: pulumi.Output<LineMap>;
  declare public readonly drift: pulumi.Output<string[]>;
  declare public readonly hostProfile: pulumi.Output<ProbedProfile>;
  declare public readonly appliedHash: pulumi.Output<string>;
  declare public readonly inSync: pulumi.Output<boolean>;
  declare public readonly driftSummary: pulumi.Output<string>;
  declare public readonly warnings: pulumi.Output<string[]>;

  constructor(name: string, args: HostTableArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(
      hostTableProvider,
      name,
      {
        ...args,
        drift: [],
        // Outputs: declared on the class and passed as undefined (pulumi/pulumi#13983).
        hostProfile: undefined,
        appliedHash: undefined,
        inSync: undefined,
        driftSummary: undefined,
        warnings: undefined,
      },
      {
        ...opts,
        additionalSecretOutputs: [...new Set([...(opts.additionalSecretOutputs ?? []), "connection"])],
      },
      HOST_TABLE_MODULE,
      HOST_TABLE_TYPE,
    );
  }
}
