import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// npm 11 runs a dependency's install scripts only where package.json's allowScripts says so.
// Every package with such a script has a recorded decision, and each denied script is shown to
// be unnecessary by using what it would have built or fetched.

const root = path.resolve(__dirname, "../..");
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  allowScripts?: Record<string, boolean>;
};
const INSTALL_HOOKS = ["preinstall", "install", "postinstall"];

function installedPackagesWithInstallScripts(): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, { hasInstallScript?: boolean }>;
  };
  const names = new Set<string>();
  for (const [where, entry] of Object.entries(lock.packages)) {
    if (!where.startsWith("node_modules/") || !fs.existsSync(path.join(root, where))) continue;
    const pkg = JSON.parse(fs.readFileSync(path.join(root, where, "package.json"), "utf8")) as {
      name: string;
      scripts?: Record<string, string>;
    };
    const hooks = INSTALL_HOOKS.filter((hook) => pkg.scripts?.[hook]);
    if (entry.hasInstallScript || hooks.length > 0) names.add(pkg.name);
  }
  return [...names].sort();
}

describe("install scripts (package.json allowScripts)", () => {
  it("every installed package with an install script has a recorded decision", () => {
    const undecided = installedPackagesWithInstallScripts().filter(
      (name) => manifest.allowScripts?.[name] === undefined,
    );
    expect(undecided).toEqual([]);
    expect(installedPackagesWithInstallScripts()).toEqual(
      expect.arrayContaining(["@pulumi/command", "cpu-features", "esbuild", "protobufjs", "ssh2"]),
    );
  });

  it("no script ran: ssh2's optional native binding and cpu-features were not built", () => {
    const ssh2Build = path.join(root, "node_modules/ssh2/lib/protocol/crypto/build");
    expect(fs.existsSync(ssh2Build)).toBe(false);
    expect(fs.existsSync(path.join(root, "node_modules/cpu-features/build"))).toBe(false);
  });

  it("ssh2 works with its JavaScript crypto (the binding is optional)", () => {
    const out = execFileSync(
      process.execPath,
      [
        "-e",
        `const c = require("ssh2/lib/protocol/crypto.js");
         const { utils } = require("ssh2");
         const key = utils.parseKey(require("fs").readFileSync(process.argv[1], "utf8"));
         if (key instanceof Error) throw key;
         const data = Buffer.from("hardened");
         const sig = key.sign(data);
         console.log(JSON.stringify({ binding: c.bindingAvailable, verified: key.verify(data, sig) }));`,
        writeTestKey(),
      ],
      { cwd: root, encoding: "utf8" },
    );
    expect(JSON.parse(out)).toEqual({ binding: false, verified: true });
  });

  it("esbuild (under tsx) runs from its platform package without its postinstall", () => {
    const out = execFileSync(
      process.execPath,
      ["-e", `console.log(require("esbuild").transformSync("const a: number = 1", { loader: "ts" }).code)`],
      { cwd: root, encoding: "utf8" },
    );
    expect(out.trim()).toBe("const a = 1;");
    const tsx = execFileSync(path.join(root, "node_modules/.bin/tsx"), ["-e", "const n: number = 42; console.log(n)"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(tsx.trim()).toBe("42");
  });

  it("protobufjs (under @pulumi/pulumi) loads without its postinstall version check", () => {
    const out = execFileSync(
      process.execPath,
      ["-e", `require("@pulumi/pulumi"); const pb = require("protobufjs"); console.log(typeof pb.Root)`],
      { cwd: root, encoding: "utf8" },
    );
    expect(out.trim()).toBe("function");
  });

  it("@pulumi/command's script would only download its plugin; the SDK loads without it", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "node_modules/@pulumi/command/package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.install).toMatch(/install-pulumi-plugin\.js resource command/);
    const out = execFileSync(
      process.execPath,
      ["-e", `console.log(typeof require("@pulumi/command").remote.Command)`],
      {
        cwd: root,
        encoding: "utf8",
      },
    );
    expect(out.trim()).toBe("function");
  });
});

const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-key-"));
afterAll(() => fs.rmSync(keyDir, { recursive: true, force: true }));

function writeTestKey(): string {
  const file = path.join(keyDir, "id");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
  return file;
}
