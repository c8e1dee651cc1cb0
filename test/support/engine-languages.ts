/**
 * Pulumi programs in Python, Go and YAML under the real engine, for test/engine/languages.test.ts:
 * a copy of the program in test/engine/.work, its own file backend and PULUMI_HOME, and the
 * hardened-nftables provider plugin found on PATH (as an installed plugin is).
 *
 * - YAML runs with the real `pulumi` CLI and the YAML language host built beside it
 *   (tools/engine/pulumi-engine.sh): `pulumi up` in the project directory, nothing in between.
 * - Python and Go get the SDK `pulumi package add` generates (tools/engine/gen-sdk on the schema the
 *   plugin serves) in sdks/hardened-nftables, and run as Automation API inline programs
 *   (tools/engine/run.py; tools/engine/run-go/inline.go), because their language hosts are not served here.
 *   Python runs in the project's own virtualenv (tools/engine/python-venv.sh --project: `pulumi` from PyPI
 *   plus the generated SDK); Go builds the program against the generated SDK through go.mod's replace.
 *
 * `config` and `stack export` are the CLI's own commands in every language.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  type CommandResult,
  ENGINE_PASSPHRASE,
  engineBinDir,
  expectOk,
  REPO,
  runProcess,
  type StackState,
} from "./engine";
import { onCleanup } from "./exit-cleanup";

export type Language = "python" | "go" | "yaml";

const WORK_ROOT = path.join(REPO, "test/engine/.work");
const PLUGIN = "pulumi-resource-hardened-nftables";

/** The directory holding the provider plugin: the package's bin/ (HNFT_PLUGIN_DIR overrides it). */
export function pluginDir(): string {
  return process.env.HNFT_PLUGIN_DIR ?? path.join(REPO, "bin");
}

export interface LanguageProject {
  readonly language: Language;
  readonly dir: string;
  readonly stack: string;
  /** every byte any command printed */
  readonly transcript: string[];
  /** `pulumi up|preview|refresh|destroy [flags]` for this project and stack (YAML: any command), `extraEnv` added to its environment */
  pulumi(args: string[], extraEnv?: NodeJS.ProcessEnv): Promise<CommandResult>;
  /** `pulumi config set KEY [--secret] [--path]`, the value on stdin */
  config(key: string, value: string, opts?: { secret?: boolean; path?: boolean }): Promise<void>;
  /** replaces text in the program's source (exactly once), as a user editing the program */
  edit(from: string, to: string): void;
  exportState(): Promise<StackState>;
  remove(): void;
}

const programFile: Record<Language, string> = { python: "__main__.py", go: "main.go", yaml: "Pulumi.yaml" };

/** Writes the SDK for `language` from the plugin's own schema, as `pulumi package add <plugin>` does. */
async function generateSdk(language: "python" | "go", out: string, env: NodeJS.ProcessEnv): Promise<void> {
  const bin = engineBinDir();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const schema = path.join(path.dirname(out), "schema.json");
  const got = expectOk(
    await runProcess(path.join(bin, "pulumi"), ["package", "get-schema", path.join(pluginDir(), PLUGIN)], {
      cwd: path.dirname(out),
      env,
      timeoutMs: 120_000,
    }),
    "pulumi package get-schema",
  );
  fs.writeFileSync(schema, got.stdout);
  expectOk(
    await runProcess(path.join(bin, "gen-sdk"), ["-language", language, "-schema", schema, "-out", out], {
      cwd: path.dirname(out),
      env,
      timeoutMs: 120_000,
    }),
    "gen-sdk",
  );
  fs.rmSync(schema);
}

