/**
 * Compares what observe.sh read on the host (its sections) with what the policy renders: managed
 * files, the unit's enablement link, live sysctls and loaded helper modules. Pure.
 */
import type { Artefacts } from "../../render";
import type { ManagedPaths } from "../../render/paths";
import type { FileDrift } from "./drift-report";

export interface Expected {
  readonly artefacts: Pick<Artefacts, "nft" | "sysctl" | "modprobe" | "sysctlSettings" | "deniedModules">;
  readonly paths: ManagedPaths;
  /** The boot unit the host should have; undefined where it has no systemd. */
  readonly unit?: string;
}

export interface ObservedDrift {
  readonly files: FileDrift[];
  readonly sysctls: { key: string; expected: string; actual: string }[];
  readonly loadedDeniedModules: string[];
}

function lineDiff(expected: string, actual: string): { added: string[]; removed: string[] } {
  const e = expected.split("\n");
  const a = actual.split("\n");
  // sets, not arrays: a table file of 100,000 prefixes edited by hand is 100,000 lines
  const [inExpected, inActual] = [new Set(e), new Set(a)];
  return { added: a.filter((l) => !inExpected.has(l)), removed: e.filter((l) => !inActual.has(l)) };
}

export function compareObserved(
  s: Readonly<Record<string, string>>,
  { artefacts, paths, unit }: Expected,
): ObservedDrift {
  const expectedFiles: Record<string, { path: string; content?: string }> = {
    nft: { path: paths.nft, content: artefacts.nft },
    sysctl: { path: paths.sysctl, content: artefacts.sysctl },
    modprobe: { path: paths.modprobe, content: artefacts.modprobe },
    unit: { path: paths.unit, content: unit },
  };
  const files: FileDrift[] = [];
  for (const [name, expected] of Object.entries(expectedFiles)) {
    // the host found it byte for byte the candidate it was sent (observe.sh)
    if (s[`file ${name} same`] !== undefined && expected.content !== undefined) continue;
    const present = s[`file ${name} present`];
    if (present === undefined) {
      if (expected.content !== undefined)
        files.push({ name, path: expected.path, status: "missing", added: [], removed: [] });
      continue;
    }
    const actual = Buffer.from(present.trim(), "base64").toString("utf8");
    if (expected.content === undefined)
      files.push({ name, path: expected.path, status: "unexpected", added: [], removed: [] });
    else if (actual !== expected.content)
      files.push({ name, path: expected.path, status: "changed", ...lineDiff(expected.content, actual) });
  }

  // The unit only loads the table at boot while its enablement link exists (`systemctl disable` deletes it).
  const linkTarget = (s["unit-link"] ?? "").trim();
  if (expectedFiles.unit!.content !== undefined && s["file unit present"] !== undefined && linkTarget !== paths.unit) {
    files.push({
      name: "unit-link",
      path: paths.unitLink,
      status: linkTarget ? "changed" : "missing",
      added: linkTarget ? [linkTarget] : [],
      removed: linkTarget ? [paths.unit] : [],
    });
  } else if (expectedFiles.unit!.content === undefined && linkTarget) {
    files.push({ name: "unit-link", path: paths.unitLink, status: "unexpected", added: [], removed: [] });
  }

  const live = new Map(
    (s.sysctl ?? "")
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ") as [string, string]),
  );
  const sysctls = artefacts.sysctlSettings
    .filter(([key]) => live.get(key) !== "-")
    .filter(([key, value]) => live.get(key) !== value)
    .map(([key, value]) => ({ key, expected: value, actual: live.get(key) ?? "?" }));

  const denied = artefacts.deniedModules;
  const loaded = (s.modules ?? "")
    .split("\n")
    .map((m) => m.trim())
    .filter(Boolean);
  const loadedDeniedModules = loaded.filter((m) => denied.includes(m));
  return { files, sysctls, loadedDeniedModules };
}
