import { formatIssues, type Result } from "../fields/issues";

/**
 * What the renderer needs to know about the target kernel. The probe fills it from the host;
 * `profileForKernel` derives it from a version for `render --kernel`.
 */
export interface HostProfile {
  readonly kernel: string;
  /** /proc/sys/net/netfilter/nf_conntrack_helper exists (Linux 3.5 to 5.19). */
  readonly helperSysctl: boolean;
  /** nf_conntrack's nf_conntrack_helper module parameter exists (Linux 3.5 to 5.19). */
  readonly helperModuleParam: boolean;
}

export function parseKernelVersion(version: string): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(version.trim());
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

export function kernelAtLeast(version: string, major: number, minor: number): boolean {
  const parsed = parseKernelVersion(version);
  if (!parsed) return true;
  return parsed[0] > major || (parsed[0] === major && parsed[1] >= minor);
}

/** The switch exists from 3.5 and was removed in 6.0 (commit b118509076b3). */
export function parseKernelProfile(version: string): Result<HostProfile> {
  if (!parseKernelVersion(version))
    return { ok: false, issues: [{ path: ["kernel"], message: `"${version}" is not a version like 5.10 or 6.1` }] };
  const hasSwitch = kernelAtLeast(version, 3, 5) && !kernelAtLeast(version, 6, 0);
  return { ok: true, value: { kernel: version, helperSysctl: hasSwitch, helperModuleParam: hasSwitch } };
}

/** {@link parseKernelProfile} for callers that want an exception. */
export function profileForKernel(version: string): HostProfile {
  const parsed = parseKernelProfile(version);
  if (!parsed.ok) throw new Error(formatIssues(parsed.issues).join("; "));
  return parsed.value;
}

export const DEFAULT_KERNEL = "6.0";
export const DEFAULT_PROFILE: HostProfile = profileForKernel(DEFAULT_KERNEL);

/** Problems that make a policy unusable on a kernel, before nft is even asked. */
export function kernelProblems(profile: HostProfile, usesHelperObjects: boolean): string[] {
  const problems: string[] = [];
  if (!kernelAtLeast(profile.kernel, 3, 13))
    problems.push(`kernel ${profile.kernel} has no nftables (needs 3.13 or later)`);
  else if (usesHelperObjects && !kernelAtLeast(profile.kernel, 4, 13)) {
    problems.push(`kernel ${profile.kernel} cannot hold ct helper objects (needs 4.13 or later); use helper "none"`);
  }
  return problems;
}