export async function languageProject(language: Language, label: string, source: string): Promise<LanguageProject> {
  const bin = engineBinDir();
  fs.mkdirSync(WORK_ROOT, { recursive: true });
  const dir = fs.mkdtempSync(path.join(WORK_ROOT, `${label}-`));
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `hnft-lang-${label}-`));
  const remove = () => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
  };
  const unregister = onCleanup(remove);
  for (const f of fs.readdirSync(source)) {
    if (["sdks", "venv", ".pulumi-state"].includes(f) || /^Pulumi\..+\.yaml$/.test(f)) continue;
    fs.cpSync(path.join(source, f), path.join(dir, f), { recursive: true });
  }
  fs.mkdirSync(path.join(home, "state"));
  fs.mkdirSync(path.join(home, "pulumi-home"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PULUMI_HOME: path.join(home, "pulumi-home"),
    PULUMI_BACKEND_URL: `file://${path.join(home, "state")}`,
    PULUMI_CONFIG_PASSPHRASE: ENGINE_PASSPHRASE,
    PULUMI_ENGINE_BIN: bin,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PATH: [bin, pluginDir(), process.env.PATH ?? ""].join(path.delimiter),
    NODE_OPTIONS: "",
    FORCE_COLOR: "0",
  };
  const stack = "test";
  const transcript: string[] = [];
  const cli = (args: string[], stdin?: string, timeoutMs = 300_000, extraEnv: NodeJS.ProcessEnv = {}) =>
    runProcess(path.join(bin, "pulumi"), [...args, "--stack", stack, "--cwd", dir], {
      cwd: dir,
      env: { ...env, ...extraEnv },
      stdin,
      timeoutMs,
    });

  // what each language's set-up leaves in the project (docs/languages.md)
  let start: (args: string[], extraEnv?: NodeJS.ProcessEnv) => Promise<CommandResult>;
  let programChanged = true;
  if (language === "yaml") {
    start = (args, extraEnv) =>
      cli(
        [...args, "--color", "never", ...(args[0] === "up" || args[0] === "destroy" ? ["--yes"] : [])],
        undefined,
        300_000,
        extraEnv,
      );
  } else if (language === "python") {
    const sdk = path.join(dir, "sdks", "hardened-nftables");
    await generateSdk("python", sdk, env);
    expectOk(
      await runProcess("bash", [path.join(REPO, "tools/engine/python-venv.sh"), "--project", dir, sdk], {
        cwd: dir,
        env,
        timeoutMs: 600_000,
      }),
      "python-venv.sh --project",
    );
    const python = path.join(dir, "venv", "bin", "python");
    start = (args) =>
      runProcess(python, [path.join(REPO, "tools/engine/run.py"), "--cwd", dir, "--stack", stack, ...args], {
        cwd: dir,
        env,
        timeoutMs: 300_000,
      });
  } else {
    await generateSdk("go", path.join(dir, "sdks", "hardened-nftables"), env);
    fs.copyFileSync(path.join(REPO, "tools/engine/run-go/inline.go"), path.join(dir, "hnft_inline.go"));
    const program = path.join(dir, ".hnft-program");
    start = async (args) => {
      if (programChanged) {
        const built = await runProcess("go", ["build", "-mod=readonly", "-tags", "hnftinline", "-o", program, "."], {
          cwd: dir,
          env,
          timeoutMs: 1_200_000,
        });
        if (built.code !== 0) return built;
        programChanged = false;
      }
      return runProcess(program, ["--cwd", dir, "--stack", stack, ...args], { cwd: dir, env, timeoutMs: 300_000 });
    };
  }
  expectOk(await cli(["stack", "init"]), "pulumi stack init");

  return {
    language,
    dir,
    stack,
    transcript,
    async pulumi(args, extraEnv) {
      const r = await start(args, extraEnv);
      transcript.push(`$ pulumi ${args.join(" ")}\n${r.stdout}\n${r.stderr}`);
      return r;
    },
    async config(key, value, opts = {}) {
      const r = await cli(
        ["config", "set", key, ...(opts.secret ? ["--secret"] : []), ...(opts.path ? ["--path"] : [])],
        value,
      );
      if (r.code !== 0) throw new Error(`config set ${key} failed (${r.code}): ${r.stderr}`);
    },
    edit(from, to) {
      const file = path.join(dir, programFile[language]);
      const text = fs.readFileSync(file, "utf8");
      if (text.split(from).length !== 2)
        throw new Error(`${programFile[language]}: expected exactly one ${JSON.stringify(from)}`);
      fs.writeFileSync(file, text.replace(from, to));
      programChanged = true;
    },
    async exportState() {
      const r = expectOk(await cli(["stack", "export"]), "stack export");
      return JSON.parse(r.stdout) as StackState;
    },
    remove() {
      unregister();
      remove();
    },
  };
}
