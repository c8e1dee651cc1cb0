import { execFileSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hostRootProblem } from "../../src/model/host-options";
import { managedPaths } from "../../src/render/paths";

const SCRIPTS = join(__dirname, "../../src/host/scripts");

/** lib.sh's own `require_path`, in a real sh, on each value: true where it accepts it. */
function libShAccepts(values: readonly string[]): boolean[] {
  const out = execFileSync(
    "sh",
    [
      "-c",
      `B="$0"; . "$B/lib.sh"; for v in "$@"; do if (require_path "$v" root >/dev/null); then echo accepted; else echo refused; fi; done`,
      SCRIPTS,
      ...values,
    ],
    { encoding: "utf8" },
  );
  return out
    .trim()
    .split("\n")
    .map((l) => l === "accepted");
}

const EXAMPLES = [
  "/var/lib/hardened-nftables",
  "/etc/hardened-nftables/.state",
  "/",
  "/a_b-c.d/e",
  "relative/path",
  "",
  "/with space",
  "/a;rm -rf",
  "/a/../b",
  "/x..y",
  "/a/b\n/c",
  "/$(id)",
  "/é",
];

describe("host paths", () => {
  it("accepts what lib.sh's require_path accepts, and nothing else", () => {
    expect(hostRootProblem("/var/lib/hardened-nftables")).toBeUndefined();
    expect(hostRootProblem("/etc/hardened-nftables/.state")).toBeUndefined();
    expect(hostRootProblem("relative/path")).toMatch(/absolute path/);
    expect(hostRootProblem("/with space")).toMatch(/absolute path/);
    expect(hostRootProblem("/a;rm -rf")).toMatch(/absolute path/);
    // lib.sh refuses ".." anywhere, not only as a path segment
    expect(hostRootProblem("/a/../b")).toMatch(/\.\./);
    expect(hostRootProblem("/x..y")).toMatch(/\.\./);
    // the same verdicts from the script itself
    expect(libShAccepts(EXAMPLES)).toEqual(EXAMPLES.map((v) => hostRootProblem(v) === undefined));
    expect(libShAccepts(["/var/lib/hardened-nftables", "/x..y"])).toEqual([true, false]); // the script really refuses some
  });

  it("agrees with lib.sh on arbitrary strings of path-like and hostile characters", () => {
    const char = fc.constantFrom(..."/._-aZ09 ;$`'\"\\*?\n\té".split(""));
    const values = fc.sample(
      fc.oneof(
        fc.string({ unit: char, maxLength: 12 }),
        fc.string({ unit: char, maxLength: 12 }).map((s) => `/${s}`),
      ),
      { numRuns: 400, seed: 13 },
    );
    const accepted = libShAccepts(values);
    const disagreements = values.filter((v, i) => accepted[i] !== (hostRootProblem(v) === undefined));
    expect(disagreements).toEqual([]);
    expect(accepted.filter(Boolean).length).toBeGreaterThan(20); // the sample holds paths lib.sh accepts, not only refusals
  });

  it("puts state and the lock under the overridden roots, named after the table", () => {
    const paths = managedPaths("web1", { stateRoot: "/etc/h/.state", runRoot: "/etc/h/.run" });
    expect(paths.stateDir).toBe("/etc/h/.state/web1");
    expect(paths.runDir).toBe("/etc/h/.run");
    expect(managedPaths("web1").stateDir).toBe("/var/lib/hardened-nftables/web1");
  });
});
