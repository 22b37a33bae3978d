package sdk

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDiagnosticJSONRoundTrip(t *testing.T) {
	in := []Diagnostic{Errorf("a.sh", 3, "bad"), Warnf("", 0, "meh").WithHint("fix it"), {Severity: SeverityInfo, Message: "fyi"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out []Diagnostic
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Errorf("%d: %+v became %+v", i, in[i], out[i])
		}
	}
	var s Severity
	if err := s.UnmarshalText([]byte("fatal")); err == nil {
		t.Error("unknown severity accepted")
	}
}

// TestDiagnosticEscapesNames: control characters and bidi overrides in a
// file name or message never reach the rendered diagnostic raw.
func TestDiagnosticEscapesNames(t *testing.T) {
	d := Errorf("run\x1b[2K\u202egnp.sh", 3, "%q is bad, and so is \x1b]0;x\a", "a\u202eb").WithHint("rename \u202e it")
	got := d.String()
	if strings.ContainsAny(got, "\x1b\a\u202e") {
		t.Fatalf("String() = %q holds raw control or bidi characters", got)
	}
	for _, want := range []string{`"run\x1b[2K\u202egnp.sh":3: error:`, `\x1b]0;x\a`, `rename \u202e it`} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %s, lacks %s", got, want)
		}
	}
	if plain := Errorf("run.sh", 1, "fine: ünïcödé stays").String(); plain != "run.sh:1: error: fine: ünïcödé stays" {
		t.Errorf("plain diagnostic changed: %q", plain)
	}
}
