/**
 * Interface names as nft's iifname/oifname match them: the kernel's names (at most 15 bytes,
 * IFNAMSIZ less its NUL), with one trailing `*` for "every name starting with". They go into
 * the table inside double quotes, so anything that could close the quote or read as another
 * token is refused here, before any connection.
 */
import { z } from "zod";

const IFNAMSIZ = 15;

/** Why `name` cannot be an interface name, or undefined when it can. */
export function interfaceNameProblem(name: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (/["'`]/.test(name)) return `"${name.replace(/"/g, '\\"')}" has a quote; interface names cannot hold one`;
  if (/\s/.test(name)) return `${JSON.stringify(name)} has a space; interface names cannot hold one`;
  if (name.includes("/")) return `"${name}" has a slash; interface names cannot hold one`;
  const star = name.indexOf("*");
  if (star >= 0 && star !== name.length - 1)
    return `"${name}" has a * that is not at the end; only a trailing * (e.g. "br-*") is a wildcard`;
  if (name === "*") return `"*" matches every interface; leave interfaces out to match any`;
  const bare = star >= 0 ? name.slice(0, -1) : name;
  if (Buffer.byteLength(bare, "utf8") > IFNAMSIZ)
    return `"${name}" is longer than ${IFNAMSIZ} bytes, the longest interface name Linux allows`;
  // nft holds the pattern, * included, in the same 16 bytes as a name
  if (Buffer.byteLength(name, "utf8") > IFNAMSIZ)
    return `"${name}" is longer than ${IFNAMSIZ} bytes with its *, the longest pattern nft takes`;
  if (bare === "." || bare === "..") return `"${name}" is not an interface name`;
  if (bare.includes(":"))
    return `"${name}" is an address label (ip shows eth0:1 for an address of eth0), not an interface; name the interface`;
  if (bare.includes("@"))
    return `"${name}": ip shows the peer of a link after @ (veth0@if3); the interface is "${bare.slice(0, bare.indexOf("@"))}"`;
  if (!/^[A-Za-z0-9_.+-]+$/.test(bare)) return `"${name}" may only use letters, digits and _.+- (and a trailing *)`;
  return undefined;
}

/** Whether traffic arriving on `name` is also matched by `pattern` (an exact name or a trailing-* wildcard). */
export function interfaceCovers(pattern: string, name: string): boolean {
  if (pattern.endsWith("*")) {
    const stem = pattern.slice(0, -1);
    return name.endsWith("*") ? name.slice(0, -1).startsWith(stem) : name.startsWith(stem);
  }
  return pattern === name;
}

export const InterfaceName = z.string({ error: "expected an interface name string" }).superRefine((name, ctx) => {
  const problem = interfaceNameProblem(name);
  if (problem) ctx.addIssue({ code: "custom", message: problem, input: name });
});

/** A non-empty list of interface names, without duplicates, in the order given. */
export const InterfaceList = z
  .array(InterfaceName)
  .min(1, { error: "is empty; leave it out to match any interface" })
  .transform((names) => [...new Set(names)]);
