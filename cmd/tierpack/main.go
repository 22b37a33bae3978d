// Command tierpack publishes community contributions — scripts, Helm charts,
// exporters and any type a plugin adds — to OCI registries, stamped with
// their support tier, and pulls them back filtered by tier.
//
// Run `tierpack --help` for the commands and `tierpack COMMAND --help` for
// each command's flags and examples.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/tierpack/tierpack/internal/cliargs"
	"github.com/tierpack/tierpack/pkg/plugin"
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
	os.Exit(run(os.Args))
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer goplugin.CleanupClients()
	app := newApp()
	err := app.RunContext(ctx, cliargs.Reorder(app, args))
	return reportError(app, err, ctx.Err() != nil)
}
