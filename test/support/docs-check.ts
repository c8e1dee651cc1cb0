/**
 * Checks what the documentation tells a reader to run or write against the code it names, so a
 * renamed flag, script, file, command or field fails a unit test instead of the reader:
 *
 * - every fenced shell command: a `hardened-nftables` subcommand and its flags go through the
 *   CLI's own argument parser; `npm run X` needs the script; a path needs the file; a
 *   `scripts/pulumi` command and its flags must be ones tools/engine/run.ts accepts (read from its
 *   source, so commands added there are accepted here); a plain `pulumi` command must be one an
 *   engine suite runs; other programs must be on the list of external tools below;
 * - every YAML or JSON block that is a policy (or a Pulumi YAML program's HostFirewall) is
 *   validated by the real policy parser;
 * - every TypeScript block is typechecked against the package's source (typecheckBlocks);
 * - Python and Go blocks are excerpts of an example program, line for line in order (the engine
 *   suites run the examples);
 * - every relative link, and its anchor, resolves; inline `npm run X` and repository paths exist.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import YAML from "yaml";
import { commands as cliCommands, main as cliMain } from "../../src/cli/main";
import { formatIssues } from "../../src/fields/issues";
import { parsePolicy } from "../../src/model/validate";

export const REPO = path.resolve(__dirname, "../..");

export interface Block {
  readonly file: string;
  /** 1-based line of the opening fence */
  readonly line: number;
  readonly lang: string;
  readonly body: string;
}

export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/**
 * Files the docs link to that another change generates (the field and service reference, from the
 * zod metadata). A missing one is not reported; once it exists it is checked like any other.
 */
export const GENERATED_ELSEWHERE = new Set(["docs/reference.md"]);

/** Programs the docs may name that are not this project's: checked by nobody here, on purpose. */
const EXTERNAL = new Set(["ip", "nft", "apt-get", "go", "git", "ssh-keygen", "cat", "jq", "curl", "export"]);

/** The plain `pulumi` commands the docs may show, and the engine suite that runs each. */
const PULUMI_SUITES: Record<string, string> = {
  up: "test/engine/lifecycle.test.ts",
  preview: "test/engine/lifecycle.test.ts",
  refresh: "test/engine/lifecycle.test.ts",
  destroy: "test/engine/lifecycle.test.ts",
  import: "test/engine/import.test.ts",
  "plugin install": "test/engine/plugin-discovery.test.ts",
  "package get-schema": "test/engine/plugin-schema.test.ts",
  "stack init": "test/support/engine-languages.ts",
  "config set": "test/support/engine-languages.ts",
};

const FENCE_LANGS = new Set(["sh", "yaml", "json", "ts", "python", "go", "text"]);
const SHELL = new Set(["sh"]);

/** Inputs of HostFirewall that are not the policy (checked by their own schemas). */
const HOST_OPTION_KEYS = new Set(["connection", "hostPaths", "confirmTimeoutSeconds", "allowOtherTables"]);

const read = (rel: string) => fs.readFileSync(path.join(REPO, rel), "utf8");

export function docFiles(): string[] {
  const docs = fs.existsSync(path.join(REPO, "docs"))
    ? fs
        .readdirSync(path.join(REPO, "docs"))
        .filter((f) => f.endsWith(".md"))
        .sort()
        .map((f) => `docs/${f}`)
    : [];
  return ["README.md", ...docs];
}

export function fencedBlocks(file: string, text: string): Block[] {
  const blocks: Block[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```\s*([\w-]*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++)
      body.push(lines[j]!.slice(Math.min(indent, lines[j]!.search(/\S|$/))));
    blocks.push({ file, line: i + 1, lang: open[2]!, body: body.join("\n") });
    i = j;
  }
  return blocks;
}

/** The text outside fenced blocks, with fences blanked so line numbers stay. */
function prose(text: string): string[] {
  let inFence = false;
  return text.split("\n").map((l) => {
    if (/^\s*```/.test(l)) {
      inFence = !inFence;
      return "";
    }
    return inFence ? "" : l;
  });
}

// ---------------------------------------------------------------- shell

/**
 * Splits a shell block into simple commands (words), enough for what docs hold: quotes, $(...),
 * comments, line continuations, and the operators && || ; | (a redirection drops its target).
 */
