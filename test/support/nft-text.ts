/**
 * The text form of a table, read the same way from a rendered `nft -f` file and from what
 * `nft -s list table` prints, so the two can be compared line by line; and the scratch namespace
 * that prints the listing. Used by test/integration/nft-listing.test.ts.
 */
import { spawn } from "node:child_process";

/** The blocks of a table: `ct helper <name>`, `set <name>`, `chain <name>` -> their lines, trimmed. */
export type TableBlocks = Map<string, string[]>;

const BLOCK_START = /^(ct helper|set|chain) (\S+) \{$/;

/**
 * Reads the blocks of one `table inet <name> { ... }`. `#` lines (the rendered file's headings,
 * which the kernel does not keep) are left out; a set's `elements = { ... }` becomes one
 * `element <e>` line per element, however the text wraps them (nft wraps by width, the renderer
 * puts five or more one per line).
 */
export function tableBlocks(text: string, table: string): TableBlocks {
  const lines = text.split("\n").map((l) => l.trim());
  const start = lines.indexOf(`table inet ${table} {`);
  if (start < 0) throw new Error(`no "table inet ${table} {" in:\n${text}`);
  const blocks: TableBlocks = new Map();
  let block: string[] | undefined;
  let elements: string | undefined;
  for (const line of lines.slice(start + 1)) {
    if (line === "" || line.startsWith("#")) continue;
    if (elements !== undefined) {
      elements += ` ${line}`;
      if (line.endsWith("}")) {
        block!.push(...elementLines(elements));
        elements = undefined;
      }
      continue;
    }
    if (!block) {
      if (line === "}") break;
      const opened = BLOCK_START.exec(line);
      if (!opened) throw new Error(`unexpected line outside a block: ${line}`);
      block = [];
      blocks.set(`${opened[1]} ${opened[2]}`, block);
      continue;
    }
    if (line === "}") block = undefined;
    else if (line.startsWith("elements = {")) {
      elements = line;
      if (line.endsWith("}")) {
        block.push(...elementLines(elements));
        elements = undefined;
      }
    } else block.push(line);
  }
  return blocks;
}

function elementLines(elements: string): string[] {
  const inner = /^elements = \{(.*)\}$/.exec(elements)?.[1];
  if (inner === undefined) throw new Error(`cannot read ${elements}`);
  return inner
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "")
    .map((e) => `element ${e}`);
}

/**
 * Loads `nftText` into a throwaway network namespace (`unshare -n`, the machine's own ruleset is
 * never touched) and returns what `nft -s list table inet <table>` prints there. Needs root.
 */
export function listInScratchNamespace(
  nftText: string,
  table: string,
): Promise<{ ok: boolean; listing: string; error: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "unshare",
      ["-n", "sh", "-c", 'nft -f /dev/stdin && nft -s list table inet "$1"', "nft-list", table],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, listing: stdout, error: stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(nftText);
  });
}

/**
 * Every line of `rendered` that `listed` spells differently or lacks, and every listed line the
 * render lacks, as `<block>: rendered "<line>" / listed "<line>"`. Lines of a chain and of a
 * helper object are compared in order; a set's elements as a set (the kernel orders them).
 */
export function blockMismatches(rendered: TableBlocks, listed: TableBlocks): string[] {
  const out: string[] = [];
  for (const name of new Set([...rendered.keys(), ...listed.keys()])) {
    const [r, l] = [rendered.get(name), listed.get(name)];
    if (!r || !l) {
      out.push(`${name}: ${r ? "not listed" : "listed but not rendered"}`);
      continue;
    }
    const [rs, ls] = name.startsWith("set ") ? [[...r].sort(), [...l].sort()] : [r, l];
    for (let i = 0; i < Math.max(rs.length, ls.length); i++) {
      if (rs[i] !== ls[i]) out.push(`${name}: rendered ${JSON.stringify(rs[i])} / listed ${JSON.stringify(ls[i])}`);
    }
  }
  return out;
}
