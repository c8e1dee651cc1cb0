import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { IMPORTED_POLICY, importedInputs, parseTableId, tableId } from "../../src/pulumi/import-id";

describe("HostTable ids", () => {
  it("parses [user@]host[:port]/table, IPv6 in brackets", () => {
    expect(parseTableId("root@198.51.100.7:22/web")).toEqual({
      user: "root",
      host: "198.51.100.7",
      port: 22,
      table: "web",
    });
    expect(parseTableId("db.example.net/fw-1")).toEqual({ host: "db.example.net", table: "fw-1" });
    expect(parseTableId("admin@[2001:db8::5]/web")).toEqual({ user: "admin", host: "2001:db8::5", table: "web" });
    expect(parseTableId("[2001:db8::5]:2222/web")).toEqual({ host: "2001:db8::5", port: 2222, table: "web" });
  });

  it("refuses what does not say which host and which table, naming the format", () => {
    for (const bad of ["web", "root@198.51.100.7:22", "198.51.100.7:22/inet/web", "2001:db8::5/web", "a b/web", ""]) {
      expect(() => parseTableId(bad), bad).toThrow("expected [user@]host[:port]/table");
    }
    expect(() => parseTableId("h:70000/web")).toThrow("port 70000 is not between 1 and 65535");
    expect(() => parseTableId("h/ip")).toThrow('table "ip" is an nft keyword');
  });

  it("create's ids read back as the same host and table", () => {
    expect(tableId({ host: "198.51.100.7" }, "web")).toBe("root@198.51.100.7:22/web");
    expect(parseTableId(tableId({ host: "2001:db8::5", port: 2222, user: "ops" }, "web"))).toEqual({
      user: "ops",
      host: "2001:db8::5",
      port: 2222,
      table: "web",
    });
  });
});

describe("what an import starts from", () => {
  const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-material-xyz\n-----END OPENSSH PRIVATE KEY-----\n";

  it("the id's address over the environment's connection, and a policy that opens nothing", () => {
    const env = {
      HNFT_IMPORT_CONNECTION: JSON.stringify({ host: "ignored", privateKey: KEY, hostKey: "ssh-ed25519 AAAA" }),
    };
    expect(importedInputs("ops@198.51.100.7:2222/web", env)).toEqual({
      table: "web",
      connection: { host: "198.51.100.7", port: 2222, user: "ops", privateKey: KEY, hostKey: "ssh-ed25519 AAAA" },
      policy: IMPORTED_POLICY,
    });
  });

  it("reads the connection from HNFT_IMPORT_CONNECTION_FILE", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-import-id-"));
    try {
      fs.writeFileSync(path.join(dir, "c.json"), JSON.stringify({ password: "pw-123456" }));
      expect(
        importedInputs("198.51.100.7/web", { HNFT_IMPORT_CONNECTION_FILE: path.join(dir, "c.json") }).connection,
      ).toEqual({ host: "198.51.100.7", password: "pw-123456" });
      expect(() =>
        importedInputs("198.51.100.7/web", { HNFT_IMPORT_CONNECTION_FILE: path.join(dir, "none.json") }),
      ).toThrow("HNFT_IMPORT_CONNECTION_FILE: cannot read");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("without a connection, or with one that is not a JSON object, says which variable; never echoes its text", () => {
    expect(() => importedInputs("198.51.100.7/web", {})).toThrow(
      /set HNFT_IMPORT_CONNECTION .* or HNFT_IMPORT_CONNECTION_FILE/,
    );
    let message = "";
    try {
      importedInputs("198.51.100.7/web", { HNFT_IMPORT_CONNECTION: `{"privateKey": "${KEY}` });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe("HNFT_IMPORT_CONNECTION: not valid JSON");
    expect(() => importedInputs("198.51.100.7/web", { HNFT_IMPORT_CONNECTION: "[1]" })).toThrow(
      "expected a JSON object of connection fields",
    );
  });
});
