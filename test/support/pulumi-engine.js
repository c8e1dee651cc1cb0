// Plain-Node stand-in for the two Pulumi processes a real `pulumi up` runs, so the dynamic
// provider is exercised exactly as shipped (compiled dist, no vitest import rewriting):
//
//   node pulumi-engine.js program <argsFile> <outFile>
//     The PROGRAM: runs HostFirewall under pulumi.runtime.setMocks and records what it registers
//     for the dynamic resource: the inputs, including `__provider`, the text serializeFunction
//     made of the provider (pulumi.dynamic.Resource serializes it exactly so). Secret markers are
//     stripped, as the engine does before it calls a dynamic provider.
//
//   node pulumi-engine.js <preview|up|refresh|refresh-up|destroy> <stateFile> [<newsFile>]
//     The ENGINE + DYNAMIC-PROVIDER HOST: loads the provider from the serialized text the way
//     @pulumi/pulumi/cmd/dynamic-provider does (require-from-string(text).handler(), with the
//     working directory's node_modules for `require`), then drives check/diff/create/update/
//     read/delete like the engine, keeping `__provider` in inputs and outputs, and stores the
//     state (id, inputs, outputs) in <stateFile>. Prints one JSON line with what happened.
//
// `refresh-up` is `pulumi up --refresh`: read, then check/diff/update, in ONE provider process
// (where pooled SSH sessions are reused).
//
// Run with the working directory set to a "program directory" whose node_modules resolves
// pulumi-hardened-nftables and @pulumi/pulumi.
"use strict";
const fs = require("node:fs");

const PROVIDER_KEY = "__provider";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

function stripSecrets(value) {
  if (Array.isArray(value)) return value.map(stripSecrets);
  if (value && typeof value === "object") {
    if (value[SECRET_SIG] === SECRET_VALUE) return stripSecrets(value.value);
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = stripSecrets(v);
    return out;
  }
  return value;
}

const readJson = (file, fallback) => (fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : fallback);
const writeJson = (file, value) => fs.writeFileSync(file, JSON.stringify(value, null, 2));
const withProvider = (result, props) => Object.assign(result || {}, { [PROVIDER_KEY]: props[PROVIDER_KEY] });

async function program(argsFile, outFile) {
  const pulumi = require("@pulumi/pulumi");
  const captured = [];
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        if (args.type.startsWith("pulumi-nodejs:dynamic/")) captured.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "roundtrip",
    "test",
    false,
  );
  const { HostFirewall } = require("pulumi-hardened-nftables");
  const { name, args } = readJson(argsFile);
  new HostFirewall(name, args);
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (let i = 0; i < 50 && captured.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  if (captured.length !== 1) throw new Error(`expected one dynamic resource, got ${captured.length}`);
  const resource = captured[0];
  writeJson(outFile, { type: resource.type, name: resource.name, secretConnection: resource.inputs.connection?.[SECRET_SIG] === SECRET_VALUE, inputs: stripSecrets(resource.inputs) });
}

/** As cmd/dynamic-provider's getProvider: requireFromString(props.__provider).handler(). */
function loadProvider(props) {
  const fromPulumi = require.resolve("require-from-string", { paths: [require.resolve("@pulumi/pulumi")] });
  const requireFromString = require(fromPulumi);
  return requireFromString(props[PROVIDER_KEY]).handler();
}

async function closeSessions() {
  // Close pooled SSH sessions so the process ends now (the real provider process is killed by the engine).
  const impl = require("pulumi-hardened-nftables/dist/pulumi/provider-impl.js");
  await impl.closeAllSessions();
}

async function engine(op, stateFile, newsFile, print = true) {
  if (op === "refresh-up") {
    const refreshed = await engine("refresh", stateFile, undefined, false);
    const upped = await engine("up", stateFile, newsFile, false);
    await closeSessions();
    process.stdout.write(`${JSON.stringify({ op, refresh: refreshed, up: upped, ms: refreshed.ms + upped.ms })}\n`);
    return;
  }
  const state = readJson(stateFile, undefined);
  const news = newsFile ? readJson(newsFile).inputs : undefined;
  const out = { op };
  const started = Date.now();
  const provider = loadProvider(news && (!state || op !== "refresh") ? news : state.outputs);

  async function checked() {
    const result = await provider.check(state ? state.inputs : {}, news);
    if (result.failures && result.failures.length) {
      out.failures = result.failures;
      return undefined;
    }
    const inputs = result.inputs || news;
    inputs[PROVIDER_KEY] = news[PROVIDER_KEY];
    return inputs;
  }

  if (op === "preview" || op === "up") {
    const inputs = await checked();
    out.checkedInputs = inputs;
    if (inputs && state) out.diff = await provider.diff(state.id, state.outputs, inputs);
    if (op === "up" && inputs) {
      if (!state) {
        const result = await provider.create(inputs);
        writeJson(stateFile, { id: result.id, inputs, outputs: withProvider(result.outs, inputs) });
        out.action = "create";
      } else if (out.diff.replaces && out.diff.replaces.length > 0) {
        if (out.diff.deleteBeforeReplace) {
          await provider.delete(state.id, state.outputs);
          const result = await provider.create(inputs);
          writeJson(stateFile, { id: result.id, inputs, outputs: withProvider(result.outs, inputs) });
          out.action = "delete-then-create";
        } else {
          const result = await provider.create(inputs);
          await provider.delete(state.id, state.outputs);
          writeJson(stateFile, { id: result.id, inputs, outputs: withProvider(result.outs, inputs) });
          out.action = "create-then-delete";
        }
      } else if (out.diff.changes !== false) {
        const result = (await provider.update(state.id, state.outputs, inputs)) || {};
        writeJson(stateFile, { id: state.id, inputs, outputs: withProvider(result.outs, inputs) });
        out.action = "update";
      } else {
        writeJson(stateFile, { ...state, inputs });
        out.action = "same";
      }
    }
  } else if (op === "refresh") {
    const result = await provider.read(state.id, state.outputs);
    out.read = result;
    writeJson(stateFile, {
      id: result.id,
      inputs: result.inputs ? withProvider(result.inputs, state.outputs) : state.inputs,
      outputs: withProvider(result.props, state.outputs),
    });
    out.action = "refresh";
  } else if (op === "destroy") {
    await provider.delete(state.id, state.outputs);
    fs.rmSync(stateFile, { force: true });
    out.action = "delete";
  } else {
    throw new Error(`unknown op ${op}`);
  }
  out.ms = Date.now() - started;
  if (!print) return out;
  await closeSessions();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

const [op, a, b] = process.argv.slice(2);
(op === "program" ? program(a, b) : engine(op, a, b)).catch((err) => {
  process.stdout.write(`${JSON.stringify({ op, error: { name: err && err.name, message: String(err && err.message) } })}\n`);
  process.exitCode = 1;
});
