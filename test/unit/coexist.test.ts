import { describe, expect, it } from "vitest";
import { formatIssues } from "../../src/fields/issues";
import {
  deniedButNeeded,
  modulesOtherTablesNeed,
  otherManagedTables,
  refusedTables,
  sysctlClashes,
  tablesToRelax,
} from "../../src/host/operations/coexist";
import { managedTablesFromOutput } from "../../src/host/operations/probe";
import { parsePolicy } from "../../src/model/validate";
import { renderPolicy } from "../../src/render";
import { profileForKernel } from "../../src/render/profile";

const policy = (input: unknown) => {
  const p = parsePolicy(input);
  if (!p.ok) throw new Error(formatIssues(p.issues).join("\n"));
  return p.value;
};
const BASE = policy({ table: "base", exposures: [{ service: "ssh" }] });
const APP_INPUT = {
  table: "app",
  exposures: [{ service: "ssh" }, { service: "ftp", helper: "scoped", passivePorts: "50000-50100" }],
};
const APP = policy(APP_INPUT);
const FTP_MODULES = ["nf_conntrack_ftp", "nf_nat_ftp"];

describe("other tables of this project on one host", () => {
  const base = renderPolicy(BASE);
  const app = renderPolicy(APP);
  // What probe.sh prints for a host with both tables (each modprobe.d file read back).
  const modprobeSection = (text: string) =>
    text
      .split("\n")
      .flatMap((l) =>
        /^install (\S+) \/bin\/false$/.test(l)
          ? [`deny ${l.split(" ")[1]}`]
          : l.startsWith("# Allowed for scoped exposures: ")
            ? [`need ${l.slice(32)}`]
            : [],
      )
      .join("\n");
  const sections = {
    managed: [
      "app /etc/hardened-nftables/app.nft",
      "app /etc/modprobe.d/hardened-nftables-app.conf",
      "base /etc/modprobe.d/hardened-nftables-base.conf",
      "base /etc/sysctl.d/60-hardened-nftables-base.conf",
    ].join("\n"),
    "modprobe app": modprobeSection(app.modprobe),
    "modprobe base": modprobeSection(base.modprobe),
    "sysctl base": "net.netfilter.nf_conntrack_max 131072",
  };
  const facts = { managedTables: managedTablesFromOutput(sections) };

  it("probe's output gives each table, its files, the modules it refuses and the ones it needs", () => {
    expect(facts.managedTables.map((t) => t.table)).toEqual(["app", "base"]);
    expect(facts.managedTables[0]).toMatchObject({
      files: ["/etc/hardened-nftables/app.nft", "/etc/modprobe.d/hardened-nftables-app.conf"],
      neededModules: FTP_MODULES,
    });
    expect(facts.managedTables[1]!.neededModules).toEqual([]);
    expect(facts.managedTables[1]!.deniedModules).toEqual(expect.arrayContaining(FTP_MODULES));
    expect(facts.managedTables[0]!.deniedModules).not.toEqual(expect.arrayContaining(["nf_conntrack_ftp"]));
    expect(managedTablesFromOutput({})).toEqual([]);
  });

  it("refused unless allowed: true allows any, a list allows exactly those", () => {
    const others = otherManagedTables(facts, "base");
    expect(others.map((t) => t.table)).toEqual(["app"]);
    expect(refusedTables(others, undefined).map((t) => t.table)).toEqual(["app"]);
    expect(refusedTables(others, false).map((t) => t.table)).toEqual(["app"]);
    expect(refusedTables(others, true)).toEqual([]);
    expect(refusedTables(others, ["app"])).toEqual([]);
    expect(refusedTables(others, ["web"]).map((t) => t.table)).toEqual(["app"]);
    expect(otherManagedTables(facts, "web").map((t) => t.table)).toEqual(["app", "base"]);
  });

  it("a table leaves loadable what the others need; the others stop refusing what it needs", () => {
    expect(modulesOtherTablesNeed(facts, "base")).toEqual(FTP_MODULES);
    expect(modulesOtherTablesNeed(facts, "app")).toEqual([]);
    // Rendered without the others' needs, base would refuse app's modules: apply refuses that.
    expect(deniedButNeeded(base, facts, "base")).toEqual(FTP_MODULES);
    const kept = renderPolicy(BASE, { keepLoadable: modulesOtherTablesNeed(facts, "base") });
    expect(deniedButNeeded(kept, facts, "base")).toEqual([]);
    expect(kept.deniedModules).not.toContain("nf_conntrack_ftp");
    expect(kept.deniedModules).toContain("nf_conntrack_sip");
    // Only the deny lines differ: what coexist.sh does to base's file (drops those lines) gives this render.
    const dropped = base.modprobe
      .split("\n")
      .filter((l) => !FTP_MODULES.some((m) => l === `install ${m} /bin/false`))
      .join("\n");
    expect(kept.modprobe).toBe(dropped);
    expect(kept.nft).toBe(base.nft);
    // app, applied next to the old base file, must make base stop refusing the ftp modules.
    expect(tablesToRelax(app, facts, "app")).toEqual([{ table: "base", modules: FTP_MODULES }]);
    expect(tablesToRelax(base, facts, "base")).toEqual([]);
  });

  it("a host-wide sysctl two tables set to different values is a clash; the same value or one unset is not", () => {
    expect(facts.managedTables[1]!.sysctls).toEqual({ "net.netfilter.nf_conntrack_max": "131072" });
    expect(facts.managedTables[0]!.sysctls).toEqual({});
    const wants = (max: number) => renderPolicy(policy({ ...APP_INPUT, conntrack: { max } }));
    expect(sysctlClashes(wants(262144), facts, "app")).toEqual([
      { key: "net.netfilter.nf_conntrack_max", value: "262144", table: "base", theirs: "131072" },
    ]);
    expect(sysctlClashes(wants(131072), facts, "app")).toEqual([]);
    expect(sysctlClashes(app, facts, "app")).toEqual([]);
  });

  it("keepLoadable also holds for kernels with the module parameter", () => {
    const old = renderPolicy(BASE, { profile: profileForKernel("5.10"), keepLoadable: FTP_MODULES });
    expect(old.modprobe).toContain("options nf_conntrack nf_conntrack_helper=0");
    expect(old.modprobe).not.toContain("install nf_conntrack_ftp");
  });
});
