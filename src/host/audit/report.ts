/** The audit's three outputs: a readable table per host, JSON, and SARIF 2.1.0 for code-scanning dashboards. */
import type { FleetResult } from "../operations/audit";
import { type Finding, SEVERITIES } from "./findings";

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function formatAuditText(results: readonly FleetResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    if ("error" in r) {
      out.push(`${r.host}: NOT AUDITED: ${errorText(r.error)}`, "");
      continue;
    }
    const f = r.audit.findings;
    const counts = [...SEVERITIES]
      .reverse()
      .map((s) => `${f.filter((x) => x.severity === s).length} ${s}`)
      .join(", ");
    out.push(`${r.host}: kernel ${r.audit.facts.kernel}; ${counts}`);
    if (f.length === 0) out.push("  no findings");
    const width = Math.max(...f.map((x) => x.id.length), 2);
    for (const x of f) {
      out.push(`  ${x.severity.toUpperCase().padEnd(6)} ${x.id.padEnd(width)} ${x.title}`);
      for (const e of x.evidence) out.push(`  ${" ".repeat(7 + width)} evidence: ${e}`);
      out.push(`  ${" ".repeat(7 + width)} do: ${x.remedy}`);
    }
    out.push("");
  }
  return out.join("\n");
}

export function auditJson(results: readonly FleetResult[]): unknown {
  return {
    hosts: results.map((r) =>
      "error" in r
        ? { host: r.host, reachable: false, error: errorText(r.error) }
        : { ...r.audit, host: r.host, reachable: true },
    ),
  };
}

const LEVEL: Record<Finding["severity"], string> = { high: "error", medium: "warning", low: "note", info: "none" };

export function auditSarif(results: readonly FleetResult[], version: string): unknown {
  const findings = results.flatMap((r) => ("audit" in r ? r.audit.findings : []));
  const ids = [...new Set(findings.map((f) => f.id))].sort();
  return {
    version: "2.1.0",
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    runs: [
      {
        tool: {
          driver: {
            name: "hardened-nftables audit",
            version,
            rules: ids.map((id) => {
              const first = findings.find((f) => f.id === id)!;
              return { id, shortDescription: { text: first.title }, help: { text: first.remedy } };
            }),
          },
        },
        results: findings.map((f) => ({
          ruleId: f.id,
          level: LEVEL[f.severity],
          message: {
            text: `${f.host}: ${f.title}\n${f.evidence.map((e) => `evidence: ${e}`).join("\n")}\ndo: ${f.remedy}`,
          },
          properties: { host: f.host, severity: f.severity, evidence: f.evidence },
          locations: [
            f.location
              ? {
                  physicalLocation: {
                    artifactLocation: { uri: `ssh://${f.host}${f.location.file}` },
                    region: { startLine: f.location.line },
                  },
                }
              : { logicalLocations: [{ name: f.host, kind: "host" }] },
          ],
        })),
        invocations: results
          .filter((r) => "error" in r)
          .map((r) => ({
            executionSuccessful: false,
            toolExecutionNotifications: [
              { level: "error", message: { text: `${r.host}: ${errorText((r as { error: unknown }).error)}` } },
            ],
          })),
      },
    ],
  };
}
