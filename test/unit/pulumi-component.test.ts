import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { HostOptionsFields } from "../../src/model/host-options";
import { PolicyFields } from "../../src/model/policy";
import { HostFirewall, type HostFirewallArgs, HostFirewallArgsError } from "../../src/pulumi/component";
import { fromLineMap, type LineMap, toLineMap } from "../../src/pulumi/line-map";
import { check } from "../../src/pulumi/provider-impl";
import { FIREWALL_OUTPUT_KEYS, POLICY_KEYS } from "../../src/pulumi/types";
import { render } from "../../src/render";
import { ruleLineGroup, setElementOf } from "../../src/render/rule-lines";
import { generatePrivateKey, TEST_HOST_KEY } from "../support/keys";

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
let registered: Registered[] = [];
let privateKey = "";
const HOST_KEY = TEST_HOST_KEY;

beforeAll(() => {
  privateKey = generatePrivateKey();
});

beforeEach(() => {
  registered = [];
});

beforeAll(async () => {
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "hnft",
    "test",
    false,
  );
});

const settle = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
const connection = () => ({ host: "198.51.100.7", privateKey, hostKey: HOST_KEY });

describe("HostFirewall under mocks", () => {
  it("registers the component and one HostTable whose checked inputs are the rendered lines", async () => {
    const fw = new HostFirewall("Web 1!", {
      connection: connection(),
      exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "50000-50100" }],
      hostPaths: { stateRoot: "/etc/hardened-nftables/.state" },
    });
    await settle(fw.hostTable.urn);
    const expected = render(
      { exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "50000-50100" }] },
      { table: "Web-1" },
    );

    expect(registered.map((r) => [r.type, r.name])).toEqual([
      ["hardened-nftables:index:HostFirewall", "Web 1!"],
      ["hardened-nftables:index:HostTable", "Web 1!-table"],
    ]);
    const registeredInputs = registered[1]!.inputs;
    const plainConnection = (registeredInputs.connection as Record<string, unknown>).value;
    const { inputs, failures } = await check(undefined, { ...registeredInputs, connection: plainConnection });
    expect(failures).toEqual([]);
    expect(inputs.table).toBe("Web-1");
    expect(inputs.target).toBe("root@198.51.100.7:22");
    expect(inputs.rules).toEqual(toLineMap(expected.ruleLines, ruleLineGroup, setElementOf));
    expect(fromLineMap(inputs.sysctl as LineMap)).toEqual(expected.sysctl.trimEnd().split("\n"));
    expect(fromLineMap(inputs.modprobe as LineMap)).toEqual(expected.modprobe.trimEnd().split("\n"));
    expect(inputs.drift).toEqual([]);
    // the policy goes to HostTable as its JSON text (one value, not one per prefix)
    expect(JSON.parse(inputs.policy as string)).toEqual({
      exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "50000-50100" }],
    });
    expect(inputs.hostPaths).toEqual({ stateRoot: "/etc/hardened-nftables/.state" });
    expect(await settle(fw.renderedTable)).toBe(expected.nft);
    expect(await settle(fw.ruleLines)).toEqual(expected.ruleLines);
    expect(await settle(fw.table)).toBe("Web-1");
  });

  it("stores no code in the state: the inputs are the table, the connection and the policy as written", async () => {
    const fw = new HostFirewall("thin", { connection: connection(), exposures: [{ service: "ssh" }] });
    await settle(fw.hostTable.urn);
    const inputs = registered[1]!.inputs;
    expect(inputs.__provider).toBeUndefined();
    expect(Object.keys(inputs).sort()).toEqual(["connection", "policy", "table"]);
    expect(JSON.stringify(inputs)).not.toContain("require(");
  });

  it("stores the connection as a secret (input and output)", async () => {
    const fw = new HostFirewall("secret", {
      connection: { ...connection(), password: "hunter2-hunter2" },
      exposures: [{ service: "ssh" }],
    });
    await settle(fw.hostTable.urn);
    const raw = registered[1]!.inputs.connection as Record<string, unknown>;
    expect(raw[SECRET_SIG]).toBeDefined();
    expect(await pulumi.isSecret(fw.hostTable.connection)).toBe(true);
    expect(await pulumi.isSecret(fw.target)).toBe(false);
    expect(await settle(fw.target)).toBe("root@198.51.100.7:22");
  });

  it("an invalid plain policy throws in the constructor with every field path, and registers nothing", () => {
    let error: unknown;
    try {
      new HostFirewall("bad", {
        connection: { host: "198.51.100.7:22", password: "hunter2-hunter2", insecureIgnoreHostKey: true },
        exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "51000-50000" }],
        log: { rate: "often" },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HostFirewallArgsError);
    const message = (error as Error).message;
    expect(message).toContain("exposures[1].passivePorts: range 51000-50000 is reversed");
    expect(message).toContain("log.rate: must look like");
    expect(message).toContain("connection.host: must not include a port");
    expect(message).not.toContain("hunter2");
    expect((error as HostFirewallArgsError).errors.length).toBe(3);
    expect(registered).toEqual([]);
  });

  it("a policy built from Outputs is validated when its values are known (and fails the program)", () => {
    // Under the real CLI the rejected Output fails the program with this message. Vitest would
    // count the rejection as an unhandled error, so this runs the package in plain Node (its
    // source through tsx's require hook, so the unit tier needs no build).
    const script = `
      const pulumi = require("@pulumi/pulumi");
      const types = [];
      pulumi.runtime.setMocks({ newResource: (a) => { types.push(a.type); return { id: "x", state: a.inputs }; }, call: (a) => a.inputs }, "hnft", "test", false);
      const errors = new Set();
      process.on("unhandledRejection", (e) => errors.add(String(e && e.message)));
      const { HostFirewall } = require("./src/pulumi");
      new HostFirewall("later", {
        connection: { host: "198.51.100.7", password: "hunter2-hunter2", insecureIgnoreHostKey: true },
        exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: pulumi.output("9-2") }],
      });
      setTimeout(() => { console.log(JSON.stringify({ types, errors: [...errors] })); process.exit(0); }, 1500);
    `;
    const r = spawnSync(process.execPath, ["--require", "tsx/cjs", "-e", script], {
      cwd: path.resolve(__dirname, "../.."),
      encoding: "utf8",
      timeout: 30_000,
    });
    const out = JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { types: string[]; errors: string[] };
    expect(out.errors.join("\n")).toContain("exposures[1].passivePorts: range 9-2 is reversed");
    expect(out.errors.join("\n")).not.toContain("hunter2");
    expect(out.types).toEqual(["hardened-nftables:index:HostFirewall"]);
  });

  it("a plain policy is checked in the constructor even when the connection holds a secret Output", () => {
    expect(
      () =>
        new HostFirewall("bad-policy-secret-key", {
          connection: { host: "198.51.100.7", privateKey: pulumi.secret(privateKey), hostKey: HOST_KEY },
          exposures: [{ service: "ssh" }, { service: "ftp", passivePorts: "51000-50000" }],
        }),
    ).toThrow(/exposures\[1\]\.passivePorts: range 51000-50000 is reversed/);
    expect(registered).toEqual([]);
  });

  it("accepts Inputs everywhere and renders the same table", async () => {
    const fw = new HostFirewall("inputs", {
      connection: pulumi.output(connection()),
      table: pulumi.output("web"),
      exposures: pulumi.output([{ service: "ssh" as const, sources: [pulumi.output("203.0.113.0/24")] }]),
      output: { policy: pulumi.output("drop" as const) },
    });
    await settle(fw.hostTable.urn);
    const expected = render({
      table: "web",
      exposures: [{ service: "ssh", sources: ["203.0.113.0/24"] }],
      output: { policy: "drop" },
    });
    const registeredInputs = registered[1]!.inputs;
    const { inputs } = await check(undefined, {
      ...registeredInputs,
      connection: (registeredInputs.connection as Record<string, unknown>).value,
    });
    expect(inputs.rules).toEqual(toLineMap(expected.ruleLines, ruleLineGroup, setElementOf));
    expect(inputs.table).toBe("web");
  });

  it("passes every policy field to the table: trusted interfaces, denied and reverse path too", async () => {
    const policy = {
      exposures: [
        { service: "ssh" as const, interfaces: ["eth1"] },
        { name: "ha", protocol: "vrrp" as const },
      ],
      trustedInterfaces: ["wg0"],
      denied: "reject" as const,
      reversePath: "strict" as const,
    };
    const fw = new HostFirewall("scoped", { connection: connection(), table: "scoped", ...policy });
    await settle(fw.hostTable.urn);
    expect(await settle(fw.renderedTable)).toBe(render({ table: "scoped", ...policy }).nft);
    expect(JSON.parse(registered[1]!.inputs.policy as string)).toEqual(policy);
  });

  it("derives a safe default table name from the resource name", async () => {
    const { tableNameFor } = await import("../../src/pulumi/names");
    expect(tableNameFor("web-1")).toBe("web-1");
    expect(tableNameFor("fw/db.prod")).toBe("fw-db-prod");
    expect(tableNameFor("1st")).toBe("hnft-1st");
    expect(tableNameFor("ip")).toBe("hnft-ip");
    expect(tableNameFor("x".repeat(80))).toHaveLength(64);
  });

  it("every field of the policy schema reaches HostTable (POLICY_KEYS is the schema's keys); every output is registered", async () => {
    // compile time: HostFirewallArgs has every policy field and host option (the build fails otherwise)
    const everyField: [
      Exclude<keyof typeof PolicyFields | keyof typeof HostOptionsFields, keyof HostFirewallArgs>,
    ] extends [never]
      ? true
      : false = true;
    expect(everyField).toBe(true);
    expect([...POLICY_KEYS].sort()).toEqual(
      Object.keys(PolicyFields)
        .filter((k) => k !== "table")
        .sort(),
    );

    // one value per field, from the field's own example or default: a new field needs no edit here
    const json = z.toJSONSchema(z.strictObject(PolicyFields), { io: "input", unrepresentable: "any" }) as {
      properties: Record<string, { default?: unknown }>;
    };
    const example = (key: (typeof POLICY_KEYS)[number]) =>
      (PolicyFields[key].meta()?.examples as unknown[] | undefined)?.[0];
    const policy = Object.fromEntries(POLICY_KEYS.map((key) => [key, example(key) ?? json.properties[key]!.default]));
    expect(Object.values(policy)).not.toContain(undefined);
    const fw = new HostFirewall("every-field", {
      ...(policy as object as HostFirewallArgs),
      connection: connection(),
      confirmTimeoutSeconds: 20,
    });
    await settle(fw.hostTable.urn);
    const inputs = registered[1]!.inputs;
    expect(JSON.parse(inputs.policy as string)).toEqual(policy);
    expect(inputs.confirmTimeoutSeconds).toBe(20);
    for (const key of FIREWALL_OUTPUT_KEYS)
      expect(pulumi.Output.isInstance((fw as unknown as Record<string, unknown>)[key]), key).toBe(true);
  });
});
