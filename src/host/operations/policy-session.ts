import type { Connection } from "../../model/connection";
import type { Policy } from "../../model/policy";
import { DEFAULT_TABLE } from "../../plan/plan";
import { type Artefacts, renderPolicy } from "../../render";
import { HostSession } from "../ssh";
import { modulesOtherTablesNeed } from "./coexist";
import { type HostFacts, probeSession } from "./probe";

export interface PolicySessionOptions {
  readonly table?: string;
  readonly onLog?: (line: string) => void;
}

/**
 * The common start of every policy operation (the policy was validated at the edge): open one session,
 * probe, and render with the host's own kernel profile, leaving loadable the helper modules other
 * tables of this project on the host need. The session is always closed.
 */
export async function withRenderedPolicy<T>(
  connection: Connection,
  policy: Policy,
  options: PolicySessionOptions,
  operate: (session: HostSession, artefacts: Artefacts, facts: HostFacts) => Promise<T>,
): Promise<T> {
  const session = await HostSession.open(connection, { onLog: options.onLog });
  try {
    const facts = await probeSession(session);
    const table = policy.table ?? options.table ?? DEFAULT_TABLE;
    const artefacts = renderPolicy(policy, {
      profile: facts.profile,
      table: options.table,
      keepLoadable: modulesOtherTablesNeed(facts, table),
    });
    return await operate(session, artefacts, facts);
  } finally {
    await session.close();
  }
}
