import { describe, expect, it } from "vitest";
import { hostRootProblem, managedPaths } from "../../src/render/paths";

describe("host paths", () => {
  it("accepts what the host scripts accept (lib.sh require_path), and nothing else", () => {
    expect(hostRootProblem("/var/lib/hardened-nftables")).toBeUndefined();
    expect(hostRootProblem("/etc/hardened-nftables/.state")).toBeUndefined();
    expect(hostRootProblem("relative/path")).toMatch(/absolute path/);
    expect(hostRootProblem("/with space")).toMatch(/absolute path/);
    expect(hostRootProblem("/a;rm -rf")).toMatch(/absolute path/);
    // lib.sh refuses ".." anywhere, not only as a path segment
    expect(hostRootProblem("/a/../b")).toMatch(/\.\./);
    expect(hostRootProblem("/x..y")).toMatch(/\.\./);
  });

  it("puts state and the lock under the overridden roots, named after the table", () => {
    const paths = managedPaths("web1", { stateRoot: "/etc/h/.state", runRoot: "/etc/h/.run" });
    expect(paths.stateDir).toBe("/etc/h/.state/web1");
    expect(paths.runDir).toBe("/etc/h/.run");
    expect(managedPaths("web1").stateDir).toBe("/var/lib/hardened-nftables/web1");
  });
});
