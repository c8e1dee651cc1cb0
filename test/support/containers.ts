/**
 * What the container runtimes' proofs (test/services/proof-docker.test.ts and proof-podman.test.ts)
 * share: the busybox root filesystem, the clean-up of a runtime's directory, the reach check from a
 * lab peer, the policy with guestInterfaces, the published-port and guest-network checks with their
 * negative controls, the drift check and the refused apply without guestInterfaces. Parameterised by
 * the runtime's bridge (docker0, podman0) and the banner its web container serves.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { applyPolicy, formatDrift, observePolicy } from "../../src/host";
import { assertPolicy } from "../../src/model/validate";
import { connectionFor, HOST_PATHS } from "./host-fixtures";
import { connectFrom } from "./lab-links";
import { applyToServer, flushConntrack, PROOF_TABLE, type ProofLab, type ProofPolicy } from "./proof";

/** A command that may fail: its output, whatever its exit status. */
export function outputOf(run: () => string): string {
  try {
    return run();
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return `${err.stdout ?? ""}${err.stderr ?? ""}`.trim();
  }
}

/** A busybox-static root filesystem at `rootfs` whose /www/index.html is `banner`. */
export function busyboxRootfs(rootfs: string, banner: string): void {
  mkdirSync(path.join(rootfs, "bin"), { recursive: true });
  mkdirSync(path.join(rootfs, "www"), { recursive: true });
  copyFileSync("/bin/busybox", path.join(rootfs, "bin/busybox"));
  for (const applet of ["sh", "httpd", "nc", "cat", "sleep", "printf"])
    symlinkSync("busybox", path.join(rootfs, "bin", applet));
  writeFileSync(path.join(rootfs, "www/index.html"), `${banner}\n`);
}

/** Every process started from `root` (daemons, shims, containers), then the mounts under it, then `root`. */
export function removeRuntimeRoot(root: string): void {
  let pids = "";
  try {
    pids = execFileSync("pgrep", ["-f", root], { encoding: "utf8" });
  } catch {} // none left
  for (const pid of pids.split("\n").filter(Boolean).map(Number))
    if (pid !== process.pid)
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1] ?? "")
    .filter((m) => m.startsWith(root))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) execFileSync("umount", ["-l", m]);
  rmSync(root, { recursive: true, force: true });
}

/** The runtime ran only in the lab namespace: this machine's own namespace is as it was, and `root` is gone. */
export function expectHostNamespaceUntouched(root: string): void {
  expect(execFileSync("nft", ["list", "tables"], { encoding: "utf8" }).trim()).toBe("");
  expect(readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim()).toBe("0");
  expect(existsSync(root)).toBe(false);
}

export type Reach = (who: "client" | "attacker", port: number) => Promise<string>;

/** A TCP connect from the client (3 s) or the attacker (1 s) to the server's `port`: its result. */
export const reachFrom =
  (p: ProofLab): Reach =>
  async (who, port) =>
    (await connectFrom(p[who], p.server.ipv4, port, { timeoutS: who === "client" ? 3 : 1 })).result;

/** ssh, the exposures given, and forward with `policy` and `guestInterfaces`. */
export const guestsPolicy = (forward: "drop" | "accept", guests: string[], exposures: unknown[]): ProofPolicy => ({
  exposures: [{ service: "ssh" }, ...exposures],
  forward: { policy: forward, guestInterfaces: guests },
});

/**
 * A published port with an exposure answers its source and not the attacker; one without answers
 * nobody; forward accept is the bypass, and drop closes it again (`unexposedClosedAgain`: the
 * unexposed port is checked closed again too).
 */