export function shellCommands(src: string): { words: string[]; line: number }[] {
  const out: { words: string[]; line: number }[] = [];
  let words: string[] = [];
  let word: string | undefined;
  let line = 0;
  let startLine = 0;
  const endWord = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    if (words.length) out.push({ words, line: startLine });
    words = [];
  };
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (word === undefined && words.length === 0) startLine = line;
    if (c === "\n") {
      line++;
      endCommand();
    } else if (c === "\\" && src[i + 1] === "\n") {
      // a continuation: the command goes on, the line count too
      endWord();
      line++;
      i++;
    } else if (c === " " || c === "\t") endWord();
    else if (c === "#" && word === undefined) {
      while (i + 1 < src.length && src[i + 1] !== "\n") i++;
    } else if (c === "'" || c === '"') {
      const close = src.indexOf(c, i + 1);
      word = (word ?? "") + src.slice(i + 1, close < 0 ? src.length : close);
      i = close < 0 ? src.length : close;
    } else if (c === "$" && src[i + 1] === "(") {
      let depth = 0;
      let j = i + 1;
      for (; j < src.length; j++) {
        if (src[j] === "(") depth++;
        else if (src[j] === ")" && --depth === 0) break;
      }
      word = (word ?? "") + src.slice(i, j + 1);
      i = j;
    } else if (c === "&" || c === "|" || c === ";") {
      if (src[i + 1] === c) i++;
      endCommand();
    } else if ((c === "<" || c === ">") && word === undefined) {
      while (src[i + 1] === " ") i++;
      while (i + 1 < src.length && !/[\s;&|]/.test(src[i + 1]!)) i++;
    } else word = (word ?? "") + c;
  }
  endCommand();
  return out;
}

const isPlaceholder = (p: string) => /<[^>]+>|\$/.test(p);

/** A repository path exists; `<name>` placeholders match any one name. */
function repoPathExists(rel: string): boolean {
  const clean = rel.replace(/\/$/, "");
  if (!/<[^>]+>/.test(clean)) return fs.existsSync(path.join(REPO, clean));
  let dirs = [REPO];
  for (const part of clean.split("/")) {
    const re = new RegExp(
      `^${part
        .split(/<[^>]+>/)
        .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join(".+")}$`,
    );
    dirs = dirs.flatMap((d) =>
      fs.existsSync(d) && fs.statSync(d).isDirectory()
        ? fs
            .readdirSync(d)
            .filter((n) => re.test(n))
            .map((n) => path.join(d, n))
        : [],
    );
  }
  return dirs.length > 0;
}

interface Grammar {
  options: Map<string, "string" | "boolean">;
  commands: Set<string>;
  /** for commands that take one: the words that may follow */
  subcommands: Map<string, Set<string>>;
}

/**
 * What tools/engine/run.ts (behind scripts/pulumi) accepts, read from its source: the parseArgs
 * options, the `case` labels of its command switch, and the "command sub" pairs of its usage
 * messages.
 */
