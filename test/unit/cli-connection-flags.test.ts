import { parseArgs } from "node:util";
import { describe, expect, it } from "vitest";
import {
  asFlagIssue,
  CONNECTION_OPTIONS,
  type ConnectionFlagValues,
  connectionFromFlags,
  parseHostSpec,
} from "../../src/cli/connection-flags";
import { formatIssue, formatIssues, type Issue } from "../../src/fields/issues";
import type { Connection } from "../../src/model/connection";
import { generateKeyPair } from "../support/keys";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKqtU7CQvmKAh3oB/IpoB7oPwQkfxFPz/FrT70pqQfTv fixed@test";
const PASSPHRASE = "flags-passphrase-Jq4";
const PASSWORD = "flags-password-Rt2";
const plain = generateKeyPair();
const proxyKey = generateKeyPair();
const encrypted = generateKeyPair({ passphrase: PASSPHRASE, rounds: 2 });

const FILES: Record<string, string> = {
  "/keys/id": plain.private,
  "/keys/proxy": proxyKey.private,
  "/keys/enc": encrypted.private,
  "/keys/id.pub": plain.public,
};
const readFile = (p: string) => {
  const text = FILES[p];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: "ENOENT" });
  return text;
};

/** Parses argv exactly as a command does, then builds the connection. */
function fromArgv(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const { values } = parseArgs({ args: argv, options: CONNECTION_OPTIONS, strict: true });
  return connectionFromFlags(values as ConnectionFlagValues, { env, readFile });
}

function ok(argv: string[], env: NodeJS.ProcessEnv = {}): Connection {
  const r = fromArgv(argv, env);
  if (!r.ok) throw new Error(formatIssues(r.issues).join("\n"));
  return r.value;
}

function errors(argv: string[], env: NodeJS.ProcessEnv = {}): string[] {
  const r = fromArgv(argv, env);
  if (r.ok) throw new Error("expected errors");
  expectNoSecret(formatIssues(r.issues));
  return formatIssues(r.issues);
}

function expectNoSecret(messages: string[]): void {
  const text = messages.join("\n");
  const keyLines = [plain.private, proxyKey.private, encrypted.private].flatMap((k) =>
    k.split("\n").filter((l) => l.length >= 8 && !l.startsWith("-----")),
  );
  for (const needle of [PASSPHRASE, PASSWORD, "wrong-pass-Zz9", ...keyLines])
    expect(text.includes(needle), `secret leaked: ${needle.slice(0, 10)}`).toBe(false);
}

const KEYED = ["--identity", "/keys/id", "--host-key", HOST_KEY];

describe("parseHostSpec", () => {
  it.each([
    ["198.18.1.10", { host: "198.18.1.10" }],
    ["root@198.18.1.10", { user: "root", host: "198.18.1.10" }],
    ["op@web1.example:2222", { user: "op", host: "web1.example", port: 2222 }],
    ["[2001:2::1]:22", { host: "2001:2::1", port: 22 }],
    ["op@[2001:2::1]", { user: "op", host: "2001:2::1" }],
    ["2001:2::1", { host: "2001:2::1" }],
    ["op@2001:2::1", { user: "op", host: "2001:2::1" }],
  ])("%s", (spec, expected) => {
    const r = parseHostSpec("--host", spec);
    expect(r).toEqual({ ok: true, value: { user: undefined, port: undefined, ...expected } });
  });

  it.each([
    ["@198.18.1.10", "--host: empty user name"],
    ["root@", "--host: missing address"],
    ["[198.18.1.10]:22", "--host: brackets are for IPv6"],
    ["[2001:2::1", "--host: expected [IPv6]:PORT"],
    ["web1:ssh", '--host: port "ssh" must be a whole number'],
    ["[2001:2::1]:", '--host: port "" must be a whole number'],
  ])("%s is refused", (spec, message) => {
    const r = parseHostSpec("--host", spec);
    expect(!r.ok && formatIssue(r.issues[0]!)).toContain(message);
  });
});

