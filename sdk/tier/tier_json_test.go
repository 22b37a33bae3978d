package tier

import (
	"encoding/json"
	"testing"
)

// Every tier, untiered included, survives JSON: promotion records from an
// untiered artifact say "from":"untiered" and must read back.
func TestTierRoundTripsThroughJSON(t *testing.T) {
	for _, want := range []Tier{None, Contrib, Repository, Official} {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got Tier
		if err := json.Unmarshal(b, &got); err != nil || got != want {
			t.Errorf("%s: json %s decodes to %v, %v", want, b, got, err)
		}
	}
	if _, err := Parse("untiered"); err == nil {
		t.Error(`Parse("untiered") accepted it; --tier untiered means nothing`)
	}
}
