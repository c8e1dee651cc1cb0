"""`pulumi up|preview|refresh|destroy` for a Python project, as tools/engine/run.ts does for TypeScript.

    python tools/engine/run.py --cwd DIR [--stack NAME] up|preview|refresh|destroy [--diff] [--refresh]
        [--expect-no-changes] [--yes]

The Go module proxy does not serve `pulumi-language-python` (docs/languages.md), so the CLI
cannot start a Python program itself. This runs the project's __main__.py as an Automation API inline
program (`pulumi.automation`, the `pulumi` package from PyPI) in this process, under the project's
own virtualenv, and the real CLI (PULUMI_ENGINE_BIN, tools/engine/pulumi-engine.sh) drives it over gRPC:
the plan, the printed diff, the state and the provider plugin are the engine's. The project's
Pulumi.yaml and stack config files are read from DIR as `pulumi` reads them. Each invocation is one
fresh process; the exit status is the CLI's (1 when it is not known), 2 for bad usage, 130 or 143
when a SIGINT or SIGTERM ended it.

Interrupts as engine/run.ts takes them: the CLI runs in a session (process group) of its own, and each
SIGINT/SIGTERM this process receives (a terminal's Ctrl-C included) reaches it once: the first makes it
cancel (the step in flight finishes, the stack lock is released), the second terminate, the third is a
SIGKILL. Python's default (KeyboardInterrupt) ended this process, and with it the program the CLI was
running, before the CLI could release its lock.
"""

import argparse
import os
import re
import runpy
import signal
import subprocess
import sys
import types

import yaml
from pulumi import automation as auto


_running: "set[subprocess.Popen]" = set()
_interrupts: "list[int]" = []


def _popen_own_group(*args, **kwargs):
    """subprocess.Popen for the Automation API: the CLI in a session of its own, remembered while it runs."""
    kwargs["start_new_session"] = True
    process = subprocess.Popen(*args, **kwargs)
    _running.add(process)
    return process


def _on_signal(signum, _frame):
    _interrupts.append(signum)
    running = [p for p in _running if p.poll() is None]
    if not running:
        sys.exit(128 + _interrupts[0])
    n = len(_interrupts)
    name = signal.Signals(signum).name
    what = {1: "asking pulumi to cancel: the step in flight finishes and the stack lock is released. Send it again to terminate at once.",
            2: "asking pulumi to terminate at once. Once more kills it (that may leave the stack locked: `pulumi cancel`)."}
    sys.stderr.write(f"\nrun.py: {name} received; {what.get(n, 'killing pulumi.')}\n")
    sys.stderr.flush()
    for p in running:
        p.send_signal(signum if n <= 2 else signal.SIGKILL)


def _take_interrupts():
    shim = types.SimpleNamespace(**{k: getattr(subprocess, k) for k in dir(subprocess) if not k.startswith("__")})
    shim.Popen = _popen_own_group
    auto._cmd.subprocess = shim  # type: ignore[attr-defined]
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def _exit_code(code: int) -> int:
    if not _interrupts:
        return code
    sys.stderr.write(f"run.py: interrupted by {signal.Signals(_interrupts[0]).name} ({len(_interrupts)}x); pulumi ended with exit {code}.\n")
    return 128 + _interrupts[0]


def program_of(directory: str, main: str):
    entry = os.path.join(directory, main)
    if os.path.isdir(entry):
        entry = os.path.join(entry, "__main__.py")

    def program():
        sys.path.insert(0, os.path.dirname(entry))
        runpy.run_path(entry, run_name="__main__")

    return program


def main() -> int:
    parser = argparse.ArgumentParser(prog="run.py")
    parser.add_argument("--cwd", default=os.getcwd())
    parser.add_argument("--stack", "-s", default=os.environ.get("PULUMI_STACK", "dev"))
    parser.add_argument("command", choices=["up", "preview", "refresh", "destroy"])
    for flag in ("--diff", "--refresh", "--expect-no-changes", "--yes"):
        parser.add_argument(flag, action="store_true")
    args = parser.parse_args()

    directory = os.path.abspath(args.cwd)
    with open(os.path.join(directory, "Pulumi.yaml"), encoding="utf-8") as f:
        project = yaml.safe_load(f)
    engine = os.environ["PULUMI_ENGINE_BIN"]
    env = {
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PATH": engine + os.pathsep + os.environ.get("PATH", ""),
    }
    stack = auto.create_or_select_stack(
        stack_name=args.stack,
        project_name=project["name"],
        program=program_of(directory, project.get("main", "__main__.py")),
        opts=auto.LocalWorkspaceOptions(
            work_dir=directory,
            pulumi_command=auto.PulumiCommand(root=os.path.dirname(engine)),
            env_vars=env,
        ),
    )
    out = lambda text: (sys.stdout.write(text + "\n"), sys.stdout.flush())
    err = lambda text: (sys.stderr.write(text + "\n"), sys.stderr.flush())
    common = {"on_output": out, "on_error": err, "color": "never"}
    checks = {"diff": args.diff, "refresh": args.refresh, "expect_no_changes": args.expect_no_changes}
    if args.command == "up":
        stack.up(**common, **checks)
    elif args.command == "preview":
        stack.preview(**common, **checks)
    elif args.command == "refresh":
        stack.refresh(**common, expect_no_changes=args.expect_no_changes)
    else:
        stack.destroy(**common)
    return 0


if __name__ == "__main__":
    _take_interrupts()
    try:
        sys.exit(_exit_code(main()))
    except auto.errors.CommandError as e:
        # stdout and stderr were streamed as they came; end with the CLI's status.
        code = re.search(r"^ code: (-?\d+)$", str(e), re.M)
        sys.exit(_exit_code(int(code.group(1)) if code and int(code.group(1)) > 0 else 1))
