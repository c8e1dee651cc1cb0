/** Shapes of HostTable's inputs and outputs (plain JSON, as the engine passes them). */
import type { ConnectionInput } from "../model/connection";
import type { PolicyInput } from "../model/policy";
import type { PathOverrides } from "../render/paths";
import type { LineMap } from "./line-map";

/** Where state and the lock live on the host; defaults /var/lib/hardened-nftables and /run/hardened-nftables. */
export type HostPaths = PathOverrides;

/** What the provider learned about the host when it last probed it. */
export interface ProbedProfile {
  /** "major.minor": what the sysctl.d/modprobe.d rendering depends on. */
  readonly kernel: string;
  /** `uname -r` as the host reports it. */
  readonly kernelRelease: string;
  readonly nftVersion: string;
  readonly helperSysctl: boolean;
  readonly helperModuleParam: boolean;
}

export interface HostTableInputs {
  readonly table: string;
  /** `user@host:port` (and ` via user@bastion:port`): shown in previews, never secret material. */
  readonly target: string;
  /** The whole connection; stored as a secret. */
  readonly connection: ConnectionInput;
  /** The policy as written (without `table`). */
  readonly policy: Omit<PolicyInput, "table">;
  /** One key per rule, set element, helper object and chain policy (line-map.ts: diffed key by key). */
  readonly rules: LineMap;
  /** The sysctl.d file, one key per line. */
  readonly sysctl: LineMap;
  /** The modprobe.d file, one key per line. */
  readonly modprobe: LineMap;
  /** Desired: []. A refresh writes the live drift here, so the next preview shows it going away. */
  readonly drift: readonly string[];
  readonly hostPaths?: HostPaths;
  readonly confirmTimeoutSeconds?: number;
  /** Other tables of this project allowed on the host (true: any). */
  readonly allowOtherTables?: boolean | readonly string[];
  /** Recorded by an apply or refresh: helper modules left loadable for other tables (check() renders with it). */
  readonly keptLoadable?: readonly string[];
  /** Recorded by a refresh; check() renders the sysctl/modprobe preview lines with it. */
  readonly hostProfile?: ProbedProfile;
}

export interface HostTableOutputs extends HostTableInputs {
  readonly hostProfile: ProbedProfile;
  /** sha256 of the applied files (the host's record after an apply; what a refresh read back). */
  readonly appliedHash: string;
  /** Nothing an apply would change differs on the host. */
  readonly inSync: boolean;
  /** One line: "in sync", or what drifted. */
  readonly driftSummary: string;
  readonly warnings: readonly string[];
  /** Helper modules left out of the deny list because other tables on the host need them. */
  readonly keptLoadable: readonly string[];
}

/** Keys of {@link HostTableInputs}: what read() writes back as the stored inputs. */
export const INPUT_KEYS = [
  "table",
  "target",
  "connection",
  "policy",
  "rules",
  "sysctl",
  "modprobe",
  "drift",
  "hostPaths",
  "confirmTimeoutSeconds",
  "allowOtherTables",
  "hostProfile",
  "keptLoadable",
] as const satisfies readonly (keyof HostTableInputs)[];

/** The placeholder the engine passes for values not known yet (during preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}
