/** nft refused the candidate on the target kernel; the host is unchanged. */
export class NftRejectedError extends Error {
  readonly code = "nft-rejected";
  constructor(
    readonly target: string,
    readonly nftMessage: string,
    readonly line?: number,
    readonly lineText?: string,
  ) {
    super(
      `nft on ${target} rejected the table; nothing changed:\n${nftMessage}${line ? `\noffending line ${line}: ${lineText ?? ""}` : ""}`,
    );
    this.name = "NftRejectedError";
  }
}

/** The new ruleset did not let a fresh SSH connection in; the host restored its previous state. */
export class LockoutRolledBackError extends Error {
  readonly code = "rolled-back";
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(`the new ruleset would lock you out of ${target}; rolled back (${reason})`);
    this.name = "LockoutRolledBackError";
  }
}

/**
 * No proof of access could arrive because the host could not be reached at all while it waited
 * for one: a new connection failed AND the session that applied the change went silent (a
 * partition, the host's link down). The ruleset was not judged and nothing says it is wrong; the
 * host restores its previous state by itself (its guardian needs no controller). `hostState` is
 * the guardian's word when the controller could read it afterwards, "" when it could not.
 */
export class LostContactError extends Error {
  readonly code = "lost-contact";
  constructor(
    readonly target: string,
    /** the longest stretch the applying session did not answer, in whole seconds */
    readonly silentSeconds: number,
    readonly hostState: string,
    /** The host's own account (the guardian's record), when it could be read. */
    readonly details: readonly string[],
    /** One sentence: what the host runs now, or will once its window ends. */
    readonly stateText: string,
  ) {
    super(
      [
        `${target}: lost contact with the host while it waited for the proof of access: no answer for ${silentSeconds}s, ` +
          "neither on a new connection nor on the session that applied the change. The new ruleset was not judged (nothing says it locks you out). " +
          stateText,
        ...details.map((d) => `  ${d}`),
        "What to do: restore the network path to the host, then apply again (the next apply starts from what the host runs).",
      ].join("\n"),
    );
    this.name = "LostContactError";
  }
}

/** A host step failed in a way that is neither nft's verdict nor the connection. */
export class HostOperationError extends Error {
  readonly code = "host";
  constructor(
    readonly target: string,
    message: string,
  ) {
    super(`${target}: ${message}`);
    this.name = "HostOperationError";
  }
}

/**
 * A step failed after the host was touched, or the host could not put back exactly what it had:
 * the message says which step, what the host really runs now and what the operator should do,
 * whole (the Pulumi provider shows it as it is). `hostState` is the host's word for that state.
 */
export class HostStepFailedError extends Error {
  readonly code = "step-failed";
  constructor(
    readonly target: string,
    /** What failed, as the operator would say it ("commit (install-table)", "rollback", ...). */
    readonly step: string,
    readonly hostState: string,
    /** The host's own account: the failing command's message, the guardian's record. */
    readonly details: readonly string[],
    /** One sentence: what the host runs now. */
    readonly stateText: string,
    /** One sentence: what to do next. */
    readonly advice: string,
  ) {
    super(
      [`${target}: ${step} failed. ${stateText}`, ...details.map((d) => `  ${d}`), `What to do: ${advice}`].join("\n"),
    );
    this.name = "HostStepFailedError";
  }
}

/** Another table of this project is on the host and the caller did not allow it; nothing changed. */
export class OtherTablesError extends HostOperationError {
  constructor(
    target: string,
    readonly table: string,
    readonly others: readonly { table: string; files: readonly string[] }[],
  ) {
    const names = others.map((o) => `table inet ${o.table} (${o.files.join(", ")})`).join("; ");
    super(
      target,
      `refusing to apply table inet ${table}: this host already has ${names}, managed by hardened-nftables. ` +
        "nftables runs every table's input chain and a drop in any of them is final, so two tables admit only what both admit, " +
        "and each one's modprobe.d deny list refuses the helper modules it does not need. Merge the policies into one table " +
        "(mergePolicies), or allow the other table explicitly (CLI --allow-other-tables; host API allowOtherTables). Nothing was changed.",
    );
    this.name = "OtherTablesError";
  }
}

/** The table's forward drop would cut off the guests of running container or VM runtimes; nothing changed. */
export class GuestsCutOffError extends HostOperationError {
  constructor(
    target: string,
    readonly table: string,
    readonly guests: readonly { name: string; runtime: string; evidence?: string }[],
  ) {
    const list = guests.map((g) => `${g.name} (${g.runtime}${g.evidence ? `: ${g.evidence}` : ""})`).join(", ");
    const names = JSON.stringify([...new Set(guests.map((g) => g.name))]);
    super(
      target,
      `refusing to apply table inet ${table}: this host runs guests on ${list}, and the table's forward chain drops every ` +
        `forwarded packet (a drop in any table is final), which would cut them off. Set forward.guestInterfaces (e.g. ${names}) ` +
        'to keep them working and let the exposures govern their published ports, or forward: { policy: "accept" } to leave ' +
        "forwarding to the runtimes. Nothing was changed.",
    );
    this.name = "GuestsCutOffError";
  }
}
