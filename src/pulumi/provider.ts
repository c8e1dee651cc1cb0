/**
 * The dynamic provider object that Pulumi serializes into the state.
 *
 * It is deliberately thin: every method is a one-line closure that `require`s the package's
 * COMPILED implementation (dist/pulumi/provider-impl.js, resolved from the program's node_modules
 * when the engine runs the provider) and delegates to it. Nothing else is captured: no zod
 * schema, no rendered policy, no connection. So
 * - the serialized text is a few hundred bytes and holds no secret;
 * - refresh and destroy run the INSTALLED code, not a stale copy frozen in the state
 *   (pulumi/pulumi#6490): the `version` input (see version.ts) makes a code change visible;
 * - serialization never walks into libraries (the zod/ssh2 pitfalls of serializeFunction).
 *
 * Only `require` is used inside: it is the one free variable serializeFunction leaves as is.
 */
import type * as pulumi from "@pulumi/pulumi";

/**
 * Loads the compiled implementation. Fallback for a program that runs inside this package's own
 * checkout (the repository's quick start), where the package is not in node_modules: walk up
 * from the working directory to the package.json named pulumi-hardened-nftables.
 */
function hardenedNftablesImpl() {
  const id = "pulumi-hardened-nftables/dist/pulumi/provider-impl.js";
  try {
    return require(id);
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code !== "MODULE_NOT_FOUND" || (e.message ?? "").indexOf(id) < 0) throw err;
    const path = require("path");
    for (let dir = require("process").cwd(); ; dir = path.dirname(dir)) {
      let name;
      try {
        name = require(path.join(dir, "package.json")).name;
      } catch {
        name = undefined;
      }
      if (name === "pulumi-hardened-nftables") return require(path.join(dir, "dist", "pulumi", "provider-impl.js"));
      if (path.dirname(dir) === dir) throw err;
    }
  }
}

export const hostTableProvider: pulumi.dynamic.ResourceProvider = {
  check: (olds, news) => hardenedNftablesImpl().check(olds, news),
  diff: (id, olds, news) => hardenedNftablesImpl().diff(id, olds, news),
  create: (inputs) => hardenedNftablesImpl().create(inputs),
  read: (id, props) => hardenedNftablesImpl().read(id, props),
  update: (id, olds, news) => hardenedNftablesImpl().update(id, olds, news),
  delete: (id, props) => hardenedNftablesImpl().delete(id, props),
};
