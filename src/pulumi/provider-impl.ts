/**
 * HostTable's provider methods, on plain values (plugin.ts unwraps and re-marks secrets):
 *
 * - check: validates the policy and the connection (one failure per `path: problem` line), and
 *   renders the rule lines and the sysctl.d/modprobe.d lines shown by `pulumi preview --diff`.
 * - diff: host or port changed -> replace (delete first: it may be the same machine under another
 *   address); table renamed -> replace; rule lines, files, connection or a drift recorded
 *   by the last refresh -> update.
 * - create/update: the safe apply of the host layer (probe, render with the host's own kernel
 *   profile, nft check on the host, on-host rollback unless a NEW connection confirms, persist).
 * - read: observe; returns the live rule lines and files as the new inputs (ReadResult.inputs) so
 *   the next preview shows drift and wants an update that removes it.
 * - delete: removes the table, its files and its state.
 *
 * Every error leaving this module is passed through redact() with the resource's connection:
 * no password, private key or passphrase can appear in what the engine prints.
 *
 * Free of the @pulumi/pulumi runtime: the unit tests call it directly.
 */
import type {
  CheckFailure,
  CheckResult,
  CreateResult,
  DiffResult,
  ReadResult,
  UpdateResult,
} from "@pulumi/pulumi/provider";
import { formatIssues } from "../fields/issues";
import { GuestsCutOffError } from "../host/errors";
import { applyOnSession } from "../host/operations/apply";
import { modulesOtherTablesNeed } from "../host/operations/coexist";
import { formatDrift, hasRepairableDrift, summarizeDrift } from "../host/operations/drift-report";
import { guestsCutOff } from "../host/operations/guests";
import { probeAndObserveOnSession } from "../host/operations/observe";
import { type HostFacts, probeSession } from "../host/operations/probe";
import { removeOnSession } from "../host/operations/remove";
import { ConnectionError, type HostSession } from "../host/ssh";
import { type Connection, parseConnection, redact } from "../model/connection";
import { parseHostOptions, type ValidHostOptions } from "../model/host-options";
import type { Policy } from "../model/policy";
import { type Artefacts, DEFAULT_PROFILE, type HostProfile, renderPolicy } from "../render";
import { ruleLineGroup, setElementOf } from "../render/rule-lines";
import { DIFF_KIND, detailedDiff, type PropertyDiff } from "./detailed-diff";
import { importedInputs, tableId } from "./import-id";
import { foldedElements, type LineMap, toLineMap } from "./line-map";
import { contentLines, liveFileLines, liveRuleLines } from "./live";
import { describeTarget, machineOf } from "./names";
import { memoRender, parsedPolicyInput, policyKey, stableJson } from "./render-memo";
import { acquire, type Lease, onLease, withPooledSession } from "./sessions";
import {
  containsUnknown,
  HostArgsFields,
  type HostPaths,
  type HostTableOutputs,
  INPUT_KEYS,
  type ProbedProfile,
  RECORDED_INPUTS,
} from "./types";

type Props = Record<string, unknown>;

/**
 * Inputs check() derives or carries over from the last apply or refresh (types.ts RECORDED_INPUTS),
 * never taken from the caller; `version` and `__provider` are what the dynamic provider of releases
 * up to 0.1.x stored, dropped when such a stack moves to the plugin.
 */
const DERIVED_KEYS = [...RECORDED_INPUTS, "version", "__provider"] as const;

// ---------------------------------------------------------------- helpers

/** Rethrow `err` with every secret of `connection` redacted (message and stack). */
function sanitized(err: unknown, connection: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const out = new Error(redact(e.message, connection));
  out.name = e.name;
  const code = (e as { code?: unknown }).code;
  if (code !== undefined) (out as { code?: unknown }).code = code;
  out.stack = `${out.name}: ${out.message}`;
  return out;
}

async function guarded<T>(connection: unknown, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw sanitized(err, connection);
  }
}

function connectionOf(props: Props): Connection {
  const parsed = parseConnection(props.connection);
  if (!parsed.ok) throw new Error(`invalid connection:\n  ${formatIssues(parsed.issues).join("\n  ")}`);
  return parsed.value;
}

