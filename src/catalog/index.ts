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
import type { ExposedService, Service } from "./types";

/** Every service file, in the order the catalog lists them: the one list of catalog services. */
const modules = [
  ssh,
  http,
  https,
  dns,
  smtp,
  submission,
  imaps,
  ntp,
  ftp,
  tftp,
  sip,
  h323,
  pptp,
  irc,
  netbiosNs,
  snmp,
  sane,
  amanda,
] as const;

/** The tuple of the modules' schemas (mapped through a type parameter, so it stays a tuple). */
type SchemasOf<T extends readonly unknown[]> = {
  -readonly [I in keyof T]: T[I] extends { readonly schema: infer S } ? S : never;
};
type Schemas = SchemasOf<typeof modules>;

export const CatalogExposureSchema = z.discriminatedUnion(
  "service",
  modules.map((m) => m.schema) as unknown as Schemas,
);

export type CatalogExposure = z.output<typeof CatalogExposureSchema>;

/** Every catalog service, in the catalog's order. */
export const services: readonly Service[] = modules.map((m) => m.service);

export const catalog: ReadonlyMap<string, Service> = new Map(services.map((s) => [s.service, s]));

export const serviceNames: readonly string[] = services.map((s) => s.service);

export function catalogService(name: string): Service {
  const found = catalog.get(name);
  if (!found) throw new Error(`unknown service ${name}`);
  return found;
}

/**
 * The reader of each service's exposures, by name. Each service's name is its schema's
 * `service` literal (ServiceOf checks it), so the exposure the discriminated union matched is
 * the one its service reads: the cast only forgets which of the 18 it is.
 */
const readers = new Map(
  modules.map((m) => [m.service.service, m.service.exposed as (exposure: CatalogExposure) => ExposedService]),
);

/** A validated exposure of a catalog service, read through its own service. */
export function exposedService(exposure: CatalogExposure): ExposedService {
  return readers.get(exposure.service)!(exposure);
}

/** Every helper module and NAT helper module the catalog knows: the modprobe deny list starts from these. */
export const allHelperModules: readonly string[] = [
  ...new Set(
    services.flatMap(({ helper }) => (helper ? [helper.module, ...(helper.natModule ? [helper.natModule] : [])] : [])),
  ),
].sort();

export { type ExposedService, expectingHelper, type HelperFacts, helperTypes, type Service } from "./types";
