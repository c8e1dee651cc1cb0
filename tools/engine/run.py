"""`pulumi up|preview|refresh|destroy` for a Python project, as tools/engine/run.ts does for TypeScript.

    python tools/engine/run.py --cwd DIR [--stack NAME] up|preview|refresh|destroy [--diff] [--refresh]
        [--expect-no-changes] [--yes]

The Go module proxy does not serve `pulumi-language-python` (docs/languages.md), so the CLI
cannot start a Python program itself. This runs the project's __main__.py as an Automation API inline
program (`pulumi.automation`, the `pulumi` package from PyPI) in this process, under the project's
own virtualenv, and the real CLI (PULUMI_ENGINE_BIN, tools/engine/pulumi-engine.sh) drives it over gRPC:
the plan, the printed diff, the state and the provider plugin are the engine's. The project's
Pulumi.yaml and stack config files are read from DIR as `pulumi` reads them. Each invocation is one
fresh process; the exit status is the CLI's (1 when it is not known), 2 for bad usage.
"""

import argparse
import os
import re
import runpy
import sys

import yaml
from pulumi import automation as auto


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
    try:
        sys.exit(main())
    except auto.errors.CommandError as e:
        # stdout and stderr were streamed as they came; end with the CLI's status.
        code = re.search(r"^ code: (-?\d+)$", str(e), re.M)
        sys.exit(int(code.group(1)) if code and int(code.group(1)) > 0 else 1)