/** The policy of `props` (news or state), parsed once per policy and table (render-memo.ts). */
function parsedPolicy(props: Props) {
  return parsedPolicyInput(props.policy, props.table);
}

function policyOf(props: Props): Policy {
  const parsed = parsedPolicy(props);
  if (!parsed.ok) throw new Error(`invalid policy:\n  ${formatIssues(parsed.issues).join("\n  ")}`);
  return parsed.value;
}

/** What `policy` (the policy of `props`) renders for `profile`, once per policy and kind of host. */
function renderedFor(props: Props, policy: Policy, profile: HostProfile, keepLoadable: readonly string[]): Artefacts {
  return memoRender(policyKey(props.policy, props.table), profile, keepLoadable, () =>
    renderPolicy(policy, { profile, table: policy.table, keepLoadable: [...keepLoadable] }),
  );
}

/**
 * What `policy` (the policy of `props`) renders for the host `recorded` (a stored state, or
 * check's inputs) says it is: the profile the last apply or refresh probed, and the modules it left
 * loadable for other tables. Check, diff and a refresh's first guess all render this.
 */
function renderedAsRecorded(props: Props, policy: Policy, recorded: Props): Artefacts {
  const kept = Array.isArray(recorded.keptLoadable) ? (recorded.keptLoadable as string[]) : [];
  return renderedFor(props, policy, renderProfile(recorded.hostProfile), kept);
}

function renderProfile(recorded: unknown): HostProfile {
  const p = recorded as Partial<ProbedProfile> | undefined;
  if (
    p &&
    typeof p.kernel === "string" &&
    typeof p.helperSysctl === "boolean" &&
    typeof p.helperModuleParam === "boolean"
  ) {
    return { kernel: p.kernel, helperSysctl: p.helperSysctl, helperModuleParam: p.helperModuleParam };
  }
  return DEFAULT_PROFILE;
}

function probedProfile(facts: HostFacts): ProbedProfile {
  return {
    kernel: facts.profile.kernel,
    kernelRelease: facts.kernel,
    nftVersion: facts.nftVersion,
    helperSysctl: facts.profile.helperSysctl,
    helperModuleParam: facts.profile.helperModuleParam,
  };
}

/** The host options of checked inputs (the shared schema; check() refused anything else). */
function validHostOptions(props: Props): ValidHostOptions {
  const parsed = parseHostOptions(hostOptionInputs(props));
  if (!parsed.ok) throw new Error(`invalid host options:\n  ${formatIssues(parsed.issues).join("\n  ")}`);
  return parsed.value;
}

/** The inputs the shared host options schema reads (the table is the policy's, checked with it). */
const hostOptionInputs = (props: Props) => ({
  hostPaths: props.hostPaths,
  confirmTimeoutSeconds: props.confirmTimeoutSeconds,
  allowOtherTables: props.allowOtherTables,
});

function hostOptions(props: Props): {
  paths?: HostPaths;
  confirmTimeoutSeconds?: number;
  allowOtherTables?: boolean | readonly string[];
} {
  const { hostPaths: paths, confirmTimeoutSeconds, allowOtherTables } = validHostOptions(props);
  return {
    ...(paths && (paths.stateRoot || paths.runRoot) ? { paths } : {}),
    ...(confirmTimeoutSeconds !== undefined ? { confirmTimeoutSeconds } : {}),
    ...(allowOtherTables !== undefined ? { allowOtherTables } : {}),
  };
}

/** Modules other tables on the host need stay loadable, where those tables are allowed at all. */
function keepLoadableFor(props: Props, facts: HostFacts, table: string): string[] {
  const allow = validHostOptions(props).allowOtherTables;
  if (allow === undefined || allow === false) return [];
  return modulesOtherTablesNeed(
    {
      managedTables: facts.managedTables.filter(
        (t) => allow === true || (Array.isArray(allow) && allow.includes(t.table)),
      ),
    },
    table,
  );
}

function pickInputs(props: Props): Props {
  const out: Props = {};
  for (const key of INPUT_KEYS) if (props[key] !== undefined) out[key] = props[key];
  return out;
}

