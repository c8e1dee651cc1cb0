import { z } from "zod";
import { commonFields } from "../fields/exposure";
import { PortList, PortSpec } from "../fields/ports";

export const HelperMode = z.enum(["none", "scoped"]).default("none");

export function plainService<S extends string, F extends z.ZodRawShape>(service: S, fields: F) {
  return z.strictObject({
    service: z.literal(service),
    ...commonFields,
    helper: z
      .literal("none", { error: `"scoped" needs a kernel conntrack helper, and ${service} has none` })
      .default("none"),
    ...fields,
  });
}

export function helperService<S extends string, F extends z.ZodRawShape>(service: S, fields: F) {
  return z.strictObject({
    service: z.literal(service),
    ...commonFields,
    helper: HelperMode,
    ...fields,
  });
}

export { PortSpec, PortList };