export async function provePublishedPorts(
  p: ProofLab,
  policy: (forward: "drop" | "accept") => ProofPolicy,
  o: { exposed: number; unexposed: number; unexposedClosedAgain: boolean },
): Promise<void> {
  const reach = reachFrom(p);
  const { exposed, unexposed } = o;
  const applied = await applyToServer(p, policy("drop"));
  expect(applied.artefacts.nft).toContain(
    `ct status dnat ip saddr @app_v4 meta l4proto tcp ct original proto-dst ${exposed} counter accept`,
  );
  expect(await reach("client", exposed)).toBe("open");
  expect(await reach("attacker", exposed)).toBe("timeout");
  expect(await reach("client", unexposed)).toBe("timeout");
  expect(await reach("attacker", unexposed)).toBe("timeout");

  await applyToServer(p, policy("accept"));
  await flushConntrack(p.server);
  expect(await reach("attacker", exposed), "forward accept: the bypass").toBe("open");
  expect(await reach("attacker", unexposed), "forward accept: the bypass").toBe("open");
  await applyToServer(p, policy("drop"));
  await flushConntrack(p.server);
  expect(await reach("attacker", exposed), "closed again").toBe("timeout");
  if (o.unexposedClosedAgain) expect(await reach("attacker", unexposed), "closed again").toBe("timeout");
  p.controls.push({
    test: "published port under forward policy accept",
    change: "applied forward.policy accept",
    observed: `attacker reached tcp/${exposed} and tcp/${unexposed}; with drop again: timeout`,
  });
}

/** From container `web`: the lab peer's banner service (routed) and container `hiddenIp`'s httpd (bridged). */
export function guestPaths(
  exec: (...args: string[]) => string,
  o: { peer: string; port: number; hiddenIp: string; waitS: number },
): { toPeer: () => string; toContainer: () => string } {
  return {
    toPeer: () => exec("exec", "web", "nc", "-w", String(o.waitS), o.peer, String(o.port)),
    toContainer: () =>
      exec("exec", "web", "sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w ${o.waitS} ${o.hiddenIp} 80 2>&1`),
  };
}

/**
 * Negative control: with `bridge` not declared (guestInterfaces names virbr9, which this host lacks:
 * the refusal overridden) neither path works; with `policy` applied again the peer is reached (and the
 * container too, with `containerAgain`). `policy(guests)` is forward drop; without `guests`, the bridge declared.
 */
export async function proveGuestsCutOffUndeclared(
  p: ProofLab,
  policy: (guests?: string[]) => ProofPolicy,
  paths: { toPeer: () => string; toContainer: () => string },
  o: { bridge: string; banner: string; containerAgain: boolean },
): Promise<void> {
  await applyToServer(p, policy(["virbr9"]));
  await flushConntrack(p.server);
  const routed = paths.toPeer();
  const bridged = paths.toContainer();
  expect(routed).not.toContain("HNFT-PEER");
  expect(bridged).not.toContain(o.banner);
  p.controls.push({
    test: "containers' network",
    change: `applied guestInterfaces [virbr9] (${o.bridge} not declared) with forward drop`,
    observed: `container to lab peer (routed): ${JSON.stringify(routed)}; container to container (bridged): ${JSON.stringify(bridged)}`,
  });
  await applyToServer(p, policy());
  expect(paths.toPeer()).toContain("HNFT-PEER");
  if (o.containerAgain) expect(paths.toContainer()).toContain(o.banner);
}

/** The live table matches `policy`: no drift. */
export async function expectNoDrift(p: ProofLab, policy: ProofPolicy): Promise<void> {
  const drift = await observePolicy(connectionFor(p.server), assertPolicy({ ...policy, table: PROOF_TABLE }), {
    paths: HOST_PATHS,
  });
  expect(drift.inSync, formatDrift(drift).join("\n")).toBe(true);
}

/** An apply of ssh only, without forward.guestInterfaces: what it threw, and the live table before and after. */
export async function applyWithoutGuests(p: ProofLab): Promise<{ err: unknown; before: string; after: string }> {
  const list = async () => (await p.server.sh(`nft -s list table inet ${PROOF_TABLE}`)).stdout;
  const before = await list();
  const err = await applyPolicy(
    connectionFor(p.server),
    assertPolicy({ exposures: [{ service: "ssh" }], table: PROOF_TABLE }),
    { paths: HOST_PATHS, confirmTimeoutSeconds: 20 },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  return { err, before, after: await list() };
}
