import { z } from "zod";
import * as amanda from "./amanda";
import * as dns from "./dns";
import * as ftp from "./ftp";
import * as h323 from "./h323";
import * as http from "./http";
import * as https from "./https";
import * as imaps from "./imaps";
import * as irc from "./irc";
import * as netbiosNs from "./netbios-ns";
import * as ntp from "./ntp";
import * as pptp from "./pptp";
import * as sane from "./sane";
import * as sip from "./sip";
import * as smtp from "./smtp";
import * as snmp from "./snmp";
import * as ssh from "./ssh";
import * as submission from "./submission";
import * as tftp from "./tftp";
import type { ServiceDefinition } from "./types";

const modules = [ssh, http, https, dns, smtp, submission, imaps, ntp, ftp, tftp, sip, h323, pptp, irc, netbiosNs, snmp, sane, amanda] as const;

export const CatalogExposureSchema = z.discriminatedUnion("service", [
  ssh.schema, http.schema, https.schema, dns.schema, smtp.schema, submission.schema, imaps.schema, ntp.schema,
  ftp.schema, tftp.schema, sip.schema, h323.schema, pptp.schema, irc.schema, netbiosNs.schema, snmp.schema,
  sane.schema, amanda.schema,
]);

export const catalog: ReadonlyMap<string, ServiceDefinition> = new Map(modules.map((m) => [m.definition.service, m.definition]));

export const serviceNames: readonly string[] = modules.map((m) => m.definition.service);

export function serviceDefinition(service: string): ServiceDefinition {
  const found = catalog.get(service);
  if (!found) throw new Error(`unknown service ${service}`);
  return found;
}

/** Every helper module and NAT helper module the catalog knows: the modprobe deny list starts from these. */
export const allHelperModules: readonly string[] = [
  ...new Set(
    modules.flatMap((m) => {
      const helper = m.definition.helper;
      return helper ? [helper.module, ...(helper.natModule ? [helper.natModule] : [])] : [];
    }),
  ),
].sort();

export type { ServiceDefinition } from "./types";
