/**
 * The provider plugin `hardened-nftables` (bin/pulumi-resource-hardened-nftables starts
 * plugin-main.js): a `@pulumi/pulumi/provider` Provider serving
 * - the custom resource `hardened-nftables:index:HostTable` (check, diff, create, read, update,
 *   delete: provider-impl.ts, on plain values; the connection goes back to the engine as a secret),
 * - the component `hardened-nftables:index:HostFirewall` (construct: the same HostFirewall class
 *   TypeScript programs use, run inside the plugin for every other language),
 * - the schema of both (schema.ts).
 *
 * Start-up is what every `pulumi` command waits for, so the plugin serves before it loads what
 * its methods need: HostTable's methods (provider-impl.ts, the model, the renderer, SSH) load on
 * the first call, or as soon as the plugin serves (warmUp, while the engine does its own work);
 * the component (and with it the whole @pulumi/pulumi runtime, TypeScript included) is loaded by
 * the first construct only, and the schema is built on the first GetSchema only.
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as provider from "@pulumi/pulumi/provider";
import { flushCompiled } from "./compile-cache";
import type { HostFirewallArgs } from "./component";
import { engineWarn } from "./engine-log";
import { traced } from "./plugin-trace";
import { revealed, withSecrets } from "./secrets";
import { HOST_FIREWALL_TOKEN, HOST_TABLE_TOKEN } from "./tokens";
import { PACKAGE_VERSION } from "./version";

type Impl = typeof import("./provider-impl");
let implLoaded: Promise<Impl> | undefined;

/** HostTable's methods, loaded once (the first call, or warmUp). */
export function loadImpl(): Promise<Impl> {
  implLoaded ??= import("./provider-impl");
  return implLoaded;
}

/** Loads HostTable's methods now (the plugin calls it once it serves), then caches their compiled code. */
export async function warmUp(): Promise<void> {
  await loadImpl();
  flushCompiled();
}

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
  let schema: string | undefined;
  return {
    version: PACKAGE_VERSION,
    async getSchema() {
      schema ??= JSON.stringify((await import("./schema")).packageSchema(PACKAGE_VERSION));
      return schema;
    },
    async check(urn, olds, news) {
      return traced("check", urn, async () => {
        hostTableOnly(urn);
        const impl = await loadImpl();
        const result = await impl.check(revealed<Props | undefined>(olds), revealed<Props>(news));
        // a valid policy that could cut running guests off: the host is probed now (provider-impl.ts guestsCheck)
        if ((result.failures ?? []).length === 0) {
          const guests = await impl.guestsCheck(revealed<Props>(news), revealed<Props | undefined>(olds));
          if (guests.skipped) await engineWarn(urn, guests.skipped);
          if (guests.failures.length > 0)
            return { ...result, failures: guests.failures, inputs: withSecrets(result.inputs as Props, SECRET_KEYS) };
        }
        return { ...result, inputs: withSecrets(result.inputs as Props, SECRET_KEYS) };
      });
    },
    async diff(id, urn, olds, news, oldInputs?: unknown) {
      return traced("diff", urn, async () => {
        hostTableOnly(urn);
        return (await loadImpl()).diff(
          id,
          revealed<Props>(olds),
          revealed<Props>(news),
          revealed<Props | undefined>(oldInputs),
        );
      });
    },
    async create(urn, inputs) {
      return traced("create", urn, async () => {
        hostTableOnly(urn);
        const result = await (await loadImpl()).create(revealed<Props>(inputs));
        await warnAll(urn, result.notices);
        return { id: result.id, outs: withSecrets(result.outs as Props, SECRET_KEYS) };
      });
    },
    async read(id, urn, props) {
      return traced("read", urn, async () => {
        hostTableOnly(urn);
        const { notices, ...result } = await (await loadImpl()).read(id, revealed<Props | undefined>(props) ?? {});
        await warnAll(urn, notices);
        return {
          ...result,
          ...(result.props ? { props: withSecrets(result.props as Props, SECRET_KEYS) } : {}),
          ...(result.inputs ? { inputs: withSecrets(result.inputs as Props, SECRET_KEYS) } : {}),
        };
      });
    },
    async update(id, urn, olds, news) {
      return traced("update", urn, async () => {
        hostTableOnly(urn);
        const result = await (await loadImpl()).update(id, revealed<Props>(olds), revealed<Props>(news));
        await warnAll(urn, result.notices);
        return { outs: withSecrets(result.outs as Props, SECRET_KEYS) };
      });
    },
    async delete(id, urn, props) {
      return traced("delete", urn, async () => {
        hostTableOnly(urn);
        await (await loadImpl()).delete(id, revealed<Props>(props));
      });
    },
    async construct(name, type, inputs, options) {
      if (type !== HOST_FIREWALL_TOKEN) throw new Error(`hardened-nftables: unknown component type ${type}`);
      const { HostFirewall } = await import("./component");
      const { FIREWALL_OUTPUT_KEYS } = await import("./types");
      flushCompiled();
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
