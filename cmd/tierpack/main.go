// Command tierpack publishes community contributions — scripts, Helm charts,
// exporters and any type a plugin adds — to OCI registries, stamped with
// their support tier, and pulls them back filtered by tier.
//
// Run `tierpack --help` for the commands and `tierpack COMMAND --help` for
// each command's flags and examples.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/display"
	"github.com/tierpack/tierpack/internal/cliargs"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk"
)

func main() {
	// Built-in plugins are this binary re-executed: serve before anything
	// else runs, and never write to stdout first.
	if len(os.Args) == 3 && os.Args[1] == plugin.BuiltinArg {
		p, ok := builtin(os.Args[2])
		if !ok {
			fmt.Fprintf(os.Stderr, "tierpack: no built-in plugin %q\n", os.Args[2])
			os.Exit(2)
		}
		sdk.Serve(p)
		return
	}
	os.Exit(runMain(os.Args))
}

func runMain(args []string) int {
	// TIERPACK_CPUPROFILE=FILE writes a CPU profile of the command
	// (go tool pprof FILE), for the README's performance notes.
	if path := os.Getenv("TIERPACK_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer goplugin.CleanupClients()
	app := newApp()
	err := app.RunContext(ctx, cliargs.Reorder(app, args))
	if t, ok := app.Metadata[timeoutKey].(*commandTimeout); ok {
		defer t.cancel()
		if err != nil && errors.Is(t.ctx.Err(), context.DeadlineExceeded) {
			err = &timeoutError{limit: t.limit, err: err}
		}
	}
	return reportError(app, err, ctx.Err() != nil)
}

// timeoutKey keeps the --timeout deadline in app.Metadata, for run.
const timeoutKey = "timeout"

// commandTimeout is the --timeout deadline of one invocation.
type commandTimeout struct {
	limit  time.Duration
	ctx    context.Context
	cancel context.CancelFunc
}

// before runs ahead of every command: the use cases' log records go to
// stderr at --log-level, then the --timeout bound.
func before(c *cli.Context) error {
	slog.SetDefault(tierpack.NewLogger(display.Guard(c.App.ErrWriter), c.String("log-level")))
	slog.SetLogLoggerLevel(slog.LevelWarn) // the log package's lines (net/http's) stay visible
	return applyTimeout(c)
}

// applyTimeout bounds the whole command by --timeout: the commands' context
// (c.Context, which every subcommand inherits) gets the deadline.
func applyTimeout(c *cli.Context) error {
	d := c.Duration("timeout")
	if d < 0 {
		return usageError{fmt.Errorf("--timeout %s: use a positive duration, or 0 for no limit", d)}
	}
	if d == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.Context, d)
	c.Context = ctx
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[timeoutKey] = &commandTimeout{limit: d, ctx: ctx, cancel: cancel}
	return nil
}

// timeoutError reports a command stopped by --timeout. Like any
// interruption it leaves nothing half-written: no tag, no output folder,
// no cache entry.
type timeoutError struct {
	limit time.Duration
	err   error
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("gave up after --timeout %s: %v (nothing was left half-written; raise --timeout, or check the registry and network)", e.limit, e.err)
}

func (e *timeoutError) Unwrap() error { return e.err }
