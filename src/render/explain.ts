import type { Explanation } from "../plan/plan";

/** The explanation as `render` prints it: per exposure what opens, why, server settings and notes; then warnings. */
export function explanationText(explain: readonly Explanation[], warnings: readonly string[]): string[] {
  const out: string[] = [];
  for (const e of explain) {
    out.push(`${e.exposure} (${e.service}, helper ${e.helper})`);
    for (const o of e.opens) out.push(`  opens: ${o}`);
    out.push(`  why: ${e.why}`);
    for (const s of e.serverSettings) out.push(`  set on the server: ${s}`);
    for (const n of e.notes) out.push(`  note: ${n}`);
  }
  for (const w of warnings) out.push(`warning: ${w}`);
  return out;
}
