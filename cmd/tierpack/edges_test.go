package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// Rough edges a newcomer hit (issue 20), each checked here.

// TestHelpShowsOneDefault: no flag's help line states its default twice
// ("(default 9100) (default: 0)"), for every command.
func TestHelpShowsOneDefault(t *testing.T) {
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden || c.Name == "help" {
				continue
			}
			p := append(slices.Clone(path), c.Name)
			var out bytes.Buffer
			app := newApp()
			app.Writer, app.ErrWriter = &out, &out
			if err := app.Run(append(append([]string{"tierpack"}, p...), "--help")); err != nil {
				t.Errorf("%s --help: %v", strings.Join(p, " "), err)
			}
			for _, l := range strings.Split(out.String(), "\n") {
				if strings.HasPrefix(strings.TrimSpace(l), "-") && strings.Count(strings.ToLower(l), "default") > 1 {
					t.Errorf("tierpack %s --help states a default twice: %s", strings.Join(p, " "), strings.TrimSpace(l))
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, newApp().Commands)
}

// TestKeyFlagsApart: in --help, the TLS client key (--key-file) sits under
// the registry connection's heading, away from the signing key (--key).
func TestKeyFlagsApart(t *testing.T) {
	var out bytes.Buffer
	app := newApp()
	app.Writer = &out
	app.Run([]string{"tierpack", "push", "--help"})
	help := out.String()
	i, j, k := strings.Index(help, "--key KEY"), strings.Index(help, "REGISTRY CONNECTION"), strings.Index(help, "--key-file FILE")
	if i < 0 || j < 0 || k < 0 || !(i < j && j < k) || !strings.Contains(help, "TLS client private key") {
		t.Errorf("push --help does not set --key-file apart under REGISTRY CONNECTION:\n%s", help)
	}
}

// TestOutputIsTheFormat: --output takes text or json; a path there is
// answered with where the destination goes.
func TestOutputIsTheFormat(t *testing.T) {
	p := newTP(t)
	_, errs, code := p.run("pull", "x:1", "--output", "./dir")
	if code != exitUsage || !strings.Contains(errs, "the destination is -o") {
		t.Errorf("pull --output ./dir: exit %d\n%s", code, errs)
	}
}

// TestCompletion: a leaf command offers no "help h", --tier and --to
// offer the tiers, --type the types this machine has plugins for
// (installed ones included), --output the formats.
func TestCompletion(t *testing.T) {
	p := newTP(t)
	plugins := buildTestPlugin(t, "fail")
	complete := func(args ...string) []string {
		t.Helper()
		cmd := exec.Command(tierpackBin, append(args, "--generate-bash-completion")...)
		cmd.Env = append(testEnv(t, p.home), "TIERPACK_PLUGINS_DIR="+plugins)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		return strings.Fields(string(out))
	}
	if got := complete("validate"); slices.Contains(got, "help") || slices.Contains(got, "h") {
		t.Errorf("validate <TAB> offers %v", got)
	}
	for _, args := range [][]string{{"pull", "--tier"}, {"promote", "x:1", "--to"}, {"search", "--tier"}} {
		if got := complete(args...); !slices.Equal(got, []string{"contrib", "repository", "official"}) {
			t.Errorf("%s <TAB> offers %v", strings.Join(args, " "), got)
		}
	}
	got := complete("init", "--type")
	for _, want := range []string{"script", "exporter", "chart", "fail"} {
		if !slices.Contains(got, want) {
			t.Errorf("init --type <TAB> offers %v, not %s", got, want)
		}
	}
	if got := complete("inspect", "x", "--output"); !slices.Equal(got, []string{"text", "json"}) {
		t.Errorf("inspect --output <TAB> offers %v", got)
	}
	if got := complete("plugin"); !slices.Contains(got, "install") || slices.Contains(got, "help") {
		t.Errorf("plugin <TAB> offers %v", got)
	}
}
