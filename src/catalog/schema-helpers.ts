import { z } from "zod";
import { PortList, PortSpec } from "../model/ports";
import { PrefixSchema } from "../model/prefix";

export const EXPOSURE_NAME = /^[a-z][a-z0-9-]{0,23}$/;
export const COMMENT_TEXT = /^[A-Za-z0-9 .,:;_()/+=@#%&*!?<>'~[\]{}|^-]*$/;

export const ExposureName = z
  .string()
  .regex(EXPOSURE_NAME, { error: "must start with a lowercase letter and use only a-z, 0-9 and -, at most 24 characters" });

export const Comment = z
  .string()
  .max(64, { error: "is longer than 64 characters" })
  .regex(COMMENT_TEXT, { error: "may only hold printable ASCII without quotes, backslashes or $ (it goes into an nft comment)" });

export const Sources = z.array(PrefixSchema).min(1, { error: "is empty; leave it out to allow any source" });

/** Fields every exposure has. */
export const commonFields = {
  name: ExposureName.optional(),
  ports: PortList.optional(),
  sources: Sources.optional(),
  comment: Comment.optional(),
};

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