/** Equal as the engine sees values: objects come back from the state with their keys in another order. */

/**
 * A session that has just answered a probe. A reused session that fails is replaced by a fresh
 * one (the probe only reads, so running it again is harmless).
 */
async function probedLease(connection: Connection): Promise<{ lease: Lease; facts: HostFacts }> {
  for (;;) {
    const lease = await acquire(connection);
    try {
      return { lease, facts: await probeSession(lease.session) };
    } catch (err) {
      if (err instanceof ConnectionError) lease.discard();
      lease.release();
      if (!(err instanceof ConnectionError) || !lease.reused) throw err;
    }
  }
}

/** Probe, render the policy for this host's kernel, and run `step` on the same pooled session. */
async function onProbedHost<T>(
  props: Props,
  step: (session: HostSession, artefacts: Artefacts, facts: HostFacts) => Promise<T>,
): Promise<T> {
  const connection = connectionOf(props);
  const policy = policyOf(props);
  const { lease, facts } = await probedLease(connection);
  const keepLoadable = keepLoadableFor(props, facts, props.table as string);
  return onLease(lease, (session) => step(session, renderedFor(props, policy, facts.profile, keepLoadable), facts));
}

/**
 * The host probed and observed for a refresh, in one round trip where the host is as the state
 * recorded it (its profile, and what other tables kept loadable): the step probes, then observes
 * with what that renders; a host found otherwise is observed again (observe.ts). Read-only, so a
 * reused session that fails is retried on a fresh one.
 */
async function observedHost(props: Props) {
  const policy = policyOf(props);
  const expected = renderedAsRecorded(props, policy, props);
  const renderFor = (facts: HostFacts) =>
    renderedFor(props, policy, facts.profile, keepLoadableFor(props, facts, props.table as string));
  return withPooledSession(
    connectionOf(props),
    async (session) => {
      const observed = await probeAndObserveOnSession(session, expected, renderFor, hostOptions(props));
      return { ...observed, report: { ...observed.report, stats: session.stats } };
    },
    { retryable: true },
  );
}

/**
 * The outputs the state keeps: every stored input but the rule lines, which the stored inputs hold
 * (a set of 100,000 prefixes once, not twice); diff() reads them from the old inputs, and a
 * refresh changes only the inputs' copy, so the engine's refresh display never prints the set.
 */
export type StoredOutputs = Omit<HostTableOutputs, "rules">;

function withoutRules<T extends Props>(props: T): Omit<T, "rules"> {
  const { rules: _rules, ...rest } = props;
  return rest;
}

function applyOutputs(
  inputs: Props,
  artefacts: Artefacts,
  facts: HostFacts,
  warnings: readonly string[],
): StoredOutputs {
  const lines = engineLines([], contentLines(artefacts.sysctl), contentLines(artefacts.modprobe));
  return {
    ...(withoutRules(pickInputs(inputs)) as unknown as StoredOutputs),
    sysctl: lines.sysctl,
    modprobe: lines.modprobe,
    drift: [],
    hostProfile: probedProfile(facts),
    appliedHash: artefacts.hash,
    inSync: true,
    driftSummary: `${describeTarget(inputs.connection as object)}: table inet ${artefacts.table} in sync`,
    warnings: [...warnings],
    keptLoadable: [...keptLoadable(artefacts)],
  };
}

/** What the artefacts left out of the deny list for other tables (recorded, so diff renders the same). */
const keptLoadable = (artefacts: Artefacts): readonly string[] => artefacts.keptLoadable;

/** Rule lines and file lines as the resource stores them: LineMaps, which the engine diffs line by line. */
function engineLines(ruleLines: readonly string[], sysctlLines: readonly string[], modprobeLines: readonly string[]) {
  return {
    rules: toLineMap(ruleLines, ruleLineGroup, setElementOf),
    sysctl: toLineMap(sysctlLines),
    modprobe: toLineMap(modprobeLines),
  };
}

