/**
 * Field schemas every exposure-like entry shares (catalog services, custom exposures,
 * output.allow). They live below both the catalog and the policy model so that the policy
 * model may assemble the catalog's schemas without the catalog importing the model back.
 */
import { z } from "zod";
import { Destinations } from "./destinations";
import { InterfaceList } from "./interfaces";
import { LimitSchema } from "./limit";
import { PortList } from "./ports";
import { PrefixSchema } from "./prefix";

const EXPOSURE_NAME = /^[a-z][a-z0-9-]{0,23}$/;
const COMMENT_TEXT = /^[A-Za-z0-9 .,:;_()/+=@#%&*!?<>'~[\]{}|^-]*$/;

export const ExposureName = z.string().regex(EXPOSURE_NAME, {
  error: "must start with a lowercase letter and use only a-z, 0-9 and -, at most 24 characters",
});

export const Comment = z.string().max(64, { error: "is longer than 64 characters" }).regex(COMMENT_TEXT, {
  error: "may only hold printable ASCII without quotes, backslashes or $ (it goes into an nft comment)",
});

export const Sources = z.array(PrefixSchema).min(1, { error: "is empty; leave it out to allow any source" });

/**
 * The fields every exposure has (catalog services and custom exposures), each declared once with
 * its description: the catalog makes them optional, a custom exposure requires name and ports.
 */
export const exposureFields = {
  name: ExposureName.meta({
    description:
      "Name of the exposure (a-z, 0-9 and -, at most 24 characters, starting with a letter); rules, sets and helper objects are named after it. Default: the service name.",
    examples: ["web"],
  }),
  ports: PortList.meta({
    description:
      'Ports: a number, a range string "a-b", or a list of them. Required for custom exposures of tcp, udp and sctp (the IP protocols esp, ah, gre, vrrp and igmp take none); for a catalog service it moves the service\'s control port(s).',
    examples: [2222, "8000-8080", [80, "8080-8081"]],
  }),
  sources: Sources.meta({
    description: "Addresses or prefixes (IPv4 or IPv6) allowed to connect. Left out: any source.",
    examples: [["198.51.100.0/24", "2001:db8::/32"]],
  }),
  comment: Comment.meta({
    description:
      "Text added to the exposure's rules as an nft comment (printable ASCII without quotes, backslashes or $, at most 64 characters).",
    examples: ["office VPN"],
  }),
  limit: LimitSchema.meta({
    description:
      "Per-source limits on new connections to the exposure (rate, burst) and on concurrent ones (connections); what goes over is dropped (rejected when the policy rejects), counted and optionally logged.",
    examples: [{ rate: "6/minute", burst: 3, connections: 10 }],
  }),
  interfaces: InterfaceList.meta({
    description:
      'Accept only what arrives on these interfaces (names as nft matches them, at most 15 bytes; a trailing * matches every name starting so, e.g. "br-*"). Left out: any interface.',
    examples: [["eth1"], ["wg0", "br-*"]],
  }),
  destinations: Destinations.meta({
    description:
      "Accept only what is addressed to these of the host's own addresses or prefixes (IPv4 or IPv6, unicast). Left out: any of its addresses.",
    examples: [["198.18.0.10"], ["198.18.0.10", "2001:2::10"]],
  }),
};

/** The fields every exposure has, optional (a catalog service's; a custom exposure requires name and ports). */
export const commonFields = {
  name: exposureFields.name.optional(),
  ports: exposureFields.ports.optional(),
  sources: exposureFields.sources.optional(),
  comment: exposureFields.comment.optional(),
  limit: exposureFields.limit.optional(),
  interfaces: exposureFields.interfaces.optional(),
  destinations: exposureFields.destinations.optional(),
};

/** The `helper` field's description: the same field in every exposure, though each service takes its own values. */
export const HELPER_FIELD = {
  description:
    '"none" (default): fixed port ranges, no conntrack helper. "scoped": a ct helper object attached only to this exposure\'s control connections from its sources (services with a kernel helper only).',
  examples: ["scoped"],
};

/** The `service` field's description (the names it takes come from the catalog). */
export const SERVICE_FIELD = {
  description:
    'What is exposed: a catalog service or "custom" (then name, protocol and ports are required). Left out: custom.',
  examples: ["ssh"],
};
