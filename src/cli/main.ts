#!/usr/bin/env node
import { APPLY_HELP, applyCommand } from "./apply";
import { AUDIT_HELP, auditCommand } from "./audit";
import { DIFF_HELP, diffCommand } from "./diff";
import { EXIT } from "./exit-codes";
import { exitAfterOutput, type Io, processIo, watchOutput } from "./io";
import { UsageError } from "./policy-file";
import { PROBE_HELP, probeCommand } from "./probe";
import { REFERENCE_HELP, referenceCommand } from "./reference-command";
import { REMOVE_HELP, removeCommand } from "./remove";
import { RENDER_HELP, renderCommand } from "./render";
import { STATS_HELP, statsCommand } from "./stats";
import { CLI_VERSION } from "./version";

type Command = { summary: string; help: string; run: (argv: string[], io: Io) => Promise<number> };

/** Commands register here; later ones (probe, apply, diff, remove) add themselves the same way. */
export const commands: Record<string, Command> = {
  render: {
    summary: "show the table, sysctl.d and modprobe.d a policy renders (no host contacted)",
    help: RENDER_HELP,
    run: renderCommand,
  },
  probe: {
    summary: "print what a host has (kernel, nft, helper knobs, tables) as JSON; changes nothing",
    help: PROBE_HELP,
    run: probeCommand,
  },
  apply: {
    summary: "push a policy to a host; rolls back by itself unless a new SSH connection gets in",
    help: APPLY_HELP,
    run: applyCommand,
  },
  diff: {
    summary: "compare a host with a policy (exit 1 on drift); changes nothing",
    help: DIFF_HELP,
    run: diffCommand,
  },
  stats: {
    summary: "per exposure, block set and chain: packets, bytes and rates from the table's counters",
    help: STATS_HELP,
    run: statsCommand,
  },
  audit: {
    summary: "judge hosts' firewalls (helpers, related accepts, open input); changes nothing; exit 1 on findings",
    help: AUDIT_HELP,
    run: auditCommand,
  },
  remove: {
    summary: "delete this project's table, files and state from a host (nothing else)",
    help: REMOVE_HELP,
    run: removeCommand,
  },
  reference: {
    summary: "print every policy field, catalog service and host option (docs/reference.md)",
    help: REFERENCE_HELP,
    run: referenceCommand,
  },
};

function mainHelp(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `Usage: hardened-nftables <command> [options]\n\nCommands:\n${lines.join("\n")}\n\nRun 'hardened-nftables <command> --help' for a command's options; --version prints the version.\n`;
}

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V") {
    io.out(`${CLI_VERSION}\n`);
    return EXIT.ok;
  }
  if (!name || name === "--help" || name === "-h" || name === "help") {
    io.out(mainHelp());
    return name ? EXIT.ok : EXIT.invalidPolicy;
  }
  const command = commands[name];
  if (!command) {
    io.err(`unknown command "${name}"\n\n${mainHelp()}`);
    return EXIT.invalidPolicy;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (
      err instanceof UsageError ||
      code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ||
      code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" ||
      code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL"
    ) {
      io.err(`${(err as Error).message}\n\n${command.help}`);
      return EXIT.invalidPolicy;
    }
    throw err;
  }
}

if (require.main === module) {
  watchOutput();
  void main(process.argv.slice(2)).then(
    (code) => exitAfterOutput(code),
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitAfterOutput(1);
    },
  );
}