/** What an import reads the host with: the id's table and address, the connection checked like any input. */
async function imported(id: string): Promise<Props> {
  const inputs = importedInputs(id);
  const { inputs: checked, failures = [] } = await check(undefined, inputs);
  if (failures.length > 0)
    throw new Error(`import ${id}: invalid connection:\n  ${failures.map((f) => f.reason).join("\n  ")}`);
  return checked as Props;
}

// ---------------------------------------------------------------- provider methods

export async function check(olds: Props | undefined, news: Props): Promise<CheckResult> {
  const failures: CheckFailure[] = [];
  const inputs: Props = { ...news };
  // what the program cannot set: rendered below, or recorded by the last apply or refresh
  for (const key of DERIVED_KEYS) delete inputs[key];
  inputs.drift = [];
  const recorded = olds?.hostProfile;
  if (recorded && !containsUnknown(recorded) && renderProfile(recorded) !== DEFAULT_PROFILE)
    inputs.hostProfile = recorded;
  // what the last apply or refresh left loadable for other tables: the preview renders the same
  const kept = olds?.keptLoadable;
  if (Array.isArray(kept) && kept.length > 0 && news.allowOtherTables !== undefined) inputs.keptLoadable = kept;

  if (!containsUnknown(news.policy) && !containsUnknown(news.table)) {
    const parsed = parsedPolicy(news);
    if (!parsed.ok) {
      for (const reason of formatIssues(parsed.issues)) failures.push({ property: "policy", reason });
    } else {
      try {
        const artefacts = renderedAsRecorded(news, parsed.value, inputs);
        Object.assign(
          inputs,
          engineLines(artefacts.ruleLines, contentLines(artefacts.sysctl), contentLines(artefacts.modprobe)),
        );
      } catch (err) {
        failures.push({ property: "policy", reason: (err as Error).message });
      }
    }
  }
  if (!containsUnknown(news.connection)) {
    const parsed = parseConnection(news.connection);
    if (!parsed.ok) for (const reason of formatIssues(parsed.issues)) failures.push({ property: "connection", reason });
    else inputs.target = describeTarget(parsed.value);
  }
  // each option left alone while unknown (preview), like the policy and the connection above
  const options = Object.fromEntries(
    Object.entries(hostOptionInputs(news)).filter(([, v]) => v !== undefined && !containsUnknown(v)),
  );
  const parsedOptions = parseHostOptions(options);
  if (!parsedOptions.ok) {
    for (const issue of parsedOptions.issues)
      failures.push({ property: String(issue.path[0]), reason: formatIssues([issue])[0]! });
  }
  // Reasons never carry secrets (parseConnection redacts), but make sure.
  return {
    inputs,
    failures: failures.map((f) => ({ property: f.property, reason: redact(f.reason, news.connection) })),
  };
}

/**
 * How long check waits for the read-only probe of the guests check: an unreachable host then
 * costs a preview this long, not the connection's whole dial budget (dialErrorLimit x
 * perDialTimeout); the dial carries on in the background and pools its session if it succeeds.
 */
export const GUESTS_PROBE_BUDGET_MS = 20_000;

/**
 * What the guests check needs when the policy could cut running guests off (the forward chain
 * drops and declares no guestInterfaces, and forward.policy is not accept), the policy, the
 * table and the connection all known and valid; otherwise nothing to check.
 */
export function guestsCheckTarget(
  inputs: Props,
): { readonly connection: Connection; readonly artefacts: Artefacts; readonly table: string } | undefined {
  if (containsUnknown(inputs.policy) || containsUnknown(inputs.table) || containsUnknown(inputs.connection)) return;
  const policy = parsedPolicy(inputs);
  const connection = parseConnection(inputs.connection);
  if (!policy.ok || !connection.ok) return;
  let artefacts: Artefacts;
  try {
    artefacts = renderedFor(inputs, policy.value, DEFAULT_PROFILE, []);
  } catch {
    return;
  }
  const drop = artefacts.names.forwardDrop;
  if (!drop || drop.guestInterfaces) return;
  return { connection: connection.value, artefacts, table: artefacts.table };
}

/** The resource's own arguments (host options and the policy) equal in both, key order ignored. */
function sameArguments(olds: Props, news: Props): boolean {
  return [...Object.keys(HostArgsFields), "policy"].every((k) => stableJson(olds[k]) === stableJson(news[k]));
}