export function wrapperGrammar(source = read("tools/engine/run.ts")): Grammar {
  const options = new Map<string, "string" | "boolean">();
  const open = source.indexOf("{", source.indexOf("options:", source.indexOf("parseArgs({")));
  let end = open;
  for (let depth = 0; end < source.length; end++) {
    if (source[end] === "{") depth++;
    else if (source[end] === "}" && --depth === 0) break;
  }
  const block = source.slice(open, end);
  for (const m of block.matchAll(/^\s*"?([\w-]+)"?:\s*\{\s*type:\s*"(string|boolean)"(?:,\s*short:\s*"(\w)")?/gm)) {
    options.set(m[1]!, m[2] as "string" | "boolean");
    if (m[3]) options.set(m[3], m[2] as "string" | "boolean");
  }
  const commands = new Set([...source.matchAll(/case "([\w-]+)":/g)].map((m) => m[1]!));
  const subcommands = new Map<string, Set<string>>();
  for (const usage of source.matchAll(/usage:[^"`\n]*/g)) {
    for (const m of usage[0].matchAll(/([\w-]+) ([a-z][\w-]*)/g)) {
      if (!commands.has(m[1]!)) continue;
      if (!subcommands.has(m[1]!)) subcommands.set(m[1]!, new Set());
      subcommands.get(m[1]!)!.add(m[2]!);
    }
  }
  return { options, commands, subcommands };
}

export function checkWrapper(args: string[], grammar: Grammar = wrapperGrammar()): string | undefined {
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("-")) {
      const name = a.replace(/^--?/, "").split("=")[0]!;
      const type = grammar.options.get(name);
      if (!type) return `scripts/pulumi: tools/engine/run.ts has no option ${a}`;
      if (type === "string" && !a.includes("=")) i++;
    } else positionals.push(a);
  }
  const [command, sub] = positionals;
  if (!command || !grammar.commands.has(command))
    return `scripts/pulumi: tools/engine/run.ts has no command "${command ?? ""}" (it has ${[...grammar.commands].join(", ")})`;
  const subs = grammar.subcommands.get(command);
  if (subs && !subs.has(sub ?? ""))
    return `scripts/pulumi: tools/engine/run.ts has no command "${command} ${sub ?? ""}" (it has ${[...subs].map((s) => `${command} ${s}`).join(", ")})`;
  return undefined;
}

async function checkCli(args: string[]): Promise<string | undefined> {
  const [sub, ...rest] = args;
  if (sub === "--help" || sub === "-h" || sub === "--version" || sub === "-V") return undefined;
  if (!sub || !Object.hasOwn(cliCommands, sub))
    return `hardened-nftables: no command "${sub ?? ""}" (it has ${Object.keys(cliCommands).join(", ")})`;
  // --help after the documented flags: the command's own strict parser reads every flag first
  // (unknown flags, missing values, stray words are errors), then prints its help and stops.
  const err: string[] = [];
  const code = await cliMain([sub, ...rest, "--help"], { out: () => undefined, err: (t) => err.push(t) });
  if (code !== 0) return `hardened-nftables ${sub}: ${err.join("").split("\n")[0]}`;
  return undefined;
}

function checkPlainPulumi(args: string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith("-"));
  const key = [`${words[0]} ${words[1]}`, words[0] ?? ""].find((k) => Object.hasOwn(PULUMI_SUITES, k));
  if (!key)
    return `pulumi ${words.slice(0, 2).join(" ")}: no engine suite runs it (add it to PULUMI_SUITES with the suite that does)`;
  const suite = read(PULUMI_SUITES[key]!);
  for (const w of key.split(" "))
    if (!suite.includes(`"${w}"`)) return `pulumi ${key}: ${PULUMI_SUITES[key]} does not run it`;
  for (const flag of args.filter((a) => a.startsWith("--"))) {
    const name = flag.split("=")[0]!;
    if (!suite.includes(`"${name}`)) return `pulumi ${key} ${name}: ${PULUMI_SUITES[key]} never passes ${name}`;
  }
  return undefined;
}

function scriptFile(script: string): string | undefined {
  return /^tsx (\S+\.ts)$/.exec(script)?.[1];
}

function checkNpm(args: string[], scripts: Record<string, string>): Promise<string | undefined> | string | undefined {
  const [verb, ...rest] = args;
  if (verb === "ci" || verb === "install") return undefined;
  if (verb === "test") return scripts.test ? undefined : "npm test: package.json has no test script";
  if (verb !== "run") return `npm ${verb ?? ""}: not a command the docs should need`;
  const words = rest.filter((a) => a !== "--silent" && a !== "-s");
  const name = words[0];
  if (!name || !Object.hasOwn(scripts, name)) return `npm run ${name ?? ""}: package.json has no such script`;
  const dash = words.indexOf("--");
  const passed = dash < 0 ? [] : words.slice(dash + 1);
  const file = scriptFile(scripts[name]!);
  if (file === "tools/engine/run.ts") return checkWrapper(passed);
  if (file && passed.length) {
    const cases = new Set([...read(file).matchAll(/case "([\w-]+)":/g)].map((m) => m[1]!));
    const first = passed.find((a) => !a.startsWith("-"));
    if (cases.size && first && !cases.has(first))
      return `npm run ${name} -- ${first}: ${file} has no such command (it has ${[...cases].join(", ")})`;
  }
  return undefined;
}

