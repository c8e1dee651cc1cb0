import type { Connection } from "../../model/connection";
import type { Policy } from "../../model/policy";
import type { Artefacts } from "../../render";
import { managedPaths } from "../../render/paths";
import { renderUnit } from "../../render/systemd";
import { HostOperationError } from "../errors";
import type { HostSession } from "../ssh";
import type { BundleInput } from "../wire/bundle";
import { describeLastTransaction, parseLastTransaction } from "../wire/last-transaction";
import { checkedOptions, type HostOptions, pathParams, sysctlParam } from "../wire/params";
import { type RemoteOutput, runStep } from "../wire/remote";
import { diffTables, tableFromRuleset } from "./drift";
import { type DriftReport, hasRepairableDrift } from "./drift-report";
import { compareObserved } from "./observed";
import { withRenderedPolicy } from "./policy-session";
import { type HostFacts, probedFacts } from "./probe";

/** A table the host found exactly as committed: present, nothing added, removed or changed. */
const AS_APPLIED: ReturnType<typeof diffTables> = {
  livePresent: true,
  rules: { added: [], removed: [], changed: [] },
  chains: [],
  sets: [],
  helpers: [],
};

/** Observes the host (one round trip) with the artefacts rendered for its probed facts, and compares. */
export async function observeOnSession(
  session: HostSession,
  artefacts: Artefacts,
  facts: HostFacts,
  options: HostOptions = {},
): Promise<Omit<DriftReport, "stats">> {
  const out = await runStep(session, observeInput("observe", artefacts, options));
  return observedReport(session, out, artefacts, facts, options);
}

export interface ProbedObservation {
  readonly facts: HostFacts;
  readonly artefacts: Artefacts;
  readonly report: Omit<DriftReport, "stats">;
}

/**
 * Probe and observe in one round trip, for a caller that knows what to expect of the host (a
 * refresh: the profile the last apply or refresh recorded, rendered as `expected`): the host
 * probes, then observes with `expected`. When its facts render something else (`renderFor`: a
 * new kernel, another table's needs), observe runs again with that: a second round trip.
 */
export async function probeAndObserveOnSession(
  session: HostSession,
  expected: Artefacts,
  renderFor: (facts: HostFacts) => Artefacts,
  options: HostOptions = {},
): Promise<ProbedObservation> {
  const out = await runStep(session, observeInput("probe-observe", expected, options));
  if (out.values.probe !== "done")
    throw new HostOperationError(session.target, `probe failed: ${session.redact(out.stderr.trim())}`);
  const facts = probedFacts(session, out);
  const artefacts = renderFor(facts);
  // the hash covers the table and both files (the sysctl settings are the sysctl file's)
  const report =
    artefacts.hash === expected.hash
      ? observedReport(session, out, artefacts, facts, options)
      : await observeOnSession(session, artefacts, facts, options);
  return { facts, artefacts, report };
}

function observeInput(main: "observe" | "probe-observe", artefacts: Artefacts, options: HostOptions): BundleInput {
  const paths = managedPaths(artefacts.table, options.paths);
  return {
    main,
    params: { ...pathParams(artefacts.table, paths), sysctl: sysctlParam(artefacts), hash: artefacts.hash },
    files: { nft: artefacts.nft },
  };
}

/** What observe.sh's sections say, compared with `artefacts`. */
function observedReport(
  session: HostSession,
  out: RemoteOutput,
  artefacts: Artefacts,
  facts: HostFacts,
  options: HostOptions,
): Omit<DriftReport, "stats"> {
  const paths = managedPaths(artefacts.table, options.paths);
  if (out.code !== 0)
    throw new HostOperationError(session.target, `observe failed: ${session.redact(out.stderr.trim())}`);
  const s = out.sections;
  // the host found the table as the last apply of these very artefacts committed it (observe.sh)
  const asApplied = s["table-as-applied"] !== undefined && (s.recorded ?? "").trim() === artefacts.hash;
  if (!asApplied && !s["desired-json"]?.trim())
    throw new HostOperationError(
      session.target,
      "could not load the candidate into a throwaway namespace on the host (unshare -n and nft needed)",
    );
  const table = asApplied
    ? AS_APPLIED
    : diffTables(
        tableFromRuleset(s["desired-json"] ?? "", s["desired-sets-json"] ?? "", artefacts.table),
        s["desired-text"] ?? "",
        tableFromRuleset(s["live-json"] ?? "", s["live-sets-json"] ?? "", artefacts.table),
        s["live-text"] ?? "",
        sameSets(s["sets-same"] ?? ""),
      );

  const unit = facts.init.startsWith("systemd") ? renderUnit(artefacts.table, paths, facts.nftBinary) : undefined;
  const { files, sysctls, loadedDeniedModules } = compareObserved(s, { artefacts, paths, unit });
  const appliedHash = (s.recorded ?? "").trim() || undefined;

  const { livePresent, ...tableParts } = table;
  const found = { tablePresent: livePresent, ...tableParts, files, sysctls, loadedDeniedModules };
  return {
    target: session.target,
    table: artefacts.table,
    inSync: !hasRepairableDrift(found) && loadedDeniedModules.length === 0,
    ...found,
    appliedHash,
    desiredHash: artefacts.hash,
    armed: (s.armed ?? "").trim() === "yes",
    ...lastTransactionOf(s["last-transaction"], artefacts.table, paths.nft),
    facts,
  };
}

/** The sets (not maps: diffTables compares no map's elements) that observe.sh found equal on both sides. */
function sameSets(section: string): Set<string> {
  const names = section.split("\n").flatMap((line) => /^set (\S+)$/.exec(line)?.[1] ?? []);
  return new Set(names);
}

function lastTransactionOf(
  section: string | undefined,
  table: string,
  nftPath: string,
): Pick<DriftReport, "lastTransaction"> {
  const last = parseLastTransaction((section ?? "").split("\n").filter(Boolean));
  return last ? { lastTransaction: describeLastTransaction(last, { table, nftPath, confirmTimeout: 0 }) } : {};
}

export interface ObserveOptions extends HostOptions {
  readonly table?: string;
}

/** Invalid options throw HostOptionsError before any connection. */
export async function observePolicy(
  connection: Connection,
  policy: Policy,
  given: ObserveOptions = {},
): Promise<DriftReport> {
  const options = checkedOptions(given);
  return withRenderedPolicy(connection, policy, options, async (session, artefacts, facts) => {
    const report = await observeOnSession(session, artefacts, facts, options);
    return { ...report, stats: session.stats };
  });
}
