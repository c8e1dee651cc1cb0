/**
 * The quick start's first command, as the README and docs/development.md give it:
 * `scripts/quickstart.sh` (set-up, build, sandbox host, `pulumi up` of examples/quickstart), then
 * the next steps it prints, each run as printed:
 * a rule added by hand, the drift check failing on it, `up --refresh` repairing, `destroy`.
 * (The second command, `scripts/test.sh`, is what CI runs.)
 *
 * Its state goes to a temp backend and a stack of its own (PULUMI_BACKEND_URL, PULUMI_STACK), so
 * a developer's own quick start stack is left alone; a sandbox that was already up stays up.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type CommandResult, REPO, runProcess } from "../support/engine";
import { requireRoot } from "../support/privileges";

// Several engine commands per test, each starting the provider plugin: over a minute on a loaded 2-core machine.
vi.setConfig({ testTimeout: 600_000 });

const sh = (command: string, env: NodeJS.ProcessEnv, timeoutMs = 1_800_000): Promise<CommandResult> =>
  runProcess("bash", ["-c", command], { cwd: REPO, env, timeoutMs });

const sandboxUp = () => fs.existsSync("/run/hnft-lab/sandbox.json");

describe.runIf(requireRoot("quick start", ["ip", "nft", "sshd", "ssh-keygen", "apt-get"]))(
  "the quick start, as the README says",
  () => {
    const stack = `quickstart-test-${process.pid}`;
    let home: string;
    let env: NodeJS.ProcessEnv;
    let hadSandbox = false;

    beforeAll(() => {
      home = fs.mkdtempSync(path.join(os.tmpdir(), "hnft-quickstart-"));
      env = {
        ...process.env,
        PULUMI_BACKEND_URL: `file://${home}`,
        PULUMI_HOME: path.join(home, ".pulumi-home"),
        PULUMI_STACK: stack,
        NODE_OPTIONS: "",
        CI: "", // no forced npm ci: the suite runs on the installed tree
      };
      delete env.PULUMI_CONFIG_PASSPHRASE; // the script's own default
      hadSandbox = sandboxUp();
    });

    afterAll(async () => {
      await sh("scripts/pulumi destroy --yes", env).catch(() => undefined);
      if (!hadSandbox) await sh(". scripts/env.sh && npm run --silent sandbox -- down", env).catch(() => undefined);
      fs.rmSync(path.join(REPO, `Pulumi.${stack}.yaml`), { force: true });
      if (home) fs.rmSync(home, { recursive: true, force: true });
    });

    it("scripts/quickstart.sh applies the quick start to a sandbox host, and the next steps it prints work as printed", async () => {
      const qs = await sh("scripts/quickstart.sh", env);
      if (qs.code !== 0)
        throw new Error(`quickstart.sh exited ${qs.code}\n${qs.stdout.slice(-4000)}\n${qs.stderr.slice(-4000)}`);
      expect(qs.stdout).toMatch(/\+ 3 created/);
      expect(qs.stdout).toContain('runs the hardened table "quickstart"');
      const addRule = /sudo (ip netns exec \S+ nft add rule inet quickstart input tcp dport 8080 accept)/.exec(
        qs.stdout,
      )?.[1];
      expect(addRule).toBeDefined();
      const steps = qs.stdout.split("\n").map((l) => l.trim().replace(/\s+#.*$/, ""));
      expect(steps).toEqual(
        expect.arrayContaining([
          "scripts/pulumi preview --refresh --diff --expect-no-changes",
          "scripts/pulumi up --refresh --yes",
          "scripts/pulumi preview --refresh --expect-no-changes",
          "scripts/pulumi destroy --yes && npm run sandbox -- down",
        ]),
      );

      expect((await sh(addRule!, env)).code).toBe(0);
      const check = await sh("scripts/pulumi preview --refresh --diff --expect-no-changes", env);
      expect(check.code).not.toBe(0);
      expect(check.stdout).toContain("- chain input: tcp dport 8080 accept");
      expect((await sh("scripts/pulumi up --refresh --yes", env)).code).toBe(0);
      expect((await sh("scripts/pulumi preview --refresh --expect-no-changes", env)).code).toBe(0);
      const destroy = await sh("scripts/pulumi destroy --yes", env);
      expect(destroy.code).toBe(0);
      expect(destroy.stdout).toMatch(/- 3 deleted/);
    });
  },
);
