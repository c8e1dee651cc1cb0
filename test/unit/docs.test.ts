/**
 * The README and docs/ cannot rot: every command, policy, program and link in them is checked
 * against the code it names (test/support/docs-check.ts says how each kind is checked). The
 * negative controls show each check catches what it is for.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  anchors,
  type Block,
  checkMarkdown,
  checkWrapper,
  docFiles,
  fencedBlocks,
  type Problem,
  REPO,
  shellCommands,
  typecheckBlocks,
  wrapperGrammar,
} from "../support/docs-check";

const show = (problems: readonly Problem[]) => problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join("\n");
const text = (file: string) => fs.readFileSync(path.join(REPO, file), "utf8");

describe("the documentation", () => {
  const files = docFiles();

  it("is the README and the pages under docs/", () => {
    expect(files).toContain("README.md");
    expect(files).toEqual(expect.arrayContaining(["docs/cli.md", "docs/development.md", "docs/apply-and-rollback.md"]));
  });

  it.each(files)("%s: commands, policies, excerpts and links all check", async (file) => {
    const problems = await checkMarkdown(file, text(file));
    expect(show(problems)).toBe("");
  });

  it("TypeScript blocks typecheck against the package, and a wrong one does not", () => {
    const blocks = files.flatMap((f) => fencedBlocks(f, text(f))).filter((b) => b.lang === "ts");
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    // The negative control compiles in the same program: one compilation (seconds) serves both.
    const control: Block = {
      file: "docs/control.md",
      line: 1,
      lang: "ts",
      body: 'import { HostFirewall } from "pulumi-hardened-nftables";\nnew HostFirewall("x", { connection: { host: "h" }, exposures: [{ service: "ssh", sourcez: [] }] });',
    };
    const problems = typecheckBlocks([...blocks, control]);
    expect(show(problems.filter((p) => p.file !== control.file))).toBe("");
    expect(show(problems.filter((p) => p.file === control.file))).toMatch(/^docs\/control\.md:3: ts: /);
  }, 60_000);

  it("the README stays a front page: under 200 lines, and it names the test command CI runs", () => {
    const readme = text("README.md");
    expect(readme.split("\n").length).toBeLessThan(200);
    expect(readme).toContain("npm test");
    expect(readme).toContain("bash .ci/run");
    expect(text(".ci/run")).toContain("scripts/test.sh");
  });
});

describe("the checks themselves (negative controls)", () => {
  const check = (md: string) => checkMarkdown("docs/control.md", md);
  const sh = (line: string) => `\`\`\`sh\n${line}\n\`\`\`\n`;

  it("flag a CLI flag, subcommand or missing value the CLI does not accept", async () => {
    expect(
      show(await check(sh("npx hardened-nftables apply --polcy policy.yaml --host root@192.0.2.1 --host-key K"))),
    ).toMatch(/apply: .*polcy/);
    expect(show(await check(sh("npx hardened-nftables deploy --policy policy.yaml")))).toMatch(/no command "deploy"/);
    expect(show(await check(sh("npx hardened-nftables render --policy")))).toMatch(/render: .*--policy/);
    expect(show(await check(sh("npx hardened-nftables render --policy p.yaml stray")))).toMatch(/render: /);
    expect(await check(sh("npx hardened-nftables render --policy p.yaml --format json"))).toEqual([]);
  });

  it("flag scripts, files and wrapper commands that do not exist", async () => {
    expect(show(await check(sh("npm run no-such-script")))).toMatch(/no such script/);
    expect(show(await check(sh("sudo scripts/no-such.sh")))).toMatch(/no such file/);
    expect(show(await check(sh("scripts/pulumi frobnicate --yes")))).toMatch(/no command "frobnicate"/);
    expect(show(await check(sh("scripts/pulumi up --frob")))).toMatch(/no option --frob/);
    expect(show(await check(sh("scripts/pulumi stack nonsense")))).toMatch(/no command "stack nonsense"/);
    expect(show(await check(sh("npm run sandbox -- sideways")))).toMatch(/no such command/);
    expect(show(await check(sh("pulumi whoami")))).toMatch(/no engine suite runs it/);
    expect(show(await check(sh("pulumi preview --no-such-flag")))).toMatch(/never passes --no-such-flag/);
    expect(show(await check(sh("rm -rf /tmp/x")))).toMatch(/rm: not a command/);
  });

  it("flag an invalid policy, naming its field, and a HostFirewall of a YAML program", async () => {
    const bad = "```yaml\nexposures:\n  - service: ftp\n    passivePorts: 51000-50000\n```\n";
    expect(show(await check(bad))).toMatch(/exposures\[0\]\.passivePorts/);
    const program =
      "```yaml\nresources:\n  fw:\n    type: hardened-nftables:index:HostFirewall\n    properties:\n      connection: { host: x }\n      exposures:\n        - service: gopher\n```\n";
    expect(show(await check(program))).toMatch(/resource fw: exposures\[0\]/);
    expect(show(await check("```yaml\nkey: [unclosed\n```\n"))).toMatch(/does not parse/);
  });

  it("flag a Python or Go block that is not the example's code, and a fence without a known language", async () => {
    expect(show(await check('```python\nhnft.HostFirewall("quickstart", not_an_argument=1)\n```\n'))).toMatch(
      /not an excerpt/,
    );
    expect(show(await check("```\nwhat is this\n```\n"))).toMatch(/fence language ""/);
  });

  it("flag a link to a missing file or heading, and an inline path or script that does not exist", async () => {
    expect(show(await check("[x](nowhere.md)\n"))).toMatch(/no file docs\/nowhere\.md/);
    expect(show(await check("[x](cli.md#no-such-heading)\n"))).toMatch(/no heading #no-such-heading/);
    expect(show(await check("# Here\n[x](#here) [y](#there)\n"))).toMatch(/no heading #there/);
    expect(show(await check("run `npm run nope` and read `src/no/such.ts`\n"))).toMatch(
      /no script nope[\s\S]*no such path/,
    );
    expect(
      show(await check("or `npx hardened-nftables diff --polcy p.yaml` and `scripts/pulumi --cwd x upp`\n")),
    ).toMatch(/diff: .*polcy[\s\S]*no command "upp"/);
    expect(
      await check("`hardened-nftables`, `hardened-nftables:index:HostTable`, `npx hardened-nftables --help`\n"),
    ).toEqual([]);
  });
});

describe("the parts of the checker", () => {
  it("split shell lines into commands: quotes, $(...), comments, continuations, && and |", () => {
    const cmds = shellCommands(
      "KEY=\"$(cat /a b)\"   # note\nscripts/pulumi destroy --yes && npm run sandbox -- down\nnpx x \\\n  --flag 'a b' | head",
    );
    expect(cmds.map((c) => c.words)).toEqual([
      ["KEY=$(cat /a b)"],
      ["scripts/pulumi", "destroy", "--yes"],
      ["npm", "run", "sandbox", "--", "down"],
      ["npx", "x", "--flag", "a b"],
      ["head"],
    ]);
    expect(cmds.map((c) => c.line)).toEqual([0, 1, 1, 2, 3]);
  });

  it("read the wrapper's commands and options from tools/engine/run.ts, so commands added there are accepted", () => {
    const grammar = wrapperGrammar();
    expect([...grammar.commands]).toEqual(expect.arrayContaining(["up", "preview", "destroy", "config", "stack"]));
    expect(grammar.options.get("cwd")).toBe("string");
    expect(grammar.options.get("diff")).toBe("boolean");
    expect(checkWrapper(["--cwd", "examples/fleet", "preview", "--refresh", "--diff"], grammar)).toBeUndefined();
    // the recovery commands of #17 are there; one the wrapper lacks is refused until it is added
    expect(checkWrapper(["cancel"], grammar)).toBeUndefined();
    expect(checkWrapper(["stack", "history"], grammar)).toBeUndefined();
    const extended = wrapperGrammar(
      `${fs.readFileSync(path.join(REPO, "tools/engine/run.ts"), "utf8")}\ncase "logout":\n// usage: stack tag | stack select\n`,
    );
    expect(checkWrapper(["logout"], extended)).toBeUndefined();
    expect(checkWrapper(["stack", "tag"], extended)).toBeUndefined();
    expect(checkWrapper(["logout"], grammar)).toMatch(/no command "logout"/);
    expect(checkWrapper(["stack", "tag"], grammar)).toMatch(/no command "stack tag"/);
  });

  it("make GitHub's heading anchors", () => {
    expect([
      ...anchors(
        "## Host commands (review, audit, break-glass)\n## The Pulumi component: `HostFirewall`\n## A\n## A\n",
      ),
    ]).toEqual(["host-commands-review-audit-break-glass", "the-pulumi-component-hostfirewall", "a", "a-1"]);
  });
});
