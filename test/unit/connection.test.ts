import { generateKeyPairSync } from "node:crypto";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { formatIssues } from "../../src/fields/issues";
import {
  type Connection,
  ConnectionSchema,
  credentialsOf,
  fingerprintOf,
  parseConnection,
  parseHostKey,
  redact,
} from "../../src/model/connection";
import { generateKeyPair } from "../support/keys";

// A fixed host key and the fingerprint `ssh-keygen -lf` prints for it.
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKqtU7CQvmKAh3oB/IpoB7oPwQkfxFPz/FrT70pqQfTv fixed@test";
const HOST_FP = "SHA256:+qBbmGrhaQdNeMoh/Tjn2QqfSdATnc1GNiyXk4sFbEg";

const PASSPHRASE = "unit-passphrase-Zq9";
const PASSWORD = "unit-password-Xk7";
const plain = generateKeyPair();
const encrypted = generateKeyPair({ passphrase: PASSPHRASE, rounds: 2 });
const rsaPemEncrypted = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "pkcs1", format: "pem" },
  privateKeyEncoding: { type: "pkcs1", format: "pem", cipher: "aes-256-cbc", passphrase: PASSPHRASE },
}).privateKey;
const pkcs8 = generateKeyPairSync("ed25519", {
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
}).privateKey;

const base = { host: "198.18.1.10", privateKey: plain.private, hostKey: HOST_KEY };

function errorsOf(input: unknown, path?: string): string[] {
  const r = parseConnection(input, path);
  if (r.ok) throw new Error(`expected errors, got ${JSON.stringify(r.value)}`);
  return formatIssues(r.issues);
}

function connectionOf(input: unknown): Connection {
  const r = parseConnection(input);
  if (!r.ok) throw new Error(formatIssues(r.issues).join("\n"));
  return r.value;
}

/** Every secret string, and every line of every private key used in this file. */
function secretNeedles(): string[] {
  const keys = [plain.private, encrypted.private, rsaPemEncrypted, pkcs8];
  const lines = keys.flatMap((k) => k.split("\n").filter((l) => l.length >= 8 && !l.startsWith("-----")));
  return [PASSPHRASE, PASSWORD, "wrong-passphrase-Qw3", ...keys, ...lines];
}

function expectNoSecret(messages: string[]): void {
  const text = messages.join("\n");
  for (const needle of secretNeedles())
    expect(text.includes(needle), `secret leaked: ${needle.slice(0, 12)}...`).toBe(false);
}

describe("parseConnection: defaults", () => {
  it("applies the @pulumi/command defaults and ours", () => {
    const v = connectionOf(base);
    expect(v).toMatchObject({
      host: "198.18.1.10",
      port: 22,
      user: "root",
      dialErrorLimit: 10,
      perDialTimeout: 15,
      insecureIgnoreHostKey: false,
      sudo: false,
    });
    expect(v.proxy).toBeUndefined();
  });

  it("sudo defaults to true for a non-root user, and can be turned off", () => {
    expect(connectionOf({ ...base, user: "hnftop" }).sudo).toBe(true);
    expect(connectionOf({ ...base, user: "hnftop", sudo: false }).sudo).toBe(false);
    expect(connectionOf({ ...base, sudo: true }).sudo).toBe(true);
  });

  it("accepts password-only, agent-only, and -1 / 0 as in @pulumi/command", () => {
    expect(connectionOf({ host: "h", password: PASSWORD, hostKey: HOST_KEY }).password).toBe(PASSWORD);
    expect(connectionOf({ host: "h", agentSocketPath: "/tmp/agent.sock", hostKey: HOST_KEY }).agentSocketPath).toBe(
      "/tmp/agent.sock",
    );
    const v = connectionOf({ ...base, dialErrorLimit: -1, perDialTimeout: 0 });
    expect([v.dialErrorLimit, v.perDialTimeout]).toEqual([-1, 0]);
  });

  it("is the same as ConnectionSchema.parse", () => {
    expect(ConnectionSchema.parse(base)).toEqual(connectionOf(base));
  });
});