/**
 * The guests-cut-off refusal of apply, at check time. Why Check: the engine's step generator
 * (pulumi/pulumi pkg/resource/deploy/step_generator.go) calls Check for every resource it
 * registers, a first create (no olds) and an update alike, in `pulumi preview`, `preview --diff`
 * and up's own preview, before anything else; Diff is called only for a resource that exists
 * already, and Create/Update with preview only for a provider that declares preview support. A
 * failure of Check fails the preview, before any step runs. Only when
 * guestsCheckTarget says the policy could cut guests off, a read-only probe of the host's
 * interfaces on the pooled session (sessions.ts): up's create or update then reuses it.
 *
 * A host that cannot be probed now (unreachable, refused, slower than GUESTS_PROBE_BUDGET_MS) does
 * not fail the check: `skipped` says why, and apply still refuses at up.
 *
 * Arguments the stored inputs already hold (a no-op `up`, a drift check) are not probed again:
 * nothing new is applied from them, so nothing new can cut guests off, and a no-op command keeps
 * costing the hosts no connection (issue #24). A repair of drift re-applies them, and apply's own
 * check still refuses then.
 */
export async function guestsCheck(
  inputs: Props,
  olds?: Props,
): Promise<{ readonly failures: CheckFailure[]; readonly skipped?: string }> {
  if (olds && sameArguments(olds, inputs)) return { failures: [] };
  const target = guestsCheckTarget(inputs);
  if (!target) return { failures: [] };
  const probing = withPooledSession(target.connection, (session) => probeSession(session), { retryable: true });
  probing.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), GUESTS_PROBE_BUDGET_MS);
    timer.unref();
  });
  let facts: HostFacts | "late";
  try {
    facts = await Promise.race([probing, budget]);
  } catch (err) {
    return {
      failures: [],
      skipped: redact(
        `the host could not be probed for running guests at preview (${(err as Error).message}); up checks again before it changes anything`,
        inputs.connection,
      ),
    };
  } finally {
    clearTimeout(timer);
  }
  if (facts === "late")
    return {
      failures: [],
      skipped: `the host did not answer the probe for running guests within ${GUESTS_PROBE_BUDGET_MS / 1000} s at preview; up checks again before it changes anything`,
    };
  const cut = guestsCutOff(target.artefacts, facts);
  if (cut.length === 0) return { failures: [] };
  const refusal = new GuestsCutOffError(describeTarget(target.connection), target.table, cut);
  return { failures: [{ property: "policy", reason: redact(refusal.message, inputs.connection) }] };
}

/** DiffResult plus the detailed diff the plugin's server sends (detailed-diff-server.ts). */
export type HostTableDiff = DiffResult & { readonly detailedDiff?: Record<string, PropertyDiff> };

/**
 * `olds` are the stored outputs; `oldInputs` the stored inputs (DiffRequest.old_inputs), where the
 * rule lines are kept (outputs of releases before 0.3.0 hold them too: used when present).
 */
export async function diff(_id: string, storedOutputs: Props, news: Props, oldInputs?: Props): Promise<HostTableDiff> {
  const storedRules = (storedOutputs.rules ?? oldInputs?.rules) as LineMap | undefined;
  const olds: Props =
    storedRules === undefined
      ? storedOutputs
      : { ...storedOutputs, rules: foldedElements(storedRules, ruleLineGroup, setElementOf) };
  const oldConn = (olds.connection ?? {}) as Record<string, unknown>;
  const newConn = news.connection as Record<string, unknown> | string | undefined;
  const replaces: string[] = [];
  let deleteBeforeReplace = false;

  const newMachineUnknown =
    containsUnknown(newConn) ||
    (typeof newConn === "object" && (containsUnknown(newConn.host) || containsUnknown(newConn.port)));
  if (newMachineUnknown || (typeof newConn === "object" && machineOf(oldConn) !== machineOf(newConn))) {
    replaces.push("connection", "target");
    deleteBeforeReplace = true;
  }
  if (containsUnknown(news.table) || olds.table !== news.table) {
    // two tables of this project on one host are refused: the old one goes first
    replaces.push("table");
    deleteBeforeReplace = true;
  }
  if (containsUnknown(news)) return { changes: true, replaces, deleteBeforeReplace };

  // The files depend on the kernel: compare what the policy renders for the host's recorded profile.
  const artefacts = renderedAsRecorded(news, policyOf(news), olds);
  const files = engineLines([], contentLines(artefacts.sysctl), contentLines(artefacts.modprobe));
  const detailed = detailedDiff(olds, news, { sysctl: files.sysctl, modprobe: files.modprobe }, replaces);
  // drift the refresh found that no line shows (a refused module loaded, a live sysctl value)
  if (olds.inSync === false && Object.keys(detailed).length === 0)
    detailed.inSync = { kind: DIFF_KIND.update, inputDiff: false };
  return { changes: Object.keys(detailed).length > 0, replaces, deleteBeforeReplace, detailedDiff: detailed };
}

