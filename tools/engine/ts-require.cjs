// TypeScript for the engine driver (tools/engine/run.ts) and the program it loads, without tsx:
//   node --require tools/engine/ts-require.cjs tools/engine/run.ts ...
// (scripts/pulumi and the engine suites start it so). Every `pulumi` command is a fresh process, and
// tsx's hooks see every module that process loads (the Automation API, gRPC, the SDK, the package):
// they tripled the driver's start-up (measured: loading @pulumi/pulumi/automation 0.7 s plain, 2-3 s
// under tsx). Here only .ts and .cts files are touched: each is compiled once by esbuild (honouring
// the nearest tsconfig.json, as tsx does) into a cache keyed by the SHA-256 of its source, its path,
// that tsconfig and esbuild's version; every .js file loads as Node loads it. Node's own compile
// cache (V8 code) is switched on for this process and for the processes it starts (the CLI hands
// its environment to the provider plugin), in the same cache directory.
//
// Cache: $HNFT_DRIVER_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/hardened-nftables/engine-driver. A
// file there is only read when its name (the hash) matches, so a stale or foreign entry is never
// used; deleting the directory is always safe. CommonJS output only: a program with top-level
// await fails with esbuild's own message naming the file and line.
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const Module = require("node:module");
const os = require("node:os");
const path = require("node:path");

const cacheRoot =
  process.env.HNFT_DRIVER_CACHE ||
  path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "hardened-nftables", "engine-driver");
const jsCache = path.join(cacheRoot, "js");
const v8Cache = path.join(cacheRoot, "v8");

if (!process.env.NODE_COMPILE_CACHE) process.env.NODE_COMPILE_CACHE = v8Cache;
Module.enableCompileCache?.(process.env.NODE_COMPILE_CACHE);

/** @type {typeof import("esbuild") | undefined} */
let esbuild;
const esbuildVersion = (() => {
  try {
    return JSON.parse(fs.readFileSync(require.resolve("esbuild/package.json"), "utf8")).version;
  } catch {
    return "unknown";
  }
})();
const target = `node${process.versions.node.split(".")[0]}`;

/** The nearest tsconfig.json above `dir` (its text: part of the cache key), as esbuild finds it. */
function nearestTsconfig(dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    const file = path.join(d, "tsconfig.json");
    try {
      return fs.readFileSync(file, "utf8");
    } catch {
      /* not here */
    }
    if (path.dirname(d) === d) return "";
  }
}

function compile(filename) {
  const source = fs.readFileSync(filename, "utf8");
  const key = crypto
    .createHash("sha256")
    .update(`${esbuildVersion}\0${target}\0${filename}\0${nearestTsconfig(path.dirname(filename))}\0`)
    .update(source)
    .digest("hex");
  const cached = path.join(jsCache, `${key}.js`);
  try {
    return fs.readFileSync(cached, "utf8");
  } catch {
    /* first time for this source */
  }
  esbuild ??= require("esbuild");
  // build, not transform: it reads the file's tsconfig.json (extends included) as tsc and tsx do
  const out = esbuild.buildSync({
    entryPoints: [filename],
    bundle: false,
    write: false,
    platform: "node",
    format: "cjs",
    target,
    sourcemap: "inline",
    logLevel: "silent",
  });
  const code = out.outputFiles[0].text;
  try {
    fs.mkdirSync(jsCache, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, cached);
  } catch {
    /* a read-only cache only costs the next run the compile */
  }
  return code;
}

for (const ext of [".ts", ".cts"]) {
  Module._extensions[ext] = (module, filename) => module._compile(compile(filename), filename);
}