describe("parseConnection: host key", () => {
  it("requires a pinned host key unless insecureIgnoreHostKey is true", () => {
    expect(errorsOf({ host: "h", password: PASSWORD })).toEqual([
      "connection.hostKey: required (pin the host's public key) unless insecureIgnoreHostKey is true",
    ]);
    expect(connectionOf({ host: "h", password: PASSWORD, insecureIgnoreHostKey: true }).insecureIgnoreHostKey).toBe(
      true,
    );
  });

  it("rejects hostKey together with insecureIgnoreHostKey", () => {
    expect(errorsOf({ ...base, insecureIgnoreHostKey: true })).toEqual([
      "connection.insecureIgnoreHostKey: cannot be combined with connection.hostKey (a pinned key is always checked)",
    ]);
  });

  it("accepts an OpenSSH public key line (with or without comment) and a SHA256 fingerprint", () => {
    expect(connectionOf({ ...base, hostKey: HOST_KEY.split(" ").slice(0, 2).join(" ") }).hostKey).toBeDefined();
    expect(connectionOf({ ...base, hostKey: HOST_FP }).hostKey).toBe(HOST_FP);
    expect(connectionOf({ ...base, hostKey: `${HOST_FP}=` }).hostKey).toBe(`${HOST_FP}=`);
  });

  it("computes fingerprints exactly as ssh-keygen -lf does", () => {
    const pinned = parseHostKey(HOST_KEY);
    expect(pinned).toMatchObject({ ok: true, value: { kind: "key", type: "ssh-ed25519", fingerprint: HOST_FP } });
    expect(parseHostKey(`${HOST_FP}=`)).toEqual({ ok: true, value: { kind: "fingerprint", fingerprint: HOST_FP } });
    if (pinned.ok && "blob" in pinned.value) expect(fingerprintOf(pinned.value.blob)).toBe(HOST_FP);
  });

  it.each([
    ["SHA256:tooshort", "connection.hostKey: not a SHA256 fingerprint"],
    ["MD5:aa:bb", "connection.hostKey: MD5 fingerprints are not accepted"],
    [`198.18.1.10 ${HOST_KEY}`, "connection.hostKey: looks like a known_hosts line"],
    ["ssh-ed25519 AAAAnotbase64!!", "connection.hostKey: not an OpenSSH public key line"],
    ["hello world", "connection.hostKey: not an OpenSSH public key line"],
    [plain.private, "connection.hostKey: is a private key; pin the host's PUBLIC key"],
  ])("rejects hostKey %#", (hostKey, message) => {
    const errors = errorsOf({ ...base, hostKey });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(message);
    expectNoSecret(errors);
  });
});

