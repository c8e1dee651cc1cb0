import { parseArgs } from "node:util";
import { EXIT } from "./exit-codes";
import type { Io } from "./io";
import { referenceMarkdown } from "./reference";

export const REFERENCE_HELP = `Usage: hardened-nftables reference

Prints the reference of a policy as Markdown: every field (type, default, description, example),
every catalog service with its ports, data ranges, helper modes and server settings, the host
options with their flags, and the connection. The same text as docs/reference.md, generated from
the schemas this command validates with.
`;

export async function referenceCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { help: { type: "boolean", short: "h", default: false } },
    strict: true,
  });
  io.out(values.help ? REFERENCE_HELP : referenceMarkdown());
  return EXIT.ok;
}