describe("connectionFromFlags: values", () => {
  it("builds a root connection with a key; user, port, sudo and dial settings default", () => {
    const c = ok(["--host", "198.18.1.10", ...KEYED]);
    expect(c).toMatchObject({
      host: "198.18.1.10",
      port: 22,
      user: "root",
      sudo: false,
      hostKey: HOST_KEY,
      privateKey: plain.private,
      dialErrorLimit: 10,
      perDialTimeout: 15,
      insecureIgnoreHostKey: false,
    });
    expect(c.agentSocketPath).toBeUndefined();
  });

  it("sudo defaults on for a non-root user; --no-sudo and --sudo override", () => {
    expect(ok(["--host", "op@198.18.1.10", ...KEYED]).sudo).toBe(true);
    expect(ok(["--host", "op@198.18.1.10", "--no-sudo", ...KEYED]).sudo).toBe(false);
    expect(ok(["--host", "198.18.1.10", "--sudo", ...KEYED]).sudo).toBe(true);
  });

  it("IPv6 in brackets with a port, and bare", () => {
    expect(ok(["--host", "op@[2001:2::1]:2222", ...KEYED])).toMatchObject({
      host: "2001:2::1",
      port: 2222,
      user: "op",
    });
    expect(ok(["--host", "2001:2::1", ...KEYED])).toMatchObject({ host: "2001:2::1", port: 22 });
  });

  it("reads secrets from the named environment variables, never argv", () => {
    const c = ok(
      ["--host", "198.18.1.10", "--identity", "/keys/enc", "--passphrase-env", "PP", "--host-key", HOST_KEY],
      { PP: PASSPHRASE },
    );
    expect(c.privateKeyPassword).toBe(PASSPHRASE);
    const p = ok(["--host", "op@198.18.1.10", "--password-env", "PW", "--host-key", HOST_KEY], { PW: PASSWORD });
    expect(p.password).toBe(PASSWORD);
    expect(p.privateKey).toBeUndefined();
  });

  it("uses $SSH_AUTH_SOCK only when neither an identity nor a password is given; --agent always", () => {
    const env = { SSH_AUTH_SOCK: "/tmp/agent.sock" };
    expect(ok(["--host", "198.18.1.10", "--host-key", HOST_KEY], env).agentSocketPath).toBe("/tmp/agent.sock");
    expect(ok(["--host", "198.18.1.10", ...KEYED], env).agentSocketPath).toBeUndefined();
    expect(
      ok(["--host", "198.18.1.10", "--password-env", "PW", "--host-key", HOST_KEY], { ...env, PW: PASSWORD })
        .agentSocketPath,
    ).toBeUndefined();
    expect(ok(["--host", "198.18.1.10", "--agent", "/run/a.sock", ...KEYED], env).agentSocketPath).toBe("/run/a.sock");
  });

  it("--insecure-ignore-host-key works only when given, and never with --host-key", () => {
    expect(
      ok(["--host", "198.18.1.10", "--identity", "/keys/id", "--insecure-ignore-host-key"]).insecureIgnoreHostKey,
    ).toBe(true);
    expect(errors(["--host", "198.18.1.10", "--identity", "/keys/id"])).toEqual([
      "--host-key: required (pin the host's public key) unless --insecure-ignore-host-key is given",
    ]);
    expect(errors(["--host", "198.18.1.10", ...KEYED, "--insecure-ignore-host-key"])).toEqual([
      "--insecure-ignore-host-key: cannot be combined with --host-key (a pinned key is always checked)",
    ]);
  });

  it("builds the proxy hop with its own key and host key; dial settings apply to both hops", () => {
    const c = ok([
      "--host",
      "198.18.1.11",
      ...KEYED,
      "--proxy",
      "jump@198.18.1.10:2200",
      "--proxy-identity",
      "/keys/proxy",
      "--proxy-host-key",
      HOST_KEY,
      "--dial-timeout",
      "3",
      "--dial-attempts",
      "2",
    ]);
    expect(c).toMatchObject({ perDialTimeout: 3, dialErrorLimit: 2 });
    expect(c.proxy).toMatchObject({
      host: "198.18.1.10",
      port: 2200,
      user: "jump",
      privateKey: proxyKey.private,
      hostKey: HOST_KEY,
      perDialTimeout: 3,
      dialErrorLimit: 2,
    });
  });
});

