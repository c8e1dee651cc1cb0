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
import type { ServiceEntry, ServiceFacts, ServiceUse } from "./types";

export const CatalogExposureSchema = z.discriminatedUnion("service", [
  ssh.schema, http.schema, https.schema, dns.schema, smtp.schema, submission.schema, imaps.schema, ntp.schema,
  ftp.schema, tftp.schema, sip.schema, h323.schema, pptp.schema, irc.schema, netbiosNs.schema, snmp.schema,
  sane.schema, amanda.schema,
]);

export type CatalogExposure = z.output<typeof CatalogExposureSchema>;
type ServiceName = CatalogExposure["service"];
type ExposureOf = { [K in ServiceName]: Extract<CatalogExposure, { service: K }> };

/** Each service's entry, keyed by its name and typed by its own exposure. */
const entries: { [K in ServiceName]: ServiceEntry<ExposureOf[K]> } = {
  ssh: ssh.entry, http: http.entry, https: https.entry, dns: dns.entry, smtp: smtp.entry, submission: submission.entry,
  imaps: imaps.entry, ntp: ntp.entry, ftp: ftp.entry, tftp: tftp.entry, sip: sip.entry, h323: h323.entry,
  pptp: pptp.entry, irc: irc.entry, "netbios-ns": netbiosNs.entry, snmp: snmp.entry, sane: sane.entry, amanda: amanda.entry,
};

const facts: readonly ServiceFacts[] = Object.values(entries).map((e) => e.definition);

export const catalog: ReadonlyMap<string, ServiceFacts> = new Map(facts.map((f) => [f.service, f]));

export const serviceNames: readonly string[] = facts.map((f) => f.service);

export function serviceDefinition(service: string): ServiceFacts {
  const found = catalog.get(service);
  if (!found) throw new Error(`unknown service ${service}`);
  return found;
}

function useEntry<K extends ServiceName>(service: K, exposure: ExposureOf[K]): ServiceUse {
  const entry: ServiceEntry<ExposureOf[K]> = entries[service];
  return entry.use(exposure);
}

/** A validated exposure of a catalog service, read through its own definition. */
export function useService(exposure: CatalogExposure): ServiceUse {
  return useEntry(exposure.service, exposure);
}

/** Every helper module and NAT helper module the catalog knows: the modprobe deny list starts from these. */
export const allHelperModules: readonly string[] = [
  ...new Set(facts.flatMap(({ helper }) => (helper ? [helper.module, ...(helper.natModule ? [helper.natModule] : [])] : []))),
].sort();

export { expectingHelper, helperTypes, type HelperFacts, type ServiceFacts, type ServiceUse } from "./types";