/**
 * What the plugin shows the operator beside a step's result (engine-log.ts): the outcome of an
 * earlier apply that no controller read (its run was killed or lost the host), redacted.
 */
export interface Notices {
  readonly notices?: readonly string[];
}

async function apply(inputs: Props): Promise<{ outs: StoredOutputs } & Notices> {
  const connection = connectionOf(inputs);
  return onProbedHost(inputs, async (session, artefacts, facts) => {
    const result = await applyOnSession(session, connection, artefacts, facts, hostOptions(inputs));
    return {
      outs: applyOutputs(inputs, artefacts, facts, result.warnings),
      ...noticesOf(result.lastTransaction, connection),
    };
  });
}

function noticesOf(lastTransaction: string | undefined, connection: unknown): Notices {
  return lastTransaction ? { notices: [redact(lastTransaction, connection)] } : {};
}

export function create(inputs: Props): Promise<CreateResult & Notices> {
  return guarded(inputs.connection, async () => {
    const { outs, notices } = await apply(inputs);
    return { id: tableId(inputs.connection as object, outs.table), outs, ...(notices ? { notices } : {}) };
  });
}

export function update(_id: string, _olds: Props, news: Props): Promise<UpdateResult & Notices> {
  return guarded(news.connection, async () => apply(news));
}

/** Refresh: `props` is the stored state. Import: nothing but the id (import-id.ts). */
export async function read(id: string, stored: Props): Promise<ReadResult & Notices> {
  // an import's own errors name the id and the environment variable, never a value from it
  const props = stored.connection === undefined ? await imported(id) : stored;
  return guarded(props.connection, async () => {
    const { report, artefacts, facts } = await observedHost(props);
    const fileDrift = (name: string) => report.files.find((f) => f.name === name);
    const live: Props = {
      ...props,
      ...engineLines(
        liveRuleLines(artefacts.ruleLines, report),
        liveFileLines(contentLines(artefacts.sysctl), fileDrift("sysctl")),
        liveFileLines(contentLines(artefacts.modprobe), fileDrift("modprobe")),
      ),
      drift: report.inSync ? [] : formatDrift(report),
      hostProfile: probedProfile(facts),
      appliedHash: report.appliedHash ?? "",
      inSync: !hasRepairableDrift(report),
      driftSummary: summarizeDrift(report),
      warnings: (props.warnings as string[] | undefined) ?? [],
      keptLoadable: [...keptLoadable(artefacts)],
    };
    // what the dynamic provider of releases up to 0.1.x stored goes with the first refresh
    delete live.__provider;
    delete live.version;
    return {
      id,
      props: withoutRules(live),
      inputs: pickInputs(live),
      ...noticesOf(report.lastTransaction, props.connection),
    };
  });
}

export function delete_(_id: string, props: Props): Promise<void> {
  return guarded(props.connection, async () => {
    const connection = connectionOf(props);
    await withPooledSession(
      connection,
      (session: HostSession) => removeOnSession(session, props.table as string, hostOptions(props)),
      {
        retryable: true,
      },
    );
  });
}

export { closeAllSessions } from "./sessions";
export { delete_ as delete };
