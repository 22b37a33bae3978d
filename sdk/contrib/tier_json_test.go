package contrib

import (
	"encoding/json"
	"testing"
)

// Every tier, untiered included, survives JSON: promotion records from an
// untiered artifact say "from":"untiered" and must read back.
func TestTierRoundTripsThroughJSON(t *testing.T) {
	for _, want := range []Tier{TierNone, TierContrib, TierRepository, TierOfficial} {
		b, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got Tier
		if err := json.Unmarshal(b, &got); err != nil || got != want {
			t.Errorf("%s: json %s decodes to %v, %v", want, b, got, err)
		}
	}
	if _, err := ParseTier("untiered"); err == nil {
		t.Error(`ParseTier("untiered") accepted it; --tier untiered means nothing`)
	}
}