export async function checkCommand(
  words: readonly string[],
  scripts: Record<string, string>,
): Promise<string | undefined> {
  let w = [...words];
  while (w[0] === "sudo" || /^[A-Za-z_]\w*=/.test(w[0] ?? "")) w = w.slice(1);
  const [head, ...args] = w;
  if (head === undefined) return undefined;
  if (head === "npx") {
    const [tool, ...rest] = args;
    if (tool === "hardened-nftables") return checkCli(rest);
    if (tool === "vitest") {
      const missing = rest.filter((a) => a !== "run" && !a.startsWith("-") && !repoPathExists(a));
      return missing.length ? `npx vitest: no file ${missing.join(", ")}` : undefined;
    }
    return `npx ${tool ?? ""}: not a tool of this project`;
  }
  if (head === "hardened-nftables") return checkCli(args);
  if (head === "npm") return checkNpm(args, scripts);
  if (head === "pulumi") return checkPlainPulumi(args);
  if (head === "scripts/pulumi") return checkWrapper(args);
  if (head === "bash" || head === "sh") {
    const file = args.find((a) => !a.startsWith("-"));
    return file && !repoPathExists(file) ? `${head} ${file}: no such file` : undefined;
  }
  if (head.includes("/"))
    return isPlaceholder(head) || repoPathExists(head.replace(/^\.\//, "")) ? undefined : `${head}: no such file`;
  if (head === "cd")
    return args[0] && !isPlaceholder(args[0]) && !repoPathExists(args[0])
      ? `cd ${args[0]}: no such directory`
      : undefined;
  if (EXTERNAL.has(head)) return undefined;
  return `${head}: not a command the docs check knows (a project command, or add it to EXTERNAL)`;
}

// ---------------------------------------------------------------- policies and programs

function checkYaml(block: Block, schemaTypes: ReadonlySet<string>): string[] {
  let doc: unknown;
  try {
    doc = block.lang === "json" ? JSON.parse(block.body) : YAML.parse(block.body);
  } catch (e) {
    return [`does not parse as ${block.lang}: ${(e as Error).message.split("\n")[0]}`];
  }
  if (!doc || typeof doc !== "object") return [];
  const problems: string[] = [];
  const policyProblems = (input: unknown, where: string) => {
    const r = parsePolicy(input);
    if (!r.ok) problems.push(...formatIssues(r.issues).map((i) => `${where}${i}`));
  };
  const obj = doc as Record<string, unknown>;
  if ("exposures" in obj) policyProblems(obj, "policy: ");
  const resources = obj.resources as
    | Record<string, { type?: string; properties?: Record<string, unknown> }>
    | undefined;
  for (const [name, res] of Object.entries(resources ?? {})) {
    if (!res.type?.startsWith("hardened-nftables:")) continue;
    if (!schemaTypes.has(res.type)) problems.push(`resource ${name}: provider/schema.json has no type ${res.type}`);
    if (res.type === "hardened-nftables:index:HostFirewall") {
      const policy = Object.fromEntries(Object.entries(res.properties ?? {}).filter(([k]) => !HOST_OPTION_KEYS.has(k)));
      policyProblems(policy, `resource ${name}: `);
    }
  }
  return problems;
}

const normalise = (l: string) => l.trim().replace(/\s+/g, " ");

/** The block's lines, in order, are lines of one example program with that extension. */
function checkExcerpt(block: Block): string | undefined {
  const ext = block.lang === "python" ? ".py" : ".go";
  const examples = fs.readdirSync(path.join(REPO, "examples")).flatMap((d) => {
    const dir = path.join(REPO, "examples", d);
    return fs.statSync(dir).isDirectory()
      ? fs
          .readdirSync(dir)
          .filter((f) => f.endsWith(ext))
          .map((f) => path.join(dir, f))
      : [];
  });
  const wanted = block.body
    .split("\n")
    .map(normalise)
    .filter((l) => l && !l.startsWith("#") && !l.startsWith("//"));
  let best = { file: "", missing: wanted[0] ?? "", at: -1 };
  for (const file of examples) {
    const lines = fs.readFileSync(file, "utf8").split("\n").map(normalise);
    let at = 0;
    let k = 0;
    for (; k < wanted.length; k++) {
      const found = lines.indexOf(wanted[k]!, at);
      if (found < 0) break;
      at = found + 1;
    }
    if (k === wanted.length) return undefined;
    if (k > best.at) best = { file: path.relative(REPO, file), missing: wanted[k]!, at: k };
  }
  return `${block.lang} block is not an excerpt of an example program (closest ${best.file || "none"}; not found in order: ${best.missing})`;
}

// ---------------------------------------------------------------- links

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as dashes, repeats numbered. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const slug = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

function checkLinks(file: string, text: string): Problem[] {
  const problems: Problem[] = [];
  const lines = prose(text);
  lines.forEach((raw, i) => {
    const l = raw.replace(/`[^`]*`/g, "");
    for (const m of l.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]!;
      if (/^[a-z]+:/.test(target)) continue;
      const [p, anchor] = target.split("#") as [string, string | undefined];
      const rel = p ? path.normalize(path.join(path.dirname(file), p)) : file;
      const where = { file, line: i + 1 };
      if (p && !fs.existsSync(path.join(REPO, rel))) {
        if (!GENERATED_ELSEWHERE.has(rel)) problems.push({ ...where, message: `link to ${target}: no file ${rel}` });
        continue;
      }
      if (anchor && rel.endsWith(".md") && !anchors(rel === file ? text : read(rel)).has(anchor)) {
        problems.push({ ...where, message: `link to ${target}: ${rel} has no heading #${anchor}` });
      }
    }
  });
  return problems;
}

