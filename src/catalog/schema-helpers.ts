import { z } from "zod";
import { commonFields, HELPER_FIELD, SERVICE_FIELD } from "../fields/exposure";
import { PortList, PortSpec } from "../fields/ports";

export const HelperMode = z.enum(["none", "scoped"]).default("none").meta(HELPER_FIELD);

export function plainService<S extends string, F extends z.ZodRawShape>(service: S, fields: F) {
  return z.strictObject({
    service: z.literal(service).meta(SERVICE_FIELD),
    ...commonFields,
    helper: z
      .literal("none", { error: `"scoped" needs a kernel conntrack helper, and ${service} has none` })
      .default("none")
      .meta(HELPER_FIELD),
    ...fields,
  });
}

export function helperService<S extends string, F extends z.ZodRawShape>(service: S, fields: F) {
  return z.strictObject({
    service: z.literal(service).meta(SERVICE_FIELD),
    ...commonFields,
    helper: HelperMode,
    ...fields,
  });
}

/** The fixed data range of the services that have one by this name (tftp, sane, amanda). */
export const DataPorts = PortSpec.meta({
  description: 'The fixed data range the server is configured with, a range string "a-b" or a port.',
  examples: ["50000-50100"],
});

export { PortList, PortSpec };
