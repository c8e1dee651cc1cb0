/**
 * The host scripts and the TypeScript share one definition of their status words and exit codes
 * (src/host/scripts/status.env). These tests keep both sides in step with it: what the shell
 * sees when it sources the file, what the scripts use, what the TypeScript reads.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT } from "../../src/cli/exit-codes";
import { EXIT_HELP } from "../../src/cli/host-command";
import { BOOTSTRAP, bundle } from "../../src/host/wire/bundle";
import {
  CAUSE,
  HOST_EXIT,
  parseStatusFile,
  parseVerdict,
  STATUS,
  STATUS_FILE,
  USED_KEYS,
} from "../../src/host/wire/protocol";
import { parseOutput } from "../../src/host/wire/remote";
import { describeHostState } from "../../src/host/wire/verdict";

const SCRIPTS = join(__dirname, "../../src/host/scripts");
const scripts = readdirSync(SCRIPTS)
  .filter((f) => f.endsWith(".sh"))
  .map((f) => ({ name: f, text: readFileSync(join(SCRIPTS, f), "utf8") }));
const defs = parseStatusFile(readFileSync(STATUS_FILE, "utf8"));
/** Script text without comment lines (comments may mention words freely). */
const code = (text: string) =>
  text
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
    .join("\n");

describe("status.env: one definition for the scripts and the TypeScript", () => {
  it("the shell that sources it sees exactly the values the TypeScript parsed", () => {
    const out = execFileSync(
      "sh",
      [
        "-c",
        `set -eu; . "$1"; for k in ${Object.keys(defs).join(" ")}; do eval "printf '%s=%s\\n' \\"\\$k\\" \\"\\$$k\\""; done`,
        "sh",
        STATUS_FILE,
      ],
      {
        encoding: "utf8",
      },
    );
    const shell = Object.fromEntries(
      out
        .trim()
        .split("\n")
        .map((l) => l.split("=") as [string, string]),
    );
    expect(shell).toEqual(defs);
    // parseStatusFile admits KEY=value lines only, so sourcing the file can do nothing else
  });

  it("the TypeScript reads every key of the file, and the file has every key the TypeScript reads", () => {
    expect([...USED_KEYS].sort()).toEqual(Object.keys(defs).sort());
    expect(STATUS.rolledBack).toBe(defs.STATUS_ROLLED_BACK);
    expect(CAUSE.commitFailed).toBe(defs.CAUSE_COMMIT_FAILED);
    expect(HOST_EXIT.failed).toBe(Number(defs.EXIT_FAILED));
    // words are distinct: no verdict can be mistaken for another
    const words = Object.entries(defs)
      .filter(([k]) => k.startsWith("STATUS_"))
      .map(([, v]) => v);
    expect(new Set(words).size).toBe(words.length);
  });

  it("a malformed line or a missing key is refused when read, not misread later", () => {
    expect(() => parseStatusFile("STATUS_X=ok\nSTATUS_Y = spaced\n")).toThrow(/:2: expected KEY=value/);
    expect(() => parseStatusFile("STATUS_X=a\nSTATUS_X=b\n")).toThrow(/defined twice/);
    expect(() => parseStatusFile('STATUS_X="quoted"\n')).toThrow(/expected KEY=value/);
  });

  it("every variable from the file a script uses is defined there, and every key is used by some script", () => {
    const used = new Set<string>();
    for (const s of scripts)
      for (const m of code(s.text).matchAll(/\$\{?((?:STATUS|CAUSE|EXIT)_[A-Z0-9_]+)/g)) used.add(m[1]!);
    const undefinedKeys = [...used].filter((k) => !(k in defs));
    expect(undefinedKeys).toEqual([]);
    // EXIT_NO_TEMP_DIR and EXIT_NO_UNPACK belong to the bootstrap command line (TypeScript side)
    const unused = Object.keys(defs).filter((k) => !used.has(k) && !["EXIT_NO_TEMP_DIR", "EXIT_NO_UNPACK"].includes(k));
    expect(unused).toEqual([]);
  });

  it("no script prints a verdict or exits with a code except through the file's names", () => {
    for (const s of scripts) {
      const text = code(s.text);
      // the one place that prints the prefix is lib.sh's status()
      const prefixes = [...text.matchAll(/hnft-status/g)].length;
      expect(prefixes, s.name).toBe(s.name === "lib.sh" ? 1 : 0);
      // every status call names its word by variable (or relays the guardian's recorded line)
      for (const m of text.matchAll(/(?:^|[;{(&|]\s*|then\s+)status\s+("[^"]*"|\S+)/gm)) {
        expect(m[1], `${s.name}: status ${m[1]}`).toMatch(/^"\$(STATUS_[A-Z_]+|\(cat "\$1\/result"\))"$/);
      }
      // no numeric exit code other than 0 is written out
      expect(text.match(/\bexit\s+[1-9][0-9]*/g) ?? [], s.name).toEqual([]);
      // no literal status word where a verdict is printed or written
      for (const [k, v] of Object.entries(defs)) {
        if (!k.startsWith("STATUS_") && !k.startsWith("CAUSE_")) continue;
        expect(
          text.includes(`status ${v}`) || text.includes(`status "${v}`) || text.includes(`finish "${v}`),
          `${s.name}: literal ${v}`,
        ).toBe(false);
      }
    }
  });

  it("the TypeScript host layer names no status word literally", () => {
    const dir = join(__dirname, "../../src/host");
    const words = Object.entries(defs)
      .filter(([k]) => k.startsWith("STATUS_") || k.startsWith("CAUSE_"))
      .map(([, v]) => v);
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      // an error class's own code ("rolled-back") is a name for callers, not a host verdict
      const text = readFileSync(join(dir, f), "utf8").replace(/readonly code = "[^"]*"/g, "");
      for (const w of words) expect(text.includes(`"${w}"`), `${f}: "${w}"`).toBe(false);
    }
  });

  it("the bootstrap's own exit codes come from the file: a broken bundle ends with EXIT_NO_UNPACK in a real sh", () => {
    const r = spawnSync("sh", ["-c", BOOTSTRAP], { input: "not a tar archive", encoding: "utf8" });
    expect(r.status).toBe(HOST_EXIT.noUnpack);
    expect(BOOTSTRAP).toContain(`exit ${HOST_EXIT.noTempDir}`);
  });

  it("a script refusing a parameter reports the file's word and exit code (real bundle, real sh)", async () => {
    const stdin = await bundle({ main: "confirm", params: { table: "bad;name" } });
    const r = spawnSync("sh", ["-c", BOOTSTRAP], { input: stdin });
    const out = parseOutput(r.status ?? -1, r.stdout.toString(), r.stderr.toString());
    expect(out.code).toBe(HOST_EXIT.badParameter);
    expect(parseVerdict(out.status)).toEqual({ word: STATUS.badParameter, fields: {} });
    expect(out.status).toBe(`${STATUS.badParameter} table`);
  });
});

describe("CLI exit codes", () => {
  it("are distinct, and the help text and docs/cli.md name each one", () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
    const doc = readFileSync(join(__dirname, "../../docs/cli.md"), "utf8");
    const table = doc.slice(doc.indexOf("## Exit codes"), doc.indexOf("\n## ", doc.indexOf("## Exit codes") + 1));
    const documented = [...table.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
    expect(documented.sort((a, b) => a - b)).toEqual([...codes].sort((a, b) => a - b));
    for (const n of codes) {
      expect(EXIT_HELP, `help: ${n}`).toMatch(new RegExp(`(^|[ (,])${n} `));
    }
  });
});

describe("verdicts", () => {
  it("parses the word and its fields, ignoring free text", () => {
    expect(parseVerdict("rolled-back cause=commit-failed step=install-table files=not-restored")).toEqual({
      word: "rolled-back",
      fields: { cause: "commit-failed", step: "install-table", files: "not-restored" },
    });
    expect(parseVerdict("gone (the transaction was removed)")).toEqual({ word: "gone", fields: {} });
    const out = parseOutput(
      0,
      "hnft-detail guardian: loading the backup failed: Error: syntax error\nhnft-status rolled-back-to-persisted\n",
      "",
    );
    expect(out.details).toEqual(["guardian: loading the backup failed: Error: syntax error"]);
  });

  it("every state the guardian can record has its own sentence and advice; an unknown word is said to be unknown", () => {
    const ctx = { table: "web1", nftPath: "/etc/hardened-nftables/web1.nft", confirmTimeout: 30 };
    const states = [
      STATUS.unchanged,
      STATUS.rolledBack,
      STATUS.rolledBackToPersisted,
      STATUS.tableRemoved,
      STATUS.rollbackFailed,
      STATUS.armed,
    ];
    const texts = states.map((s) => describeHostState(s, ctx).stateText);
    expect(new Set(texts).size).toBe(states.length);
    expect(describeHostState(STATUS.rolledBackToPersisted, ctx).stateText).toContain("/etc/hardened-nftables/web1.nft");
    expect(describeHostState(STATUS.tableRemoved, ctx).stateText).toMatch(/NOT filtered by this project/);
    expect(describeHostState(STATUS.rollbackFailed, ctx).advice).toContain("nft delete table inet web1");
    expect(describeHostState("aborted", ctx).stateText).toMatch(/not known/);
  });
});
