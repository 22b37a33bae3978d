package main

import (
	"fmt"
	"runtime"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/sdk"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print tierpack's version, plugin protocol and Go version",
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			asJSON, err := wantJSON(c)
			if err != nil {
				return err
			}
			v := map[string]any{
				"version":        tierpackVersion(),
				"sdkVersion":     sdk.Version,
				"pluginProtocol": sdk.ProtocolVersion,
				"go":             runtime.Version(),
				"platform":       runtime.GOOS + "/" + runtime.GOARCH,
			}
			if asJSON {
				return printJSON(c.App.Writer, v)
			}
			fmt.Fprintf(c.App.Writer, "tierpack %s (sdk %s, plugin protocol %d, %s, %s)\n",
				v["version"], v["sdkVersion"], v["pluginProtocol"], v["go"], v["platform"])
			return nil
		},
	}
}
