import type { Connection } from "../../model/connection";
import type { HostProfile } from "../../render/profile";
import { HostOperationError } from "../errors";
import { type HostSession, withSession } from "../ssh";
import { type RemoteOutput, runStep } from "../wire/remote";
import { type RuntimeTable, runtimeTablesOf } from "./runtime-tables";

export interface HostFacts {
  readonly kernel: string;
  /** e.g. "1.0.6", from `nft --version`. */
  readonly nftVersion: string;
  readonly nftBinary: string;
  readonly helperSysctl: boolean;
  readonly helperModuleParam: boolean;
  readonly netfilter: "builtin" | "modular" | "unknown";
  readonly loadedHelperModules: readonly string[];
  /** How the persisted table loads at boot: a systemd unit where /etc/systemd exists. */
  readonly init: "systemd" | "systemd-offline" | "openrc" | "none";
  /** Every table on the host, this project's and others' (docker, fail2ban, kube...): reported, never touched. */
  readonly tables: readonly string[];
  readonly tools: readonly string[];
  readonly profile: HostProfile;
  /** Tables of this project on the host (this one included), found by the files each apply writes under /etc. */
  readonly managedTables: readonly ManagedTable[];
  /** The host's network interfaces and their addresses (`198.18.0.10/24`), as it reports them now. */
  readonly interfaces: readonly HostInterface[];
  /**
   * The tables and chains of container and VM runtimes (Docker, Podman, libvirt, LXD, Incus,
   * kube-proxy) and firewalld, in nftables or iptables-legacy: reported, never touched.
   */
  readonly runtimeTables: readonly RuntimeTable[];
}

export interface HostInterface {
  readonly name: string;
  readonly addresses: readonly string[];
}

/** The "interfaces" section: "link <name>" and "addr <name> <address>/<length>" lines. */
export function interfacesFromOutput(section: string): HostInterface[] {
  const found = new Map<string, string[]>();
  for (const line of section.split("\n")) {
    const [kind, name, address] = line.trim().split(/\s+/);
    if (!name) continue;
    const addresses = found.get(name) ?? [];
    found.set(name, addresses);
    if (kind === "addr" && address) addresses.push(address);
  }
  return [...found.entries()].map(([name, addresses]) => ({ name, addresses }));
}

export interface ManagedTable {
  readonly table: string;
  /** The files that show it: its persisted table, sysctl.d and modprobe.d files, boot unit. */
  readonly files: readonly string[];
  /** Helper modules its modprobe.d file refuses. */
  readonly deniedModules: readonly string[];
  /** Helper modules its scoped exposures need (its modprobe.d file lists them). */
  readonly neededModules: readonly string[];
  /** What its sysctl.d file sets, key to value. */
  readonly sysctls: Readonly<Record<string, string>>;
}

/**
 * The "managed" section ("<table> <file>" lines), each "modprobe <table>" section ("deny m" /
 * "need a, b") and each "sysctl <table>" section ("key value").
 */
export function managedTablesFromOutput(sections: Readonly<Record<string, string>>): ManagedTable[] {
  const files = new Map<string, string[]>();
  for (const line of (sections.managed ?? "").split("\n")) {
    const [table, file] = line.trim().split(/\s+/, 2);
    if (!table || !file) continue;
    files.set(table, [...(files.get(table) ?? []), file]);
  }
  return [...files.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([table, found]) => {
      const lines = (sections[`modprobe ${table}`] ?? "").split("\n");
      const words = (prefix: string) =>
        lines
          .filter((l) => l.startsWith(prefix))
          .flatMap((l) => l.slice(prefix.length).split(/[\s,]+/))
          .filter(Boolean);
      const sysctls = Object.fromEntries(
        (sections[`sysctl ${table}`] ?? "")
          .split("\n")
          .map((l) => l.trim().split(/\s+/, 2))
          .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== ""),
      );
      return { table, files: found, deniedModules: words("deny "), neededModules: words("need "), sysctls };
    });
}

const INIT_SYSTEMS = ["systemd", "systemd-offline", "openrc", "none"] as const;

const REQUIRED_TOOLS = ["flock", "setsid", "tar", "cmp"];

export function factsFromOutput(
  values: Readonly<Record<string, string>>,
  tables: string,
  managedTables: readonly ManagedTable[] = [],
  interfaces: readonly HostInterface[] = [],
  runtimeTables: readonly RuntimeTable[] = [],
): HostFacts {
  const kernel = values.kernel ?? "";
  const version = /v(\d+\.\d+(?:\.\d+)?)/.exec(values.nft ?? "")?.[1] ?? "";
  return {
    kernel,
    nftVersion: version,
    nftBinary: values.nftPath ?? "",
    helperSysctl: values.helperSysctl === "yes",
    helperModuleParam: values.helperParam === "yes",
    netfilter: (["builtin", "modular"].includes(values.netfilter ?? "")
      ? values.netfilter
      : "unknown") as HostFacts["netfilter"],
    loadedHelperModules: (values.helperModules ?? "").split(/\s+/).filter(Boolean).sort(),
    init: INIT_SYSTEMS.find((i) => i === values.init) ?? "none",
    tables: tables
      .split("\n")
      .map((t) => t.trim())
      .filter(Boolean),
    tools: (values.tools ?? "").split(/\s+/).filter(Boolean),
    profile: {
      kernel: kernel.replace(/^(\d+\.\d+).*$/, "$1"),
      helperSysctl: values.helperSysctl === "yes",
      helperModuleParam: values.helperParam === "yes",
    },
    managedTables,
    interfaces,
    runtimeTables,
  };
}

export async function probeSession(session: HostSession): Promise<HostFacts> {
  const out = await runStep(session, { main: "probe", params: {} });
  if (out.code !== 0)
    throw new HostOperationError(session.target, `probe failed: ${session.redact(out.stderr.trim())}`);
  return probedFacts(session, out);
}

/** The facts of a probe's output (probe.sh, alone or before observe), refused where no step can run. */
export function probedFacts(session: HostSession, out: RemoteOutput): HostFacts {
  const facts = factsFromOutput(
    out.values,
    out.sections.tables ?? "",
    managedTablesFromOutput(out.sections),
    interfacesFromOutput(out.sections.interfaces ?? ""),
    runtimeTablesOf({
      tables: out.sections.tables ?? "",
      chains: out.sections.chains,
      legacy4: out.sections.legacy4,
      legacy6: out.sections.legacy6,
    }),
  );
  if (out.values.uid !== "0")
    throw new HostOperationError(
      session.target,
      "host steps need root: log in as root or set sudo: true with passwordless sudo",
    );
  if (!facts.nftBinary)
    throw new HostOperationError(session.target, "nft is not installed (Debian/Ubuntu: apt-get install nftables)");
  const missing = REQUIRED_TOOLS.filter((t) => !facts.tools.includes(t));
  if (missing.length > 0)
    throw new HostOperationError(
      session.target,
      `missing tools on the host: ${missing.join(", ")} (util-linux, tar, diffutils)`,
    );
  return facts;
}

/** Probes a host on its own connection (one round trip), closing it afterwards. */
export function probeHost(
  connection: Connection,
  options: { onLog?: (line: string) => void } = {},
): Promise<HostFacts> {
  return withSession(connection, (session) => probeSession(session), { onLog: options.onLog });
}
