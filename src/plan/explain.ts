import { helperTypes } from "../catalog";
import { portlessProtocol } from "../model/policy";
import type { Explanation, ExposureContext } from "./types";

function why(ctx: ExposureContext): string {
  const { exposed, scoped } = ctx;
  const whole = portlessProtocol(ctx.exposure);
  if (whole) return `a custom exposure of IP protocol ${whole}, accepted whole (it has no ports)`;
  if (!exposed) return "a custom port exposure";
  const range = exposed.dataRange;
  if (scoped) {
    const towards = scoped.helpers.every((h) => h.attach === "outbound") ? "connections this host makes to " : "";
    return `helper "scoped": the kernel ${helperTypes(scoped).join("/")} helper is attached only to ${towards}this service's control port(s), and related traffic is accepted only for that helper towards this host${range ? " on the declared range" : ""}`;
  }
  if (exposed.service.helper) {
    return `helper "none": no conntrack helper; ${range ? "the fixed range the server is set to use opens instead" : "only the control port opens"}`;
  }
  return "no conntrack helper involved";
}

function notes(ctx: ExposureContext): string[] {
  const { exposed, scoped } = ctx;
  if (!exposed) return [];
  const { service } = exposed;
  const out = [...(service.notes ?? [])];
  if (service.originated) {
    const n = service.originated.notes;
    if (exposed.originatedOn) out.push(ctx.outputRestricted ? n.enabledOutputRestricted : n.enabledOutputAccepted);
    else out.push(ctx.outputRestricted ? n.disabledOutputRestricted : n.disabledOutputAccepted);
  }
  if (scoped?.ipv4Only && ctx.families.includes("ipv6")) {
    out.push(
      `The ${helperTypes(scoped).join("/")} helper exists only for IPv4: IPv6 clients get the ports without it.`,
    );
  }
  if (service.data && !exposed.dataRange)
    out.push(`No ${service.data.field} given: nothing opens for ${service.data.label}.`);
  if (scoped?.scopedWarning) out.push(scoped.scopedWarning);
  return out;
}

function serverSettings(ctx: ExposureContext): string[] {
  const { exposed } = ctx;
  if (!exposed) return [];
  return [
    ...exposed.service.serverSettings(exposed.dataRange),
    ...(exposed.originatedOn ? exposed.service.originated!.serverSettings : []),
  ];
}

/** What an exposure opens and why, in words: `opens` come with the openings they describe. */
export function explanationOf(ctx: ExposureContext, service: string, opens: readonly string[]): Explanation {
  return {
    exposure: ctx.id,
    service,
    helper: ctx.scoped ? "scoped" : "none",
    opens,
    why: why(ctx),
    serverSettings: serverSettings(ctx),
    notes: notes(ctx),
  };
}