/**
 * Inline code that names a script (`npm run X`) or a repository path must name one that exists;
 * an inline `hardened-nftables <command> ...` or `scripts/pulumi <command> ...` is checked as a
 * fenced one is.
 */
async function checkInlineCode(file: string, text: string, scripts: Record<string, string>): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const [i, l] of prose(text).entries()) {
    for (const m of l.matchAll(/`([^`]+)`/g)) {
      const code = m[1]!;
      if (/^(?:npx )?(?:hardened-nftables|scripts\/pulumi) [^:]/.test(code)) {
        const problem = await checkCommand(shellCommands(code)[0]!.words, scripts);
        if (problem) problems.push({ file, line: i + 1, message: `\`${code}\`: ${problem}` });
      }
      const run = /^npm run (?:--silent )?([\w:-]+)/.exec(code);
      if (run && !Object.hasOwn(scripts, run[1]!))
        problems.push({ file, line: i + 1, message: `\`${code}\`: package.json has no script ${run[1]}` });
      const p = /^(?:\.\/)?((?:src|test|engine|scripts|examples|bin|provider|bench|docs|\.ci)\/[\w./<>-]*)$/.exec(code);
      if (p && !repoPathExists(p[1]!) && !GENERATED_ELSEWHERE.has(p[1]!))
        problems.push({ file, line: i + 1, message: `\`${code}\`: no such path in the repository` });
    }
  }
  return problems;
}

// ---------------------------------------------------------------- one file

/** Every check but the TypeScript one (which compiles all blocks together: typecheckBlocks). */
export async function checkMarkdown(file: string, text: string): Promise<Problem[]> {
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  const schema = JSON.parse(read("provider/schema.json")) as { resources?: Record<string, unknown> };
  const schemaTypes = new Set(Object.keys(schema.resources ?? {}));
  const problems: Problem[] = [...checkLinks(file, text), ...(await checkInlineCode(file, text, scripts))];
  for (const block of fencedBlocks(file, text)) {
    const at = (message: string, offset = 0) => problems.push({ file, line: block.line + offset, message });
    if (!FENCE_LANGS.has(block.lang)) {
      at(`fence language "${block.lang}": use one of ${[...FENCE_LANGS].join(", ")}`);
      continue;
    }
    if (SHELL.has(block.lang)) {
      for (const cmd of shellCommands(block.body)) {
        const problem = await checkCommand(cmd.words, scripts);
        if (problem) at(problem, cmd.line + 1);
      }
    } else if (block.lang === "yaml" || block.lang === "json") {
      for (const p of checkYaml(block, schemaTypes)) at(p);
    } else if (block.lang === "python" || block.lang === "go") {
      const p = checkExcerpt(block);
      if (p) at(p);
    }
  }
  return problems;
}

// ---------------------------------------------------------------- TypeScript

/**
 * Typechecks the TypeScript blocks as modules of the repository (virtual files under examples/,
 * so `@pulumi/pulumi` resolves from node_modules and the package name maps to src/ as in
 * tsconfig.examples.json). Nothing is written to disk.
 */
export function typecheckBlocks(blocks: readonly Block[]): Problem[] {
  const configPath = path.join(REPO, "tsconfig.examples.json");
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  )!;
  const virtual = new Map<string, { block: Block; text: string }>();
  blocks.forEach((block, i) => {
    virtual.set(path.join(REPO, "examples", `.docs-block-${i}.ts`), { block, text: `${block.body}\nexport {};\n` });
  });
  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError) => {
    const v = virtual.get(path.resolve(name));
    return v ? ts.createSourceFile(name, v.text, lang) : getSourceFile(name, lang, onError);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => virtual.has(path.resolve(name)) || fileExists(name);
  const program = ts.createProgram({
    rootNames: [...virtual.keys()],
    options: { ...config.options, noEmit: true },
    host,
  });
  const problems: Problem[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const v = d.file ? virtual.get(path.resolve(d.file.fileName)) : undefined;
    const line = v && d.start !== undefined ? d.file!.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    const message = ts.flattenDiagnosticMessageText(d.messageText, " ");
    problems.push(
      v
        ? { file: v.block.file, line: v.block.line + line, message: `ts: ${message}` }
        : { file: d.file?.fileName ?? "(tsc)", line: 0, message },
    );
  }
  return problems;
}
