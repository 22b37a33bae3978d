// Package tier is the host's view of tierpack's support tiers: the typed,
// ordered Tier, what the manifest annotation holds, and the check behind
// `pull --tier`.
//
// The tiers come from the Falco project's scope proposal: contrib ("use at
// your own risk": scripts, YAML, markdown), repository (its own repository,
// a build and a release, an OWNERS file whose maintainers support it) and
// official (core maintainers release and support it). They are ordered:
// contrib < repository < official, and an artifact without a tier counts as
// below contrib. Their names, and the type itself, are part of the plugin
// contract and defined in the sdk (sdk.TierContrib, contrib.Tier), since
// tierpack.yaml declares a tier; Tier is that type, so the two never
// disagree.
package tier

import (
	"errors"
	"fmt"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/contrib"
)

// Tier is a support tier. The zero value is None: an artifact that carries
// no tier at all (for example one pushed by `helm push`). It is
// contrib.Tier, the type tierpack.yaml's tier parses into.
type Tier = contrib.Tier

// The tiers, lowest first.
const (
	None       = contrib.TierNone
	Contrib    = contrib.TierContrib
	Repository = contrib.TierRepository
	Official   = contrib.TierOfficial
)

// Annotation is the manifest annotation that carries an artifact's tier.
const Annotation = sdk.AnnotationTier

// All lists the real tiers, lowest first.
var All = []Tier{Contrib, Repository, Official}

// ErrUnknown is returned by Parse for a name that is not a tier.
var ErrUnknown = contrib.ErrUnknownTier

// ErrBelow is wrapped by the error Require returns when a tier is too low.
var ErrBelow = errors.New("tier below the required tier")

// Parse returns the tier named s (case-insensitive).
func Parse(s string) (Tier, error) { return contrib.ParseTier(s) }

// FromAnnotations returns the tier recorded in manifest annotations, None
// when there is none, or an error when the value is not a tier.
func FromAnnotations(a map[string]string) (Tier, error) {
	v, ok := a[Annotation]
	if !ok || v == "" {
		return None, nil
	}
	t, err := Parse(v)
	if err != nil {
		return None, fmt.Errorf("annotation %s: %w", Annotation, err)
	}
	return t, nil
}

// Require returns nil when have is at least want, and otherwise an error that
// names both tiers and wraps ErrBelow. subject names the artifact.
func Require(subject string, have, want Tier) error {
	if have.AtLeast(want) {
		return nil
	}
	if have == None {
		return fmt.Errorf("%w: %s carries no tier annotation (%s), so it counts as below contrib; "+
			"--tier %s needs %s or higher (pull without --tier to accept it as untiered)", ErrBelow, subject, Annotation, want, want)
	}
	return fmt.Errorf("%w: %s is tier %s, but --tier %s needs %s or higher (drop --tier or ask a maintainer to promote it)",
		ErrBelow, subject, have, want, want)
}
