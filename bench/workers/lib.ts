/**
 * Shared by the worker programs (bench/workers/*.ts): each runs in a fresh `node` process, reads
 * its request as JSON on stdin and loads the built library from the directory given as its first
 * argument (the benchmark's private copy of dist/, bench/util.ts snapshotDist). The workers are
 * TypeScript that the typecheck covers (their calls are checked against src/'s own types through
 * `import type`); the benchmark erases their types into plain JavaScript beside the copy before it
 * starts, so a worker's process pays nothing for TypeScript and loads the library as users do.
 */
import * as path from "node:path";

/** The built library's module `rel` (e.g. "host"), typed as its source: `load<typeof import("../../src/host")>("host")`. */
export function load<T>(rel: string): T {
  const dist = process.argv[2];
  if (!dist) throw new Error("worker: the first argument is the directory of the built library (dist/)");
  return require(path.join(dist, rel)) as T;
}

/** The whole of stdin, parsed as JSON. */
export function readRequest<T>(): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on("data", (d: Buffer) => chunks.push(d));
    process.stdin.on("error", reject);
    process.stdin.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as T);
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Writes the answer as JSON on stdout; a failure goes to stderr with exit code 1. */
export function answer<T>(work: Promise<T>): void {
  work.then(
    (out) => process.stdout.write(JSON.stringify(out)),
    (e: unknown) => {
      process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
