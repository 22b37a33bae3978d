package contrib

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tierpack/tierpack/sdk"
)

// Tier is a parsed support tier, as tierpack.yaml's tier field declares it.
// Tiers are ordered: TierNone < TierContrib < TierRepository < TierOfficial,
// so comparing two Tiers compares what they promise. The zero value, TierNone,
// is an artifact that carries no tier (one pushed by `helm push`, say); a
// manifest that Load accepts never has it. Their names are sdk.TierContrib and
// the others; the host's package pkg/tier gives this type its host-side
// helpers (annotations, --tier checks).
type Tier int

// The tiers, lowest first.
const (
	TierNone Tier = iota
	TierContrib
	TierRepository
	TierOfficial
)

// ErrUnknownTier is wrapped by ParseTier's error for a name that is not a
// tier.
var ErrUnknownTier = errors.New("unknown tier")

// String returns the tier's name (sdk.TierContrib and the others);
// sdk.TierUntiered for TierNone.
func (t Tier) String() string {
	switch t {
	case TierContrib:
		return sdk.TierContrib
	case TierRepository:
		return sdk.TierRepository
	case TierOfficial:
		return sdk.TierOfficial
	}
	return sdk.TierUntiered
}

// MarshalText encodes the tier by name.
func (t Tier) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText decodes a tier name.
// "untiered" (what MarshalText writes for TierNone) decodes to TierNone, so
// a tier round-trips through JSON and YAML; ParseTier, for user input,
// still refuses it.
func (t *Tier) UnmarshalText(b []byte) error {
	if strings.EqualFold(strings.TrimSpace(string(b)), sdk.TierUntiered) {
		*t = TierNone
		return nil
	}
	v, err := ParseTier(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// AtLeast reports whether t is min or higher.
func (t Tier) AtLeast(min Tier) bool { return t >= min }

// ParseTier returns the tier named s (case-insensitive, surrounding space
// ignored). sdk.TierUntiered is not a tier one can declare, so it is refused.
func ParseTier(s string) (Tier, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case sdk.TierContrib:
		return TierContrib, nil
	case sdk.TierRepository:
		return TierRepository, nil
	case sdk.TierOfficial:
		return TierOfficial, nil
	}
	return TierNone, fmt.Errorf("%w %q: use one of %s", ErrUnknownTier, s, strings.Join(sdk.Tiers(), ", "))
}
