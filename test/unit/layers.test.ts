/**
 * The layers of src/ (src/README.md draws them) import only downwards, by rank, and no module
 * imports itself back through others, inside a layer or across. Type-only imports count: a
 * cycle of types is still two modules that cannot be read, moved or tested one without the other.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(__dirname, "../../src");

/**
 * Each layer's rank: a module may import from its own layer and from layers of a lower rank.
 * `local` (the nft check in a scratch namespace on this machine) serves host and cli; cli and
 * pulumi are two front ends of the same rank, so neither imports the other.
 */
const RANK: Record<string, number> = {
  fields: 0,
  catalog: 1,
  model: 2,
  plan: 3,
  render: 4,
  local: 5,
  host: 6,
  cli: 7,
  pulumi: 7,
  "(index)": 8,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** The layer (top directory of src/) a file is in; src/index.ts is the package's own. */
function layerOf(file: string): string {
  const parts = relative(SRC, file).split("/");
  return parts.length > 1 ? parts[0]! : "(index)";
}

/** The file a relative specifier names: `x.ts` or `x/index.ts`. */
function resolveImport(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  const file = [`${base}.ts`, join(base, "index.ts")].find((candidate) => existsSync(candidate));
  if (!file) throw new Error(`${relative(SRC, from)}: cannot resolve ${specifier}`);
  return file;
}

/** Every file of src/ and the src/ files it imports (relative specifiers, type-only ones too). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, "utf8");
    const specifiers = [...text.matchAll(/(?:import|export)[^;]*?from\s+"(\.[^"]+)"|import\s+"(\.[^"]+)"/g)].map(
      (m) => (m[1] ?? m[2])!,
    );
    graph.set(file, [...new Set(specifiers.map((s) => resolveImport(file, s)))]);
  }
  return graph;
}

/** The cycles of a graph, each once: its strongly connected components of more than one file (or a self-import). */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v))
        out.push(component.map((f) => relative(SRC, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe("layers import one way", () => {
  const graph = importGraph();

  it("every file of src/ is in a ranked layer", () => {
    expect([...new Set([...graph.keys()].map(layerOf))].filter((layer) => RANK[layer] === undefined)).toEqual([]);
  });

  it("a layer imports only from itself and from layers of a lower rank", () => {
    const upwards = [...graph].flatMap(([file, targets]) =>
      targets
        .filter((target) => layerOf(target) !== layerOf(file) && RANK[layerOf(target)]! >= RANK[layerOf(file)]!)
        .map(
          (target) => `${relative(SRC, file)} (${layerOf(file)}) imports ${relative(SRC, target)} (${layerOf(target)})`,
        ),
    );
    expect(upwards).toEqual([]);
  });

  it("no module imports itself back through others", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("the checks see a cycle and an upward import (negative control)", () => {
    const [plan, render, model] = ["plan/plan.ts", "render/index.ts", "model/policy.ts"].map((f) => join(SRC, f)) as [
      string,
      string,
      string,
    ];
    const cyclic = new Map([...graph, [plan, [...graph.get(plan)!, render]]]);
    expect(cycles(cyclic).some((c) => c.includes("plan/plan.ts") && c.includes("render/index.ts"))).toBe(true);
    expect(RANK[layerOf(render)]! >= RANK[layerOf(model)]!).toBe(true);
  });
});
