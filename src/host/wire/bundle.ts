import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pack } from "tar-stream";
import { HOST_EXIT } from "./protocol";

export type ScriptName =
  | "probe"
  | "apply"
  | "confirm"
  | "observe"
  | "probe-observe"
  | "remove"
  | "coexist"
  | "stats"
  | "audit";

const scriptDir = join(__dirname, "..", "scripts");
const cache = new Map<string, string>();
function script(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(join(scriptDir, name), "utf8");
    cache.set(name, text);
  }
  return text;
}

/**
 * The scripts a step runs besides its main one: apply leaves its guardian's on the host (the
 * guardian outlives the step); probe-observe runs the probe and observe steps in turn.
 */
const COMPANIONS: Partial<Record<ScriptName, readonly string[]>> = {
  apply: ["guardian.sh", "conntrack-deletions.awk"],
  "probe-observe": ["probe.sh", "observe.sh"],
};

export interface BundleInput {
  readonly main: ScriptName;
  readonly params: Readonly<Record<string, string>>;
  readonly files?: Readonly<Record<string, string>>;
}

/**
 * Everything a remote step needs, as one tar stream for stdin: the fixed scripts, the
 * parameters and the artefacts. User data never reaches a shell command line.
 */
export function bundle(input: BundleInput): Promise<Buffer> {
  const archive = pack();
  const entries: [string, string][] = [
    ["main.sh", script(`${input.main}.sh`)],
    ["lib.sh", script("lib.sh")],
    ["status.env", script("status.env")],
    ...(COMPANIONS[input.main] ?? []).map((name): [string, string] => [name, script(name)]),
    ["params/", ""],
    ...Object.entries(input.params).map(([k, v]) => [`params/${k}`, v] as [string, string]),
    ["files/", ""],
    ...Object.entries(input.files ?? {}).map(([k, v]) => [`files/${k}`, v] as [string, string]),
  ];
  for (const [name, content] of entries) {
    if (name.endsWith("/")) archive.entry({ name, type: "directory", mode: 0o755 });
    else archive.entry({ name, mode: 0o644 }, content);
  }
  archive.finalize();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    archive.on("data", (c: unknown) => {
      chunks.push(c as Buffer);
    });
    archive.on("end", () => resolve(Buffer.concat(chunks)));
    archive.on("error", reject);
  });
}

/** The only command line any remote step uses: unpack the bundle from stdin and run it. */
export const BOOTSTRAP = `d=$(mktemp -d /tmp/hnft.XXXXXX) || exit ${HOST_EXIT.noTempDir}; trap 'rm -rf "$d"' EXIT; tar -x -C "$d" -f - || exit ${HOST_EXIT.noUnpack}; sh "$d/main.sh" "$d"`;
