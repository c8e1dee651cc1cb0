/**
 * The parameters every host script reads (lib.sh `load_common_params`) and the options every host
 * operation takes. Shared by apply, observe and remove, so none of them imports another.
 */
import { HostOptionsError, parseHostOptions } from "../../model/host-options";
import type { Artefacts } from "../../render";
import type { ManagedPaths, PathOverrides } from "../../render/paths";

export interface HostOptions {
  /** Where state and the lock live on the host (tests point them into a per-host /etc). */
  readonly paths?: PathOverrides;
  readonly onLog?: (line: string) => void;
}

/** What the host API's entry points take of the shared host options (HostOptionsSchema), by their API names. */
interface SharedOptions extends HostOptions {
  readonly table?: string;
  readonly confirmTimeoutSeconds?: number;
  readonly allowOtherTables?: boolean | readonly string[];
}

/**
 * `options` checked by the host options schema every front end shares, before any connection:
 * the same value gets the same issue as from the CLI or the provider (`paths` is the schema's
 * `hostPaths`). Returns them with the paths normalized; throws {@link HostOptionsError}.
 */
export function checkedOptions<T extends SharedOptions>(options: T): T {
  const { table, paths, confirmTimeoutSeconds, allowOtherTables } = options;
  const parsed = parseHostOptions({ table, hostPaths: paths, confirmTimeoutSeconds, allowOtherTables });
  if (!parsed.ok)
    throw new HostOptionsError(
      parsed.issues.map((i) => (i.path[0] === "hostPaths" ? { ...i, path: ["paths", ...i.path.slice(1)] } : i)),
    );
  return parsed.value.hostPaths ? { ...options, paths: parsed.value.hostPaths } : options;
}

/** The table and where its files, state and lock live: the names lib.sh's load_common_params reads. */
export function pathParams(table: string, paths: ManagedPaths): Record<string, string> {
  return {
    table,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    nftPath: paths.nft,
    sysctlPath: paths.sysctl,
    modprobePath: paths.modprobe,
    unitPath: paths.unit,
    unitLink: paths.unitLink,
  };
}

/** The sysctls to set or compare, one `key value` line each (read by apply.sh and observe.sh). */
export function sysctlParam(artefacts: Pick<Artefacts, "sysctlSettings">): string {
  return artefacts.sysctlSettings.map(([k, v]) => `${k} ${v}\n`).join("");
}
