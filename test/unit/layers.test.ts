import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(__dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** The layer (top directory of src/) a path is in. */
function layerOf(path: string): string {
  const parts = relative(SRC, path).split("/");
  const isDirectory = (() => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  })();
  return parts.length > 1 || isDirectory ? parts[0]! : "(index)";
}

/** "from -> to" for every relative import that crosses layers, with the files that make it. */
function layerEdges(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    for (const match of readFileSync(file, "utf8").matchAll(/(?:import|export)[^;]*?from\s+"(\.[^"]+)"/g)) {
      const target = resolve(dirname(file), match[1]!);
      const [from, to] = [layerOf(file), layerOf(target)];
      if (from === to) continue;
      const key = `${from} -> ${to}`;
      edges.set(key, [...(edges.get(key) ?? []), `${relative(SRC, file)} imports ${match[1]}`]);
    }
  }
  return edges;
}

describe("layers import one way", () => {
  it("no two layers of src/ import each other (the package index aside)", () => {
    const edges = layerEdges();
    const twoWay = [...edges.keys()]
      .map((key) => key.split(" -> ") as [string, string])
      .filter(([from, to]) => from < to && from !== "(index)" && to !== "(index)" && edges.has(`${to} -> ${from}`))
      .map(([from, to]) => [...edges.get(`${from} -> ${to}`)!, ...edges.get(`${to} -> ${from}`)!].join("\n"));
    expect(twoWay).toEqual([]);
  });

  it("the catalog and the shared fields import nothing of the policy model", () => {
    const edges = layerEdges();
    expect(edges.get("catalog -> model")).toBeUndefined();
    expect(edges.get("fields -> model")).toBeUndefined();
    expect(edges.get("fields -> catalog")).toBeUndefined();
  });
});
