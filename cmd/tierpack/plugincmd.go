package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/sdk"
)

func pluginCommand() *cli.Command {
	return &cli.Command{
		Name:  "plugin",
		Usage: "list the plugins that package each contribution type",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "start every plugin once and show what it packages",
				Description: `Built-in types are served by tierpack itself (out of process). Third-party plugins
are executables named tierpack-plugin-<type> in $TIERPACK_PLUGINS_DIR or
$TIERPACK_HOME/plugins; a broken one is listed with its error.

EXAMPLES:
   tierpack plugin list
   tierpack plugin list --output json`,
				Flags: []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					asJSON, err := wantJSON(c)
					if err != nil {
						return err
					}
					m, err := pluginManager(c)
					if err != nil {
						return err
					}
					defer m.Close()
					srcs, err := m.Sources()
					if err != nil {
						return err
					}
					type row struct {
						plugin.Source
						Protocol    int              `json:"protocol"`
						Description *sdk.Description `json:"describe,omitempty"`
						Error       string           `json:"error,omitempty"`
					}
					var rows []row
					for _, s := range srcs {
						r := row{Source: s, Protocol: sdk.ProtocolVersion}
						p, err := m.Get(c.Context, s.Type)
						if err != nil {
							r.Error = err.Error()
						} else {
							d := p.Describe()
							r.Description = &d
						}
						rows = append(rows, r)
					}
					if asJSON {
						return printJSON(c.App.Writer, map[string]any{"plugins": rows, "dirs": m.Dirs()})
					}
					w := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
					fmt.Fprintln(w, "TYPE\tVERSION\tPROTOCOL\tSOURCE\tDESCRIPTION")
					for _, r := range rows {
						src := r.Path
						if r.Builtin {
							src = "built-in"
						}
						if r.Error != "" {
							fmt.Fprintf(w, "%s\t-\t-\t%s\tERROR: %s\n", r.Type, src, r.Error)
							continue
						}
						fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", r.Type, r.Description.Version, r.Protocol, src, r.Description.Description)
					}
					return w.Flush()
				},
			},
		},
	}
}
