/**
 * The provider plugin `hardened-nftables` (bin/pulumi-resource-hardened-nftables starts
 * plugin-main.js): a `@pulumi/pulumi/provider` Provider serving
 * - the custom resource `hardened-nftables:index:HostTable` (check, diff, create, read, update,
 *   delete: provider-impl.ts, on plain values; the connection goes back to the engine as a secret),
 * - the component `hardened-nftables:index:HostFirewall` (construct: the same HostFirewall class
 *   TypeScript programs use, run inside the plugin for every other language),
 * - the schema of both (schema.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import { HostFirewall, type HostFirewallArgs } from "./component";
import { engineWarn } from "./engine-log";
import * as impl from "./provider-impl";
import { HOST_FIREWALL_TOKEN, HOST_TABLE_TOKEN, packageSchema } from "./schema";
import { revealed, withSecrets } from "./secrets";
import { FIREWALL_OUTPUT_KEYS } from "./types";
import { PACKAGE_VERSION } from "./version";

type Props = Record<string, unknown>;

/** What is stored secret whatever the caller marked: the connection carries credentials. */
const SECRET_KEYS = ["connection"] as const;

/** The type token of a URN (`urn:pulumi:stack::project::parent$type::name`). */
export function typeOfUrn(urn: string): string {
  const qualified = urn.split("::")[2] ?? "";
  return qualified.slice(qualified.lastIndexOf("$") + 1);
}

function hostTableOnly(urn: string): void {
  const type = typeOfUrn(urn);
  if (type !== HOST_TABLE_TOKEN) throw new Error(`hardened-nftables: unknown resource type ${type}`);
}

async function warnAll(urn: string, notices: readonly string[] | undefined): Promise<void> {
  for (const n of notices ?? []) await engineWarn(urn, n);
}

export function hardenedNftablesProvider(): provider.Provider {
  const schema = JSON.stringify(packageSchema(PACKAGE_VERSION));
  return {
    version: PACKAGE_VERSION,
    schema,
    async check(urn, olds, news) {
      hostTableOnly(urn);
      const result = await impl.check(revealed<Props | undefined>(olds), revealed<Props>(news));
      // a valid policy that could cut running guests off: the host is probed now (provider-impl.ts guestsCheck)
      if ((result.failures ?? []).length === 0) {
        const guests = await impl.guestsCheck(revealed<Props>(news));
        if (guests.skipped) await engineWarn(urn, guests.skipped);
        if (guests.failures.length > 0)
          return { ...result, failures: guests.failures, inputs: withSecrets(result.inputs as Props, SECRET_KEYS) };
      }
      return { ...result, inputs: withSecrets(result.inputs as Props, SECRET_KEYS) };
    },
    async diff(id, urn, olds, news, oldInputs?: unknown) {
      hostTableOnly(urn);
      return impl.diff(id, revealed<Props>(olds), revealed<Props>(news), revealed<Props | undefined>(oldInputs));
    },
    async create(urn, inputs) {
      hostTableOnly(urn);
      const result = await impl.create(revealed<Props>(inputs));
      await warnAll(urn, result.notices);
      return { id: result.id, outs: withSecrets(result.outs as Props, SECRET_KEYS) };
    },
    async read(id, urn, props) {
      hostTableOnly(urn);
      const { notices, ...result } = await impl.read(id, revealed<Props | undefined>(props) ?? {});
      await warnAll(urn, notices);
      return {
        ...result,
        ...(result.props ? { props: withSecrets(result.props as Props, SECRET_KEYS) } : {}),
        ...(result.inputs ? { inputs: withSecrets(result.inputs as Props, SECRET_KEYS) } : {}),
      };
    },
    async update(id, urn, olds, news) {
      hostTableOnly(urn);
      const result = await impl.update(id, revealed<Props>(olds), revealed<Props>(news));
      await warnAll(urn, result.notices);
      return { outs: withSecrets(result.outs as Props, SECRET_KEYS) };
    },
    async delete(id, urn, props) {
      hostTableOnly(urn);
      await impl.delete(id, revealed<Props>(props));
    },
    async construct(name, type, inputs, options) {
      if (type !== HOST_FIREWALL_TOKEN) throw new Error(`hardened-nftables: unknown component type ${type}`);
      const firewall = new HostFirewall(
        name,
        inputs as unknown as HostFirewallArgs,
        options as pulumi.ComponentResourceOptions,
      );
      const state: Record<string, pulumi.Input<unknown>> = {};
      for (const key of FIREWALL_OUTPUT_KEYS) state[key] = firewall[key];
      return { urn: firewall.urn, state };
    },
  };
}
