/**
 * IP protocols this kernel has no driver for (ESP, AH, GRE) or no socket for (SCTP), as real
 * packets between lab namespaces: a raw socket sends a well-formed header of the protocol (the
 * kernel adds the IP header), and a raw socket on the receiver reports what arrived. Raw sockets
 * get a packet only after the input hook accepted it, so what the receiver sees is what the
 * table let in. Each packet carries a marker, so stray traffic is never counted.
 */
import * as path from "node:path";
import type { LabHost, LabProcess } from "../lab";

export const IP_PROTOCOLS = { esp: 50, ah: 51, gre: 47, sctp: 132, igmp: 2, vrrp: 112 } as const;
export type RawProtocol = keyof typeof IP_PROTOCOLS;

const SEND = path.join(__dirname, "scripts", "raw-send.py");

/** Sends three packets of `protocol` (to `port` for SCTP) carrying `marker` from `host` to `dst`. */
export async function sendRaw(
  host: LabHost,
  dst: string,
  protocol: RawProtocol,
  marker: string,
  port = 0,
): Promise<void> {
  await host.sh(`python3 ${SEND} ${dst} ${IP_PROTOCOLS[protocol]} ${port} ${marker} ${host.ipv4}`);
}

const RECEIVE = path.join(__dirname, "scripts", "raw-receive.py");

/** A raw receiver of `protocol` on every address of `host`, printing `RECV <source>` per marked packet. */
export function receiveRaw(host: LabHost, protocol: RawProtocol, marker: string): LabProcess {
  return host.spawn(`exec python3 -u ${RECEIVE} ${IP_PROTOCOLS[protocol]} ${marker}`);
}

/** The sources of the marked packets of `protocol` the host received while `send` ran (one per source). */
export async function rawArrivals(
  host: LabHost,
  protocol: RawProtocol,
  marker: string,
  send: () => Promise<void>,
): Promise<string[]> {
  const receiver = receiveRaw(host, protocol, marker);
  await new Promise((r) => setTimeout(r, 300));
  await send();
  await new Promise((r) => setTimeout(r, 300));
  const out = await receiver.stop();
  return [...new Set([...out.stdout.matchAll(/^RECV (\S+)$/gm)].map((m) => m[1]!))];
}
