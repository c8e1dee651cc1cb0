/**
 * Runs a program with its stdout and stderr each going either into a real pipe read by a slow
 * reader (a separate process that pauses after every chunk, so the pipe fills and the writer
 * has to wait) or straight into a file. The bytes each reader received, and the exit status.
 */
import { type StdioOptions, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";

export type Sink = "pipe" | "file";

export interface PipeRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** How many reads each slow reader made (more than one: the pipe filled and the writer waited). */
  readonly reads: { stdout?: number; stderr?: number };
}

const SLOW_READER = `
const fs = require("node:fs");
const [file, pauseMs] = process.argv.slice(2);
const fd = fs.openSync(file, "w");
let reads = 0;
process.stdin.on("data", (chunk) => {
  fs.writeSync(fd, chunk);
  reads++;
  process.stdin.pause();
  setTimeout(() => process.stdin.resume(), Number(pauseMs));
});
process.stdin.on("end", () => {
  fs.closeSync(fd);
  fs.writeFileSync(file + ".reads", String(reads));
});
`;

let runs = 0;

export async function runThrough(
  dir: string,
  command: string,
  args: readonly string[],
  sinks: { stdout: Sink; stderr: Sink },
  options: { env?: NodeJS.ProcessEnv; pauseMs?: number } = {},
): Promise<PipeRun> {
  const reader = join(dir, "slow-reader.js");
  writeFileSync(reader, SLOW_READER);
  const n = ++runs;
  const files = { stdout: join(dir, `run${n}.stdout`), stderr: join(dir, `run${n}.stderr`) };
  const readers: { name: "stdout" | "stderr"; exited: Promise<number | null>; stdin: Writable }[] = [];
  const fds: number[] = [];
  const stdio: StdioOptions = ["ignore"];
  for (const name of ["stdout", "stderr"] as const) {
    if (sinks[name] === "pipe") {
      const r = spawn(process.execPath, [reader, files[name], String(options.pauseMs ?? 2)], {
        stdio: ["pipe", "ignore", "inherit"],
      });
      readers.push({ name, stdin: r.stdin!, exited: new Promise((resolve) => r.on("exit", (code) => resolve(code))) });
      stdio.push(r.stdin!);
    } else {
      const fd = openSync(files[name], "w");
      fds.push(fd);
      stdio.push(fd);
    }
  }
  const child = spawn(command, args, { stdio, env: options.env ?? process.env });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (c, s) => resolve([c, s]));
  });
  // The readers see the end of their pipe once our own copy of its write end is closed too.
  for (const r of readers) r.stdin.destroy();
  for (const fd of fds) closeSync(fd);
  const readerCodes = await Promise.all(readers.map((r) => r.exited));
  if (readerCodes.some((c) => c !== 0)) throw new Error(`a slow reader failed (exit ${readerCodes.join(", ")})`);
  const reads: PipeRun["reads"] = {};
  for (const r of readers) reads[r.name] = Number(readFileSync(`${files[r.name]}.reads`, "utf8"));
  return { code, signal, stdout: readFileSync(files.stdout), stderr: readFileSync(files.stderr), reads };
}
