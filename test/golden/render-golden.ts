/**
 * The four files each golden case renders to: the nft table, sysctl.d, modprobe.d and the
 * explanation `hardened-nftables render --explain` prints. Shared by the test and `npm run golden`.
 */
import { renderPolicy } from "../../src/render";
import { profileForKernel } from "../../src/render/profile";
import { assertPolicy } from "../../src/model/validate";
import { explanationText } from "../../src/render/explain";
import type { GoldenCase } from "./policies";

export const GOLDEN_DIR = __dirname;

/** File name -> content, for one case. */
export function renderGolden(c: GoldenCase): Record<string, string> {
  const artefacts = renderPolicy(assertPolicy(c.policy), c.kernel ? { profile: profileForKernel(c.kernel) } : {});
  return {
    "table.nft": artefacts.nft,
    "sysctl.conf": artefacts.sysctl,
    "modprobe.conf": artefacts.modprobe,
    "explain.txt": `${explanationText(artefacts.explain, artefacts.warnings).join("\n")}\n`,
  };
}
