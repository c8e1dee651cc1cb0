/**
 * Field schemas every exposure-like entry shares (catalog services, custom exposures,
 * output.allow). They live below both the catalog and the policy model so that the policy
 * model may assemble the catalog's schemas without the catalog importing the model back.
 */
import { z } from "zod";
import { Destinations } from "./destinations";
import { InterfaceList } from "./interfaces";
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
  interfaces: InterfaceList.optional().meta({
    description:
      'Accept only what arrives on these interfaces (names as nft matches them, at most 15 bytes; a trailing * matches every name starting so, e.g. "br-*"). Left out: any interface.',
    examples: [["eth1"], ["wg0", "br-*"]],
  }),
  destinations: Destinations.optional().meta({
    description: "Accept only what is addressed to these of the host's own addresses or prefixes (IPv4 or IPv6, unicast). Left out: any of its addresses.",
    examples: [["198.18.0.10"], ["198.18.0.10", "2001:2::10"]],
  }),
};
