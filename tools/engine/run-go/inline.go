//go:build hnftinline

// The engine suites copy this file into a Go program's directory and build it with -tags
// hnftinline, as tools/engine/run.ts and tools/engine/run.py do for TypeScript and Python: the Go module proxy
// does not serve `pulumi-language-go` (docs/languages.md), so the CLI cannot build and start
// the program itself. init runs before the program's main and never returns: it runs the program's
// `program` function (the one its main hands to pulumi.Run) as an Automation API inline program
// (auto.UpsertStackInlineSource) under the real CLI (PULUMI_ENGINE_BIN), with the project's
// Pulumi.yaml and stack config files from --cwd.
//
//	PROGRAM --cwd DIR [--stack NAME] up|preview|refresh|destroy [--diff] [--refresh] [--expect-no-changes] [--yes]
//
// The exit status is the CLI's (1 when it is not known), 2 for bad usage, 130 or 143 when a SIGINT or
// SIGTERM ended it.
//
// Interrupts as engine/run.ts takes them: the Automation API runs the CLI in a process group of its
// own, and each SIGINT/SIGTERM this process receives reaches it once, from takeInterrupts: the first
// makes it cancel (the step in flight finishes, the stack lock is released), the second terminate,
// the third is a SIGKILL. The context is never cancelled for it: the SDK then kills the CLI 10 s
// after its interrupt (exec.Cmd.WaitDelay), which may be before it released its lock.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
)

func init() {
	os.Exit(runInline())
}

var cliStatus = regexp.MustCompile(`(?m)^code: (-?\d+)$`)

func runInline() int {
	flags := flag.NewFlagSet("inline", flag.ContinueOnError)
	cwd := flags.String("cwd", ".", "project directory")
	stackName := flags.String("stack", "dev", "stack")
	diff := flags.Bool("diff", false, "")
	refresh := flags.Bool("refresh", false, "")
	expectNoChanges := flags.Bool("expect-no-changes", false, "")
	flags.Bool("yes", false, "never asks")
	// the command comes first, its flags after it (as `pulumi up --diff`)
	args := os.Args[1:]
	var command string
	for i, a := range args {
		if a == "up" || a == "preview" || a == "refresh" || a == "destroy" {
			command, args = a, append(append([]string{}, args[:i]...), args[i+1:]...)
			break
		}
	}
	if err := flags.Parse(args); err != nil || command == "" || flags.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: --cwd DIR [--stack NAME] up|preview|refresh|destroy [--diff] [--refresh] [--expect-no-changes]")
		return 2
	}

	interrupted := takeInterrupts()
	ctx := context.Background()
	dir, err := filepath.Abs(*cwd)
	if err == nil {
		err = run(ctx, dir, *stackName, command, *diff, *refresh, *expectNoChanges)
	}
	code := 0
	if err != nil {
		code = 1
		// stdout and stderr were streamed as they came; end with the CLI's status.
		if m := cliStatus.FindStringSubmatch(err.Error()); m != nil {
			if c, _ := strconv.Atoi(m[1]); c > 0 {
				code = c
			}
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if first := interrupted(); first != 0 {
		fmt.Fprintf(os.Stderr, "inline: interrupted by %v; pulumi ended with exit %d\n", first, code)
		return 128 + int(first)
	}
	return code
}

// takeInterrupts forwards each SIGINT/SIGTERM to the CLI processes this process started (its
// children named pulumi); it returns what reports the first signal received (0: none).
func takeInterrupts() func() syscall.Signal {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	var first syscall.Signal
	received := make(chan syscall.Signal, 1)
	go func() {
		n := 0
		for s := range signals {
			sig := s.(syscall.Signal)
			n++
			if n == 1 {
				received <- sig
			}
			children := cliChildren()
			if len(children) == 0 {
				os.Exit(128 + int(sig))
			}
			forward := sig
			switch n {
			case 1:
				fmt.Fprintf(os.Stderr, "\ninline: %v received; asking pulumi to cancel: the step in flight finishes and the stack lock is released. Send it again to terminate at once.\n", sig)
			case 2:
				fmt.Fprintf(os.Stderr, "\ninline: %v received; asking pulumi to terminate at once. Once more kills it (that may leave the stack locked: `pulumi cancel`).\n", sig)
			default:
				fmt.Fprintf(os.Stderr, "\ninline: %v received; killing pulumi.\n", sig)
				forward = syscall.SIGKILL
			}
			for _, pid := range children {
				_ = syscall.Kill(pid, forward)
			}
		}
	}()
	return func() syscall.Signal {
		select {
		case first = <-received:
		default:
		}
		return first
	}
}

// cliChildren: the pids of this process's children whose command is pulumi (from /proc).
func cliChildren() []int {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis
		text := string(stat)
		end := strings.LastIndexByte(text, ')')
		start := strings.IndexByte(text, '(')
		if end < 0 || start < 0 {
			continue
		}
		fields := strings.Fields(text[end+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == self && text[start+1:end] == "pulumi" {
			pids = append(pids, pid)
		}
	}
	return pids
}

func run(ctx context.Context, dir, stackName, command string, diff, refresh, expectNoChanges bool) error {
	engine := os.Getenv("PULUMI_ENGINE_BIN")
	if engine == "" {
		return errors.New("PULUMI_ENGINE_BIN: the directory of the pinned pulumi (tools/engine/pulumi-engine.sh)")
	}
	project, err := workspace.LoadProject(filepath.Join(dir, "Pulumi.yaml"))
	if err != nil {
		return err
	}
	cli, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Dir(engine)})
	if err != nil {
		return err
	}
	stack, err := auto.UpsertStackInlineSource(ctx, stackName, project.Name.String(), program,
		auto.WorkDir(dir), auto.Pulumi(cli), auto.EnvVars(map[string]string{
			"PULUMI_SKIP_UPDATE_CHECK":                    "true",
			"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
			"PATH": engine + string(os.PathListSeparator) + os.Getenv("PATH"),
		}))
	if err != nil {
		return err
	}
	switch command {
	case "up":
		opts := []optup.Option{optup.ProgressStreams(os.Stdout), optup.ErrorProgressStreams(os.Stderr), optup.Color("never")}
		if diff {
			opts = append(opts, optup.Diff())
		}
		if refresh {
			opts = append(opts, optup.Refresh())
		}
		if expectNoChanges {
			opts = append(opts, optup.ExpectNoChanges())
		}
		_, err = stack.Up(ctx, opts...)
	case "preview":
		opts := []optpreview.Option{optpreview.ProgressStreams(os.Stdout), optpreview.ErrorProgressStreams(os.Stderr), optpreview.Color("never")}
		if diff {
			opts = append(opts, optpreview.Diff())
		}
		if refresh {
			opts = append(opts, optpreview.Refresh())
		}
		if expectNoChanges {
			opts = append(opts, optpreview.ExpectNoChanges())
		}
		_, err = stack.Preview(ctx, opts...)
	case "refresh":
		opts := []optrefresh.Option{optrefresh.ProgressStreams(os.Stdout), optrefresh.ErrorProgressStreams(os.Stderr), optrefresh.Color("never")}
		if expectNoChanges {
			opts = append(opts, optrefresh.ExpectNoChanges())
		}
		_, err = stack.Refresh(ctx, opts...)
	case "destroy":
		_, err = stack.Destroy(ctx, optdestroy.ProgressStreams(os.Stdout), optdestroy.ErrorProgressStreams(os.Stderr), optdestroy.Color("never"))
	}
	return err
}