describe("parseConnection: credentials", () => {
  it("requires one of privateKey, password or agentSocketPath", () => {
    expect(errorsOf({ host: "h", hostKey: HOST_KEY })).toEqual([
      "connection: one of privateKey, password or agentSocketPath is required",
    ]);
  });

  it("rejects text that is not a private key", () => {
    expect(errorsOf({ ...base, privateKey: "not a key at all" })).toEqual([
      "connection.privateKey: not a private key (expected PEM or OpenSSH private key text)",
    ]);
    expect(errorsOf({ ...base, privateKey: plain.public })).toEqual([
      "connection.privateKey: not a private key (this is a public key)",
    ]);
    expect(errorsOf({ ...base, privateKey: "~/.ssh/id_ed25519" })).toEqual([
      "connection.privateKey: not a private key (pass the key's text, not a file path)",
    ]);
    const pk8 = errorsOf({ ...base, privateKey: pkcs8 });
    expect(pk8).toHaveLength(1);
    expect(pk8[0]).toMatch(/^connection\.privateKey: PKCS#8 keys .* not supported by ssh2/);
    expectNoSecret(pk8);
  });

  it("asks for the passphrase of an encrypted key", () => {
    expect(errorsOf({ ...base, privateKey: encrypted.private })).toEqual([
      "connection.privateKeyPassword: required: connection.privateKey is encrypted",
    ]);
  });

  it.each([
    ["OpenSSH ed25519", encrypted.private],
    ["PEM RSA", rsaPemEncrypted],
  ])("reports a wrong passphrase (%s) without echoing it", (_name, privateKey) => {
    const errors = errorsOf({ ...base, privateKey, privateKeyPassword: "wrong-passphrase-Qw3" });
    expect(errors).toEqual(["connection.privateKeyPassword: cannot decrypt connection.privateKey"]);
    expectNoSecret(errors);
    expect(connectionOf({ ...base, privateKey, privateKeyPassword: PASSPHRASE }).privateKeyPassword).toBe(PASSPHRASE);
  });

  it("rejects privateKeyPassword without privateKey", () => {
    expect(errorsOf({ host: "h", hostKey: HOST_KEY, password: PASSWORD, privateKeyPassword: PASSPHRASE })).toEqual([
      "connection.privateKeyPassword: set without connection.privateKey",
    ]);
  });

  it("rejects empty and non-string secrets without echoing them", () => {
    const errors = errorsOf({ ...base, password: "", privateKeyPassword: 12345 });
    expect(errors).toEqual(
      expect.arrayContaining([
        "connection.password: must not be empty",
        "connection.privateKeyPassword: must be a string",
      ]),
    );
    expect(errors.join("\n")).not.toContain("12345");
  });
});

describe("parseConnection: fields", () => {
  it("rejects unknown fields, with a hint for a miscased name", () => {
    expect(errorsOf({ ...base, bogus: 1 })).toEqual(["connection.bogus: unknown field"]);
    expect(errorsOf({ ...base, PrivateKey: "x" })).toEqual([
      "connection.PrivateKey: unknown field (did you mean privateKey?)",
    ]);
  });

  it.each([0, 70000, 22.5, -22])("rejects port %s", (port) => {
    expect(errorsOf({ ...base, port })).toEqual(["connection.port: must be a whole number between 1 and 65535"]);
  });

  it("rejects a port given as a string, and a port inside host", () => {
    expect(errorsOf({ ...base, port: "22" })).toEqual(["connection.port: must be a number"]);
    expect(errorsOf({ ...base, host: "198.18.1.10:22" })).toEqual([
      'connection.host: must not include a port (use the port field, not "host:port")',
    ]);
    expect(connectionOf({ ...base, host: "2001:2:0:1::11" }).host).toBe("2001:2:0:1::11");
    expect(errorsOf({ ...base, host: "[2001:2:0:1::11]" })[0]).toMatch(
      /^connection\.host: write an IPv6 address without brackets/,
    );
  });

  it("requires host, and a non-empty one", () => {
    expect(errorsOf({ privateKey: plain.private, hostKey: HOST_KEY })).toEqual(["connection.host: required"]);
    expect(errorsOf({ ...base, host: "" })).toEqual(["connection.host: must not be empty"]);
  });

  it("validates dialErrorLimit, perDialTimeout, user, sudo, insecureIgnoreHostKey", () => {
    expect(errorsOf({ ...base, dialErrorLimit: 0 })).toEqual([
      "connection.dialErrorLimit: must be a whole number >= 1, or -1 for unlimited",
    ]);
    expect(errorsOf({ ...base, perDialTimeout: -1 })).toEqual([
      "connection.perDialTimeout: must be a number of seconds >= 0 (0 = no limit)",
    ]);
    expect(errorsOf({ ...base, user: "a b" })).toEqual(["connection.user: must be a plain user name"]);
    expect(errorsOf({ ...base, sudo: "yes" })).toEqual(["connection.sudo: must be true or false"]);
    expect(errorsOf({ ...base, insecureIgnoreHostKey: 1 })).toEqual([
      "connection.insecureIgnoreHostKey: must be true or false",
    ]);
  });

  it("rejects a non-object", () => {
    expect(errorsOf("ssh://root@h")).toEqual(["connection: must be an object"]);
    expect(errorsOf(null)).toEqual(["connection: must be an object"]);
  });

  it("prefixes errors with the given path", () => {
    expect(errorsOf({ host: "h", password: PASSWORD }, "hosts[2].connection")).toEqual([
      "hosts[2].connection.hostKey: required (pin the host's public key) unless insecureIgnoreHostKey is true",
    ]);
  });
});

describe("parseConnection: proxy", () => {
  const proxy = { host: "198.18.1.11", privateKey: plain.private, hostKey: HOST_KEY };

  it("applies defaults to the proxy too", () => {
    expect(connectionOf({ ...base, proxy }).proxy).toMatchObject({
      port: 22,
      user: "root",
      dialErrorLimit: 10,
      perDialTimeout: 15,
    });
  });

  it("validates the proxy with the same rules, naming connection.proxy.<field>", () => {
    expect(errorsOf({ ...base, proxy: { host: "b" } })).toEqual([
      "connection.proxy: one of privateKey, password or agentSocketPath is required",
      "connection.proxy.hostKey: required (pin the host's public key) unless insecureIgnoreHostKey is true",
    ]);
    const errors = errorsOf({
      ...base,
      proxy: { ...proxy, privateKey: encrypted.private, privateKeyPassword: "wrong-passphrase-Qw3" },
    });
    expect(errors).toEqual(["connection.proxy.privateKeyPassword: cannot decrypt connection.proxy.privateKey"]);
    expect(errorsOf({ ...base, proxy: { ...proxy, port: 0 } })).toEqual([
      "connection.proxy.port: must be a whole number between 1 and 65535",
    ]);
  });

  it("rejects proxy and sudo inside a proxy", () => {
    expect(errorsOf({ ...base, proxy: { ...proxy, sudo: true, proxy } })).toEqual([
      "connection.proxy.sudo: unknown field (a proxy takes the connection fields except proxy and sudo)",
      "connection.proxy.proxy: unknown field (a proxy takes the connection fields except proxy and sudo)",
    ]);
  });
});

describe("no secret in any message", () => {
  it("never echoes password, privateKey or privateKeyPassword, whatever is wrong", () => {
    const inputs: unknown[] = [
      { host: "h h", password: PASSWORD, privateKey: PASSWORD, hostKey: PASSWORD },
      {
        host: "h",
        password: PASSWORD,
        privateKey: encrypted.private,
        privateKeyPassword: "wrong-passphrase-Qw3",
        hostKey: PASSWORD,
      },
      { host: "h", privateKey: rsaPemEncrypted, privateKeyPassword: PASSPHRASE, port: PASSWORD },
      { host: "h", privateKey: pkcs8, hostKey: plain.private, [PASSWORD.slice(0, 4)]: PASSWORD },
      { host: PASSWORD, password: PASSWORD, proxy: { host: "p", password: PASSWORD, privateKey: rsaPemEncrypted } },
      { host: "h", hostKey: HOST_KEY, privateKey: `${plain.private.slice(0, 120)}`, privateKeyPassword: PASSPHRASE },
    ];
    const all: string[] = [];
    for (const input of inputs) {
      const r = parseConnection(input);
      expect(r.ok).toBe(false);
      if (!r.ok) all.push(...formatIssues(r.issues));
    }
    expect(all.length).toBeGreaterThan(10);
    expectNoSecret(all);
    for (const e of all) expect(e).toMatch(/^connection(\.[A-Za-z]+)*: \S/);
  });

  it("redact() removes secrets of the connection and its proxy, key line by key line", () => {
    const conn = {
      ...base,
      password: PASSWORD,
      proxy: { host: "p", privateKey: rsaPemEncrypted, privateKeyPassword: PASSPHRASE },
    };
    const keyLine = plain.private.split("\n")[2] ?? "";
    const rsaLine = rsaPemEncrypted.split("\n")[5] ?? "";
    const text = `pw=${PASSWORD} pp=${PASSPHRASE} key=${plain.private} line=${keyLine} rsa=${rsaLine} host=198.18.1.10`;
    const out = redact(text, conn);
    for (const needle of [PASSWORD, PASSPHRASE, plain.private, keyLine, rsaLine]) expect(out).not.toContain(needle);
    expect(out).toContain("host=198.18.1.10");
    expect(out).toContain("[REDACTED]");
    expect(redact("nothing secret", undefined)).toBe("nothing secret");
  });
});

describe("a validated connection carries its parsed credentials", () => {
  it("parses (and decrypts) the key and the pinned host key once, for the connection and its proxy", () => {
    const conn = connectionOf({
      ...base,
      privateKey: encrypted.private,
      privateKeyPassword: PASSPHRASE,
      proxy: { ...base, host: "198.18.1.11" },
    });
    const first = credentialsOf(conn);
    const again = credentialsOf(conn);
    if (!first.ok || !again.ok) throw new Error("expected credentials");
    expect(first.value.key).toBeDefined();
    expect(again.value.key).toBe(first.value.key);
    expect(first.value.hostKey).toMatchObject({ kind: "key", fingerprint: HOST_FP });
    const [proxyA, proxyB] = [credentialsOf(conn.proxy!), credentialsOf(conn.proxy!)];
    expect(proxyA.ok && proxyB.ok && proxyA.value.key !== undefined && proxyA.value.key === proxyB.value.key).toBe(
      true,
    );
    // a copy did not come from parseConnection: its credentials are parsed again, and a wrong passphrase shows
    const copy = { ...conn, privateKeyPassword: "wrong-passphrase-Qw3" };
    const refused = credentialsOf(copy);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.issues.map((i) => i.code)).toEqual(["wrong-passphrase"]);
    // neither JSON nor inspect of the connection shows the parsed key
    const shown = JSON.stringify(conn) + inspect(conn, { showHidden: true, depth: 5 });
    expect(shown).not.toContain("ParsedKey");
    expect(shown).not.toContain("OpenSSH_Private");
  });
});
