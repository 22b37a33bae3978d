package main

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a contribution with its type's plugin",
		ArgsUsage: "DIR",
		Description: `Reads DIR/tierpack.yaml, then asks the plugin for its type to check the files.
Prints every finding as FILE:LINE: SEVERITY: MESSAGE (HINT). Exits 3 when there are
errors (or warnings, with --strict).

EXAMPLES:
   tierpack validate ./falco-quickstart
   tierpack validate --output json ./falco-quickstart | jq '.diagnostics[]'`,
		Flags: []cli.Flag{
			outputFlag(),
			&cli.BoolFlag{Name: "strict", Usage: "treat warnings as errors (what the official tier requires)"},
		},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			if c.NArg() != 1 {
				return usagef(c, "needs exactly one folder argument")
			}
			dir := c.Args().First()
			var diags []sdk.Diagnostic
			m, err := contrib.Load(dir)
			var merrs contrib.Errors
			switch {
			case errors.As(err, &merrs):
				for _, e := range merrs {
					diags = append(diags, e.Diagnostic())
				}
			case err != nil:
				return err
			default:
				plugins, err := pluginManager(c)
				if err != nil {
					return err
				}
				defer plugins.Close()
				diags, err = artifact.Validate(c.Context, plugins, m)
				if err != nil {
					return err
				}
			}
			sortDiagnostics(diags)
			nerr, nwarn := sdk.Count(diags, sdk.SeverityError), sdk.Count(diags, sdk.SeverityWarning)
			ok := nerr == 0 && (!c.Bool("strict") || nwarn == 0)
			if asJSON {
				out := map[string]any{"dir": dir, "valid": ok, "errors": nerr, "warnings": nwarn, "diagnostics": nonNil(diags)}
				if m != nil {
					out["name"], out["type"], out["tier"], out["version"] = m.Name, m.Type, m.Tier, m.Version
				}
				if err := printJSON(c.App.Writer, out); err != nil {
					return err
				}
			} else {
				printDiagnostics(c.App.Writer, diags)
				if ok {
					note(c, "%s: valid %s contribution %q (%d warning(s))\n", dir, m.Type, m.Name, nwarn)
				}
			}
			if !ok {
				return cli.Exit(fmt.Sprintf("%s: %d error(s), %d warning(s)", dir, nerr, nwarn), exitInvalid)
			}
			return nil
		},
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func sortDiagnostics(ds []sdk.Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].Severity != ds[j].Severity {
			return ds[i].Severity < ds[j].Severity
		}
		if ds[i].File != ds[j].File {
			return ds[i].File < ds[j].File
		}
		return ds[i].Line < ds[j].Line
	})
}

func printDiagnostics(w io.Writer, ds []sdk.Diagnostic) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
	}
}
