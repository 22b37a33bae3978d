package main

import (
	"context"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/plugintest"
)

// TestConformance builds this plugin and runs tierpack's conformance
// harness against the binary, as the host would run it.
func TestConformance(t *testing.T) {
	bin := plugintest.Build(t, ".")
	plugintest.Run(t, plugintest.Config{
		Binary: bin,
		Good:   "testdata/good",
		Bad:    "testdata/bad",
	})
}

// TestValidateExamples checks the diagnostics for the sample contributions:
// none for the good one, each mistake with its line for the bad one.
func TestValidateExamples(t *testing.T) {
	ctx := context.Background()
	good, err := Plugin{}.Validate(ctx, sdk.ValidateRequest{Dir: "testdata/good", Contribution: sdk.Contribution{Files: []string{"shell_in_container.yaml", "README.md"}}})
	if err != nil || len(good) != 0 {
		t.Errorf("good: %v, %v; want no diagnostics", good, err)
	}
	bad, err := Plugin{}.Validate(ctx, sdk.ValidateRequest{Dir: "testdata/bad", Contribution: sdk.Contribution{Files: []string{"broken_rules.yaml", "README.md"}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range bad {
		got = append(got, d.String())
	}
	want := []string{
		`broken_rules.yaml:1:9: error: rule "Write below etc" has no output (output: the alert text, with fields like %proc.cmdline)`,
		`broken_rules.yaml:4:13: error: rule "Write below etc": priority "SEVERE" is not one of Falco's: EMERGENCY ALERT CRITICAL ERROR WARNING NOTICE INFORMATIONAL DEBUG`,
		`broken_rules.yaml:6:10: error: macro "open_write" has no condition (condition: a Falco filter expression, e.g. spawned_process and container)`,
		`broken_rules.yaml:9:10: error: list "sensitive_files": items must be a YAML list, found the value "/etc/shadow" (write items: [a, b])`,
		`broken_rules.yaml:11:3: error: item with keys name, condition is not a rule, macro or list (each item starts with rule:, macro: or list: and its name)`,
		`broken_rules.yaml:19:3: warning: rule has unknown field "tag" (Falco ignores it: check its spelling; known fields: rule, desc, condition, output, priority, tags, enabled, exceptions, source, append, override, warn_evttypes, skip-if-unknown-filter, capture, capture_duration)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestNoRulesFile checks that a contribution without any rules file is an
// error, and that a spec section is refused.
func TestNoRulesFile(t *testing.T) {
	diags, err := Plugin{}.Validate(context.Background(), sdk.ValidateRequest{
		Dir:          "testdata/good",
		Contribution: sdk.Contribution{Type: Type, Files: []string{"README.md"}, SpecJSON: []byte(`{"entrypoint":"x"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if sdk.Count(diags, sdk.SeverityError) != 2 {
		t.Fatalf("diagnostics %v, want two errors", diags)
	}
	if !strings.Contains(diags[0].Message, `unknown field "entrypoint"`) || !strings.Contains(diags[1].Message, "no rules file") {
		t.Errorf("diagnostics: %v", diags)
	}
}
