import { parseArgs } from "node:util";
import { checkInScratchNamespace } from "../local/nft-check";
import { type Artefacts, KernelSupportError, renderPolicy } from "../render";
import { explanationText } from "../render/explain";
import { managedPaths } from "../render/paths";
import { DEFAULT_KERNEL, parseKernelProfile } from "../render/profile";
import { EXIT } from "./exit-codes";
import { hostOptionsFromFlags } from "./host-command";
import { type Io, outputFormat, printIssues } from "./io";
import { policyFromFiles, UsageError } from "./policy-file";

export const RENDER_HELP = `Usage: hardened-nftables render --policy FILE [--kernel X.Y] [--format text|json] [--check]

Renders the nftables table, the sysctl.d file and the modprobe.d file a policy would push,
with an explanation per exposure. Nothing is contacted.

  --policy FILE     policy as JSON or YAML (same schema as the TypeScript API); repeat it to
                    compose one table: the first file is the base, each next one adds to it
  --table NAME      table name when the policy has none (default: hardened)
  --kernel X.Y      target kernel (default ${DEFAULT_KERNEL}, i.e. any kernel >= 6.0); below 6.0 the
                    helper sysctl and module parameter are written
  --format F        text (default) or json: {"nft","sysctl","modprobe","explain"}
  --check           load the table with the real nft in a throwaway network namespace (root)

Exit codes: 0 ok, 2 invalid policy or arguments, 3 nft rejected the output, 141 stdout or
stderr failed before all output was written (the reader went away).
`;

function textReport(artefacts: Artefacts): string {
  const paths = managedPaths(artefacts.table);
  const out: string[] = [];
  out.push(`### nftables: ${paths.nft}`, artefacts.nft);
  out.push(`### sysctl.d: ${paths.sysctl}`, artefacts.sysctl);
  out.push(`### modprobe.d: ${paths.modprobe}`, artefacts.modprobe);
  out.push("### explanation", ...explanationText(artefacts.explain, artefacts.warnings));
  return `${out.join("\n")}\n`;
}

export async function renderCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      policy: { type: "string", multiple: true },
      table: { type: "string" },
      kernel: { type: "string" },
      format: { type: "string", default: "text" },
      check: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    io.out(RENDER_HELP);
    return EXIT.ok;
  }
  if (!values.policy?.length) throw new UsageError("--policy: required");
  const format = outputFormat(values.format);
  const kernel = parseKernelProfile(values.kernel ?? DEFAULT_KERNEL);
  if (!kernel.ok) throw new UsageError(`--kernel: ${kernel.issues.map((i) => i.message).join("; ")}`);
  const profile = kernel.value;
  const parsed = policyFromFiles(values.policy);
  if (!parsed.ok) printIssues(io, `invalid policy ${values.policy.join(" + ")}`, parsed.issues);
  // --table is checked like every host command's (it names the files the table would live in)
  const options = hostOptionsFromFlags({ table: values.table });
  if (!options.ok) printIssues(io, "invalid arguments", options.issues);
  if (!parsed.ok || !options.ok) return EXIT.invalidPolicy;
  let artefacts: Artefacts;
  try {
    artefacts = renderPolicy(parsed.value, { profile, table: values.table });
  } catch (err) {
    if (err instanceof KernelSupportError) {
      io.err(`invalid policy for kernel ${profile.kernel}: ${err.message}\n`);
      return EXIT.invalidPolicy;
    }
    throw err;
  }
  if (format === "json") {
    io.out(
      `${JSON.stringify({ nft: artefacts.nft, sysctl: artefacts.sysctl, modprobe: artefacts.modprobe, explain: artefacts.explain }, null, 2)}\n`,
    );
  } else {
    io.out(textReport(artefacts));
  }
  if (values.check) {
    const result = await checkInScratchNamespace(artefacts.nft);
    if (!result.ok) {
      io.err(
        `nft rejected the rendered table:\n${result.error}\n${result.line ? `offending line ${result.line}: ${result.lineText}\n` : ""}`,
      );
      return EXIT.nftRejected;
    }
    io.err(`nft accepted table inet ${artefacts.table} (checked in a throwaway network namespace on this kernel)\n`);
  }
  return EXIT.ok;
}
