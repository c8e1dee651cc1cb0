import type { Connection } from "../../model/connection";
import type { Policy } from "../../model/policy";
import type { Artefacts } from "../../render";
import { managedPaths } from "../../render/paths";
import { renderUnit } from "../../render/systemd";
import { HostOperationError } from "../errors";
import type { HostSession } from "../ssh";
import { describeLastTransaction, parseLastTransaction } from "../wire/last-transaction";
import { checkedOptions, type HostOptions, pathParams, sysctlParam } from "../wire/params";
import { runStep } from "../wire/remote";
import { diffTables, tableFromRuleset } from "./drift";
import { type DriftReport, hasRepairableDrift } from "./drift-report";
import { compareObserved } from "./observed";
import { withRenderedPolicy } from "./policy-session";
import type { HostFacts } from "./probe";

/** A table the host found exactly as committed: present, nothing added, removed or changed. */
const AS_APPLIED: ReturnType<typeof diffTables> = {
  livePresent: true,
  rules: { added: [], removed: [], changed: [] },
  chains: [],
  sets: [],
  helpers: [],
};

/** Reads the host once (probe and observe: two round trips on one connection) and compares. */
export async function observeOnSession(
  session: HostSession,
  artefacts: Artefacts,
  facts: HostFacts,
  options: HostOptions = {},
): Promise<Omit<DriftReport, "stats">> {
  const paths = managedPaths(artefacts.table, options.paths);
  const out = await runStep(session, {
    main: "observe",
    params: { ...pathParams(artefacts.table, paths), sysctl: sysctlParam(artefacts), hash: artefacts.hash },
    files: { nft: artefacts.nft },
  });
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
