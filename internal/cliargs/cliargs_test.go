package cliargs_test

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/tierpack/tierpack/internal/cliargs"
)

func TestReorderArgs(t *testing.T) {
	app := &cli.App{
		Name: "tierpack",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}},
			&cli.DurationFlag{Name: "plugin-timeout"},
		},
		Commands: []*cli.Command{
			{Name: "pull", Flags: []cli.Flag{&cli.StringFlag{Name: "dir", Aliases: []string{"o"}}, &cli.StringFlag{Name: "tier"}}},
			{Name: "push", Flags: []cli.Flag{&cli.StringFlag{Name: "output"}}},
			{Name: "promote", Flags: []cli.Flag{&cli.StringFlag{Name: "to"}, &cli.StringFlag{Name: "key"}}},
			{Name: "plugin", Subcommands: []*cli.Command{{Name: "list", Flags: []cli.Flag{&cli.StringFlag{Name: "output"}}}}},
		},
	}
	for _, tc := range []struct{ in, want string }{
		{"tierpack pull REF -o DIR --tier official", "tierpack pull -o DIR --tier official REF"},
		{"tierpack pull REF -q --plugin-timeout 3s -o DIR", "tierpack -q --plugin-timeout 3s pull -o DIR REF"},
		{"tierpack --log-level debug push DIR REF --output json", "tierpack --log-level debug push --output json DIR REF"},
		{"tierpack plugin list --output json", "tierpack plugin list --output json"},
		{"tierpack promote REF --to=official --key k", "tierpack promote --to=official --key k REF"},
		{"tierpack pull -- -weird-ref", "tierpack pull -- -weird-ref"},
		{"tierpack", "tierpack"},
	} {
		got := strings.Join(cliargs.Reorder(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("Reorder(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
