/**
 * Field schemas every exposure-like entry shares (catalog services, custom exposures,
 * output.allow). They live below both the catalog and the policy model so that the policy
 * model may assemble the catalog's schemas without the catalog importing the model back.
 */
import { z } from "zod";
import { PortList } from "./ports";
import { PrefixSchema } from "./prefix";

const EXPOSURE_NAME = /^[a-z][a-z0-9-]{0,23}$/;
const COMMENT_TEXT = /^[A-Za-z0-9 .,:;_()/+=@#%&*!?<>'~[\]{}|^-]*$/;

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
