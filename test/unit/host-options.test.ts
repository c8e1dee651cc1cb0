/**
 * One schema for the host options (src/model/host-options.ts): the CLI's flags, the provider's
 * check and the host API's entry points report the same issue for the same value, each naming
 * the field its own way. Nothing here connects: every refusal comes before any connection.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { hostOptionsFromFlags } from "../../src/cli/host-command";
import { main } from "../../src/cli/main";
import { formatIssue, type Issue } from "../../src/fields/issues";
import { applyPolicy, observePolicy, removeTable } from "../../src/host";
import { parseConnection } from "../../src/model/connection";
import { HostOptionsError, parseHostOptions } from "../../src/model/host-options";
import { assertPolicy } from "../../src/model/validate";
import { check } from "../../src/pulumi/provider-impl";
import { TEST_HOST_KEY } from "../support/keys";

const TIMEOUT = "must be a whole number of seconds between 5 and 600";
const ROOT = "must be an absolute path of letters, digits and . _ - /";
const KEYWORD = "is an nft keyword; choose another table name";

interface Case {
  readonly name: string;
  /** The options as the provider and the schema take them. */
  readonly options: Record<string, unknown>;
  /** The same value as CLI flags (undefined: no flag sets it). */
  readonly flags?: Record<string, string | boolean>;
  /** The issue every front end reports, at the schema's path. */
  readonly issue: Issue;
  /** The flag the CLI names instead of the path. */
  readonly flag?: string;
}

const CASES: Case[] = [
  {
    name: "a timeout below the bound",
    options: { confirmTimeoutSeconds: 4 },
    flags: { "confirm-timeout": "4" },
    issue: { path: ["confirmTimeoutSeconds"], message: TIMEOUT },
    flag: "--confirm-timeout",
  },
  {
    name: "a timeout above the bound",
    options: { confirmTimeoutSeconds: 601 },
    flags: { "confirm-timeout": "601" },
    issue: { path: ["confirmTimeoutSeconds"], message: TIMEOUT },
    flag: "--confirm-timeout",
  },
  {
    name: "a timeout that is no number",
    options: { confirmTimeoutSeconds: "soon" },
    flags: { "confirm-timeout": "soon" },
    issue: { path: ["confirmTimeoutSeconds"], message: TIMEOUT },
    flag: "--confirm-timeout",
  },
  {
    name: "a relative state root",
    options: { hostPaths: { stateRoot: "relative/path" } },
    flags: { "state-root": "relative/path" },
    issue: { path: ["hostPaths", "stateRoot"], message: ROOT },
    flag: "--state-root",
  },
  {
    name: "a run root with ..",
    options: { hostPaths: { runRoot: "/run/../etc" } },
    flags: { "run-root": "/run/../etc" },
    issue: { path: ["hostPaths", "runRoot"], message: 'must not contain ".."' },
    flag: "--run-root",
  },
  {
    name: "a table named like an nft keyword",
    options: { table: "add" },
    flags: { table: "add" },
    issue: { path: ["table"], message: KEYWORD },
    flag: "--table",
  },
  {
    name: "another table that cannot be a table",
    options: { allowOtherTables: ["base", "ip"] },
    issue: { path: ["allowOtherTables", 1], message: KEYWORD },
  },
  {
    name: "another table option of the wrong type",
    options: { allowOtherTables: "yes" },
    issue: { path: ["allowOtherTables"], message: "expected true, false or a list of table names" },
  },
];

const connection = () => {
  const parsed = parseConnection({ host: "192.0.2.1", password: "not-used", hostKey: TEST_HOST_KEY });
  if (!parsed.ok) throw new Error("test connection invalid");
  return parsed.value;
};
const policy = { exposures: [{ service: "ssh" }] };

describe("the host options schema", () => {
  it.each(CASES)("$name: the schema's issue", ({ options, issue }) => {
    const parsed = parseHostOptions(options);
    expect(parsed.ok ? [] : parsed.issues).toEqual([issue]);
  });

  it("accepts the bounds and normalizes a root's trailing slash", () => {
    for (const confirmTimeoutSeconds of [5, 30, 600]) expect(parseHostOptions({ confirmTimeoutSeconds }).ok).toBe(true);
    expect(parseHostOptions({ hostPaths: { stateRoot: "/srv/state/" } })).toEqual({
      ok: true,
      value: { hostPaths: { stateRoot: "/srv/state" } },
    });
    expect(parseHostOptions({ allowOtherTables: ["base"] }).ok).toBe(true);
  });
});

describe("every front end reports the schema's issue", () => {
  it.each(CASES)("provider check, $name", async ({ options, issue }) => {
    const news = {
      table: "web",
      connection: { host: "198.51.100.7", password: "pw-pw-pw", hostKey: TEST_HOST_KEY },
      policy,
      ...options,
    };
    const { failures = [] } = await check(undefined, news);
    // the table is checked with the policy it names
    const property = issue.path[0] === "table" ? "policy" : String(issue.path[0]);
    expect(failures).toEqual([{ property, reason: formatIssue(issue) }]);
  });

  it.each(CASES.filter((c) => c.flags))("CLI flags, $name", ({ flags, issue, flag }) => {
    const parsed = hostOptionsFromFlags(flags!);
    expect(parsed.ok ? [] : parsed.issues).toEqual([{ path: [flag], message: issue.message }]);
  });

  it.each(CASES)("host API, $name", async ({ options, issue }) => {
    const { hostPaths, table, ...rest } = options as { hostPaths?: object; table?: string };
    const apiOptions = { ...rest, ...(hostPaths ? { paths: hostPaths } : {}), ...(table ? { table } : {}) } as never;
    // the API names the schema's hostPaths `paths`
    const apiIssue = issue.path[0] === "hostPaths" ? { ...issue, path: ["paths", ...issue.path.slice(1)] } : issue;
    for (const operation of [
      () => applyPolicy(connection(), assertPolicy(policy), apiOptions),
      () => observePolicy(connection(), assertPolicy(policy), apiOptions),
    ]) {
      const err = await operation().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HostOptionsError);
      expect((err as HostOptionsError).issues).toEqual([apiIssue]);
    }
    if (table !== undefined) {
      const err = await removeTable(connection(), table, apiOptions).catch((e: unknown) => e);
      expect((err as HostOptionsError).issues).toEqual([apiIssue]);
    }
  });

  it("render checks --table like the host commands", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-host-options-"));
    try {
      const file = path.join(dir, "policy.json");
      fs.writeFileSync(file, JSON.stringify(policy));
      let err = "";
      const code = await main(["render", "--policy", file, "--table", "add"], {
        out: () => undefined,
        err: (t) => void (err += t),
      });
      expect(code).toBe(2);
      expect(err).toBe(`invalid arguments:\n  --table: ${KEYWORD}\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the CLI prints the issue under the flag and exits 2 before connecting", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-host-options-"));
    try {
      const file = path.join(dir, "policy.json");
      fs.writeFileSync(file, JSON.stringify(policy));
      let err = "";
      const code = await main(
        [
          "apply",
          "--policy",
          file,
          "--host",
          "192.0.2.1",
          "--host-key",
          TEST_HOST_KEY,
          "--password-env",
          "HNFT_TEST_PW",
          "--confirm-timeout",
          "4",
        ],
        { out: () => undefined, err: (t) => void (err += t) },
      );
      expect(code).toBe(2);
      expect(err).toContain(`--confirm-timeout: ${TIMEOUT}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