describe("connectionFromFlags: errors name flags and hold no secret", () => {
  it("the host", () => {
    expect(errors([...KEYED])).toEqual(["--host: required ([USER@]ADDR[:PORT])"]);
    expect(errors(["--host", "198.18.1.10:70000", ...KEYED])).toEqual([
      "--host: port must be a whole number between 1 and 65535",
    ]);
    expect(errors(["--host", "we ird@198.18.1.10", ...KEYED])).toEqual(["--host: user must be a plain user name"]);
    expect(errors(["--host", "[198.18.1.10]", ...KEYED])).toEqual([
      '--host: brackets are for IPv6 addresses, got "[198.18.1.10]"',
    ]);
  });

  it("key files: unreadable, a public key, encrypted without or with the wrong passphrase", () => {
    expect(errors(["--host", "198.18.1.10", "--identity", "/keys/missing", "--host-key", HOST_KEY])).toEqual([
      "--identity: cannot read /keys/missing: ENOENT",
    ]);
    expect(errors(["--host", "198.18.1.10", "--identity", "/keys/id.pub", "--host-key", HOST_KEY])).toEqual([
      "--identity /keys/id.pub: not a private key (this is a public key)",
    ]);
    expect(errors(["--host", "198.18.1.10", "--identity", "/keys/enc", "--host-key", HOST_KEY])).toEqual([
      "--passphrase-env: required: --identity is encrypted",
    ]);
    expect(
      errors(["--host", "198.18.1.10", "--identity", "/keys/enc", "--passphrase-env", "PP", "--host-key", HOST_KEY], {
        PP: "wrong-pass-Zz9",
      }),
    ).toEqual(["--passphrase-env: cannot decrypt --identity"]);
  });

  it("passwords and passphrases on argv are refused without echoing them", () => {
    const e = errors(["--host", "198.18.1.10", ...KEYED, `--password=${PASSWORD}`, "--passphrase", PASSPHRASE]);
    expect(e).toContain(
      "--password: not accepted on the command line (argv shows in ps and shell history); use --password-env VAR",
    );
    expect(e).toContain(
      "--passphrase: not accepted on the command line (argv shows in ps and shell history); use --passphrase-env VAR",
    );
  });

  it("environment variables: unset, or a value where a name belongs (neither is echoed)", () => {
    expect(errors(["--host", "198.18.1.10", "--password-env", "NOPE", "--host-key", HOST_KEY])).toEqual([
      "--password-env: the environment variable it names is not set or is empty",
    ]);
    expect(errors(["--host", "198.18.1.10", "--password-env", `${PASSWORD}!`, "--host-key", HOST_KEY])).toEqual([
      "--password-env: expects the NAME of an environment variable (letters, digits, _), not its value",
    ]);
  });

  it("no way to authenticate, a bad host key, and several problems at once", () => {
    expect(errors(["--host", "198.18.1.10", "--host-key", HOST_KEY])).toEqual([
      "--identity, --password-env or --agent: one is required (and $SSH_AUTH_SOCK is not set)",
    ]);
    expect(errors(["--host", "198.18.1.10", "--identity", "/keys/id", "--host-key", "MD5:aa:bb"])[0]).toMatch(
      /^--host-key: MD5 fingerprints are not accepted/,
    );
    expect(errors(["--host", "198.18.1.10", "--identity", "/keys/id", `--host-key=${plain.private}`])).toEqual([
      "--host-key: is a private key; pin the host's PUBLIC key (e.g. /etc/ssh/ssh_host_ed25519_key.pub)",
    ]);
    const many = errors([
      "--host",
      "op@h:0",
      "--identity",
      "/keys/enc",
      "--sudo",
      "--no-sudo",
      "--dial-timeout",
      "soon",
      "--proxy-host-key",
      HOST_KEY,
    ]);
    expect(many).toEqual(
      expect.arrayContaining([
        "--sudo: cannot be combined with --no-sudo",
        "--proxy-host-key: set without --proxy",
        '--dial-timeout: expected a number, got "soon"',
        "--host: port must be a whole number between 1 and 65535",
        "--passphrase-env: required: --identity is encrypted",
        "--host-key: required (pin the host's public key) unless --insecure-ignore-host-key is given",
      ]),
    );
  });

  it("the proxy hop's problems name the --proxy-* flags", () => {
    const e = errors(["--host", "198.18.1.11", ...KEYED, "--proxy", "198.18.1.10", "--dial-attempts", "0"]);
    expect(e).toEqual(
      expect.arrayContaining([
        "--proxy-identity, --proxy-password-env or --agent: one is required (and $SSH_AUTH_SOCK is not set)",
        "--proxy-host-key: required (pin the bastion's public key; it is always checked)",
        "--dial-attempts: must be a whole number >= 1, or -1 for unlimited",
      ]),
    );
    expect(
      errors([
        "--host",
        "198.18.1.11",
        ...KEYED,
        "--proxy",
        "198.18.1.10",
        "--proxy-identity",
        "/keys/enc",
        "--proxy-host-key",
        HOST_KEY,
      ]),
    ).toEqual(["--proxy-passphrase-env: required: --proxy-identity is encrypted"]);
  });

  it("asFlagIssue maps any schema path to its flag, references included", () => {
    const flagged = (issue: Issue) => formatIssue(asFlagIssue(issue));
    expect(
      flagged({
        path: ["connection", "proxy", "privateKeyPassword"],
        message: "set without privateKey",
        refs: ["privateKey"],
      }),
    ).toBe("--proxy-passphrase-env: set without --proxy-identity");
    expect(flagged({ path: ["connection", "agentSocketPath"], message: "must not be empty" })).toBe(
      "--agent: must not be empty",
    );
    expect(flagged({ path: ["connection", "perDialTimeout"], message: "must be at most 3600 seconds" })).toBe(
      "--dial-timeout: must be at most 3600 seconds",
    );
  });
});
