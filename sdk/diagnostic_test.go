package sdk

import (
	"encoding/json"
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
