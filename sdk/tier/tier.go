// Package tier is tierpack's one type for its support tiers, shared by the
// host and plugins: the typed, ordered Tier, its names, what the manifest
// annotation holds, and the check behind a required tier.
//
// The tiers come from the Falco project's scope proposal: contrib ("use at
// your own risk": scripts, YAML, markdown), repository (its own repository,
// a build and a release, an OWNERS file whose maintainers support it) and
// official (core maintainers release and support it). They are ordered:
// contrib < repository < official, and an artifact without a tier counts as
// below contrib.
package tier

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tierpack/tierpack/sdk"
)

// Tier is a support tier, as tierpack.yaml's tier field declares it and a
// manifest's annotation claims it. Tiers are ordered: None < Contrib <
// Repository < Official, so comparing two Tiers compares what they promise.
// The zero value, None, is an artifact that carries no tier (one pushed by
// `helm push`, say); a manifest that contrib.Load accepts never has it.
// Their names are sdk.TierContrib and the others.
type Tier int

// The tiers, lowest first.
const (
	None Tier = iota
	Contrib
	Repository
	Official
)

// ErrUnknown is wrapped by Parse's error for a name that is not a
// tier.
var ErrUnknown = errors.New("unknown tier")

// String returns the tier's name (sdk.TierContrib and the others);
// sdk.TierUntiered for None.
func (t Tier) String() string {
	switch t {
	case Contrib:
		return sdk.TierContrib
	case Repository:
		return sdk.TierRepository
	case Official:
		return sdk.TierOfficial
	}
	return sdk.TierUntiered
}

// MarshalText encodes the tier by name.
func (t Tier) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText decodes a tier name.
// "untiered" (what MarshalText writes for None) decodes to None, so
// a tier round-trips through JSON and YAML; ParseTier, for user input,
// still refuses it.
func (t *Tier) UnmarshalText(b []byte) error {
	if strings.EqualFold(strings.TrimSpace(string(b)), sdk.TierUntiered) {
		*t = None
		return nil
	}
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// AtLeast reports whether t is min or higher.
func (t Tier) AtLeast(min Tier) bool { return t >= min }

// Parse returns the tier named s (case-insensitive, surrounding space
// ignored). sdk.TierUntiered is not a tier one can declare, so it is refused.
func Parse(s string) (Tier, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case sdk.TierContrib:
		return Contrib, nil
	case sdk.TierRepository:
		return Repository, nil
	case sdk.TierOfficial:
		return Official, nil
	}
	return None, fmt.Errorf("%w %q: use one of %s", ErrUnknown, s, strings.Join(sdk.Tiers(), ", "))
}

// All lists the real tiers, lowest first.
var All = []Tier{Contrib, Repository, Official}

// ErrBelow is wrapped by the error Require returns when a tier is too low.
var ErrBelow = errors.New("tier below the required tier")

// FromAnnotations returns the tier recorded in manifest annotations, None
// when there is none, or an error when the value is not a tier.
func FromAnnotations(a map[string]string) (Tier, error) {
	v, ok := a[sdk.AnnotationTier]
	if !ok || v == "" {
		return None, nil
	}
	t, err := Parse(v)
	if err != nil {
		return None, fmt.Errorf("annotation %s: %w", sdk.AnnotationTier, err)
	}
	return t, nil
}

// BelowError is a tier below the one required. Its message names both
// tiers; what to do about it (a flag to drop, a maintainer to ask) is the
// front end's to say.
type BelowError struct {
	// Subject names the artifact.
	Subject string
	// Have is the tier it is at (None: it carries no tier); Want the one
	// required.
	Have, Want Tier
}

func (e *BelowError) Error() string {
	if e.Have == None {
		return fmt.Sprintf("%s: %s carries no tier annotation (%s), so it counts as below contrib; %s or higher is required",
			ErrBelow, e.Subject, sdk.AnnotationTier, e.Want)
	}
	return fmt.Sprintf("%s: %s is tier %s, but %s or higher is required", ErrBelow, e.Subject, e.Have, e.Want)
}

// Unwrap returns ErrBelow.
func (e *BelowError) Unwrap() error { return ErrBelow }

// Require returns nil when have is at least want, and otherwise a
// *BelowError (wrapping ErrBelow). subject names the artifact.
func Require(subject string, have, want Tier) error {
	if have.AtLeast(want) {
		return nil
	}
	return &BelowError{Subject: subject, Have: have, Want: want}
}
