/**
 * The parameters every host script reads (lib.sh `load_common_params`) and the options every host
 * operation takes. Shared by apply, observe and remove, so none of them imports another.
 */
import type { Artefacts } from "../../render";
import type { ManagedPaths, PathOverrides } from "../../render/paths";

export interface HostOptions {
  /** Where state and the lock live on the host (tests point them into a per-host /etc). */
  readonly paths?: PathOverrides;
  readonly onLog?: (line: string) => void;
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
