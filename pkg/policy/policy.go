// Package policy decides whether an artifact meets a tier's requirements.
//
// It is the one place those rules live: push checks a contribution against
// the tier it claims, promote against the tier it moves to, and pull
// against the tier the user asks for. The built-in defaults follow the
// design (and the Falco project's tiers):
//
//	contrib     a valid manifest and a plugin validation with no errors
//	repository  + an OWNERS file with at least one approver, a source URL and
//	              revision, an SPDX licence, a semver release version
//	official    + no validation warnings, a cosign signature by a trusted key,
//	              and a signed promotion record
//
// A policy file (YAML, see File) can tighten or relax each rule. Every
// refusal lists every unmet requirement at once, each with how to meet it.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/tier"
)

// ErrRefused is wrapped by RefusalError.
var ErrRefused = errors.New("tier requirements not met")

// Policy holds the requirements of each tier above contrib. The zero value
// requires nothing; use Default.
type Policy struct {
	Repository Repository `yaml:"repository"`
	Official   Official   `yaml:"official"`
	// TrustedKeys are paths of PEM public keys trusted for every tier.
	TrustedKeys []string `yaml:"trustedKeys,omitempty"`
	// Keys are PEM public keys trusted for one tier: the project's release
	// or CI keys for repository, core maintainers' for official. A key
	// trusted for official is trusted for repository too. They apply where
	// no scope matches.
	Keys TierKeys `yaml:"keys,omitempty"`
	// Scopes give the repositories their globs match keys of their own and
	// a number of distinct signers per tier; the first match wins, and
	// inside a scope only its keys count: the global keys, trusted-keys/
	// and --key do not reach into it.
	Scopes []Scope `yaml:"scopes,omitempty"`
	// Revoked are public keys that count for nothing, wherever they
	// appear (a global key, a scope's, trusted-keys/, --key).
	Revoked []string `yaml:"revoked,omitempty"`
	// RequireSandbox refuses to run a third-party plugin where this system
	// cannot confine it (no Landlock: an older kernel, macOS, Windows),
	// rather than run it unconfined. Built-in plugins still run.
	RequireSandbox bool `yaml:"requireSandbox,omitempty"`
	// TrustedRoot is a trusted_root.json (cosign's and sigstore-go's
	// format: Fulcio CAs, Rekor logs, timestamp authorities) that keyless
	// identities are verified against; required when a scope names any.
	// Verification is offline: nothing is fetched.
	TrustedRoot string `yaml:"trustedRoot,omitempty"`
	// Dir is the folder of the policy file: relative key paths are read
	// from there.
	Dir string `yaml:"-"`
}

// TierKeys lists keys per tier.
type TierKeys struct {
	Repository []KeyRef `yaml:"repository,omitempty" json:"repository,omitempty"`
	Official   []KeyRef `yaml:"official,omitempty" json:"official,omitempty"`
	// Plugins are the keys plugin publishers sign plugins with (`plugin
	// push --key`): a trust root of its own, since a plugin is code every
	// artifact of its type runs through, not a contribution with a tier.
	Plugins []KeyRef `yaml:"plugins,omitempty" json:"plugins,omitempty"`
}

// KeyRef is a public key file, written as its path or as
// {key: PATH, notAfter: TIME}: records it signs with a time after NotAfter
// count for nothing (those signed before stay valid), for rotating a key
// out without re-signing history. The time is the one the record carries,
// signed by that key: a leaked key can backdate it, which is what revoked
// is for.
type KeyRef struct {
	Key      string    `yaml:"key" json:"key,omitempty"`
	NotAfter time.Time `yaml:"notAfter,omitempty" json:"notAfter,omitempty"`
}

// UnmarshalYAML reads a path or a mapping.
func (k *KeyRef) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		k.Key = n.Value
		return nil
	}
	type plain KeyRef
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	if p.Key == "" {
		return fmt.Errorf("line %d: a key needs key: PATH", n.Line)
	}
	*k = KeyRef(p)
	return nil
}

// Scope is a set of repositories with signers and requirements of their
// own.
type Scope struct {
	// Repositories are globs over "registry/repository": * matches within
	// a path element, ** across them ("registry.example/falcosecurity/**").
	Repositories []string  `yaml:"repositories" json:"repositories,omitempty"`
	Repository   ScopeTier `yaml:"repository,omitempty" json:"repository,omitzero"`
	Official     ScopeTier `yaml:"official,omitempty" json:"official,omitzero"`
	// Plugins are the keys trusted to sign the plugins published in the
	// scope's repositories (keys only; no threshold).
	Plugins ScopeTier `yaml:"plugins,omitempty" json:"plugins,omitzero"`
	// Requirements replace the policy's tier requirements inside the
	// scope: written like the top-level repository: and official:, fields
	// left out keep the policy's values. Falco's own artifacts carry no
	// OWNERS or licence annotation, so a scope for them may ask for less
	// than the contributions tierpack pushes.
	Requirements *Requirements `yaml:"requirements,omitempty" json:"requirements,omitempty"`
}

// Requirements are a scope's tier requirements (Scope.Requirements).
type Requirements struct {
	Repository Repository `yaml:"repository" json:"repository"`
	Official   Official   `yaml:"official" json:"official"`
}

// ScopeTier is who may sign a tier in a scope.
type ScopeTier struct {
	Keys []KeyRef `yaml:"keys,omitempty" json:"keys,omitempty"`
	// Identities are keyless signers: a Sigstore bundle (cosign v3's
	// signature referrer) by a Fulcio certificate of one of them, logged
	// in the policy's trustedRoot, approves the manifest it signs for the
	// tier, as a record signed by a key would.
	Identities []Identity `yaml:"identities,omitempty" json:"identities,omitempty"`
	// Threshold is how many distinct keys or identities must have
	// approved the content for the tier (0 or 1: one).
	Threshold int `yaml:"threshold,omitempty" json:"threshold,omitempty"`
}

// Identity is a keyless signer, as cosign's --certificate-oidc-issuer and
// --certificate-identity(-regexp) name it: the OIDC issuer and the
// certificate's subject, exact or as a regular expression.
type Identity = sign.Identity

// checkIdentity reports what is wrong with an identity.
func checkIdentity(id Identity) error {
	switch {
	case id.Issuer == "":
		return errors.New("an identity needs issuer: (e.g. https://token.actions.githubusercontent.com)")
	case (id.Subject == "") == (id.SubjectRegExp == ""):
		return errors.New("an identity needs exactly one of subject: and subjectRegExp:")
	}
	if id.SubjectRegExp != "" {
		if _, err := regexp.Compile(id.SubjectRegExp); err != nil {
			return fmt.Errorf("subjectRegExp: %v", err)
		}
	}
	return nil
}

// GlobRegexp compiles a scope's glob over "registry/repository", where *
// stays within a path element and ** crosses them, to match repositories
// with (the gate compiles each scope's globs once, when it loads).
func GlobRegexp(glob string) *regexp.Regexp {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; {
		case c == '*' && i+1 < len(glob) && glob[i+1] == '*':
			re.WriteString(".*")
			i++
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()) // every other character is quoted
}

// Repository lists the repository tier's requirements (they apply to
// official too).
type Repository struct {
	// MinApprovers is how many approvers OWNERS must list (0 disables the
	// OWNERS requirement).
	MinApprovers int `yaml:"minApprovers" json:"minApprovers"`
	// RequireSource requires source.url and source.revision.
	RequireSource bool `yaml:"requireSource" json:"requireSource"`
	// RequireLicense requires an SPDX licence expression.
	RequireLicense bool `yaml:"requireLicense" json:"requireLicense"`
	// RequireSemver requires a semantic release version.
	RequireSemver bool `yaml:"requireSemver" json:"requireSemver"`
	// RequireSignature requires a signed tier record by a key trusted for
	// repository (written by push --key or promote).
	RequireSignature bool `yaml:"requireSignature" json:"requireSignature"`
}

// Official lists the official tier's own requirements.
type Official struct {
	// MaxWarnings is how many validation warnings are allowed (-1: any).
	MaxWarnings int `yaml:"maxWarnings" json:"maxWarnings"`
	// RequireSignature requires a cosign signature by a trusted key.
	RequireSignature bool `yaml:"requireSignature" json:"requireSignature"`
	// RequirePromotion requires a promotion record signed by a trusted key.
	RequirePromotion bool `yaml:"requirePromotion" json:"requirePromotion"`
}

// Default returns the built-in policy.
func Default() Policy {
	return Policy{
		Repository: Repository{MinApprovers: 1, RequireSource: true, RequireLicense: true, RequireSemver: true, RequireSignature: true},
		Official:   Official{MaxWarnings: 0, RequireSignature: true, RequirePromotion: true},
	}
}

// Load reads a policy file. Fields it leaves out keep their defaults.
func Load(path string) (Policy, error) {
	p := Default()
	f, err := os.Open(path)
	if err != nil {
		return p, fmt.Errorf("reading policy: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPolicy+1))
	f.Close()
	if err != nil {
		return p, fmt.Errorf("reading policy: %w", err)
	}
	if len(b) > maxPolicy {
		return p, fmt.Errorf("policy %s is larger than the %d bytes a policy may have", path, maxPolicy)
	}
	// Scope requirements start from the policy's own: decode the policy
	// first, then each scope's requirements over a copy of them.
	var raw struct {
		Scopes []struct {
			Requirements yaml.Node `yaml:"requirements"`
		} `yaml:"scopes"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("policy %s: %v (fields: repository.{minApprovers,requireSource,requireLicense,requireSemver,requireSignature}, official.{maxWarnings,requireSignature,requirePromotion}, trustedKeys, keys.{repository,official,plugins}, scopes[].{repositories,requirements,repository,official,plugins}, scopes[].{repository,official}.{keys,identities,threshold}, revoked, trustedRoot, requireSandbox)", path, err)
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return p, fmt.Errorf("policy %s: %v", path, err)
	}
	keyless := false
	for i, s := range p.Scopes {
		if len(s.Repositories) == 0 {
			return p, fmt.Errorf("policy %s: scopes[%d] has no repositories", path, i)
		}
		if s.Requirements != nil {
			r := Requirements{Repository: p.Repository, Official: p.Official}
			if err := raw.Scopes[i].Requirements.Decode(&r); err != nil {
				return p, fmt.Errorf("policy %s: scopes[%d].requirements: %v", path, i, err)
			}
			p.Scopes[i].Requirements = &r
		}
		for _, st := range []ScopeTier{s.Repository, s.Official} {
			for _, id := range st.Identities {
				if err := checkIdentity(id); err != nil {
					return p, fmt.Errorf("policy %s: scopes[%d]: %v", path, i, err)
				}
				keyless = true
			}
			if n := len(st.Keys) + len(st.Identities); st.Threshold > n {
				return p, fmt.Errorf("policy %s: scopes[%d] asks for %d signers of %d keys and identities: nothing could ever count", path, i, st.Threshold, n)
			}
		}
	}
	if keyless && p.TrustedRoot == "" {
		return p, fmt.Errorf("policy %s names keyless identities but no trustedRoot: give the trusted_root.json they are verified against (cosign's format; the Sigstore public-good one is https://raw.githubusercontent.com/sigstore/root-signing/main/targets/trusted_root.json)", path)
	}
	p.Dir = filepath.Dir(path)
	return p, nil
}

// maxPolicy bounds a policy file: a genuine one is a few kilobytes.
const maxPolicy = 1 << 20

// Facts is what is known about an artifact or a contribution.
type Facts struct {
	Owners    *owners.File
	OwnersErr error
	SourceURL string
	Revision  string
	License   string
	Version   string
	// Warnings is the number of validation warnings; -1 when unknown.
	Warnings int
	// SignedBy names the trusted key that signed the manifest (official:
	// its cosign signature); empty when none did, with SignatureErr saying
	// why.
	SignedBy     string
	SignatureErr error
	// TierSignedBy names the trusted key that signed the tier record (at
	// push: the key that will sign it); empty when none did, with
	// TierSignatureErr saying why.
	TierSignedBy     string
	TierSignatureErr error
	// PromotedBy describes a valid promotion record to this tier; empty
	// when there is none, with PromotionErr saying why.
	PromotedBy   string
	PromotionErr error
	// Foreign is set for an artifact tierpack did not push (one of
	// falcoctl's): what it lacks is vouched for in its tier record, not
	// written in a tierpack.yaml.
	Foreign bool
}

// Unmet is one requirement an artifact does not meet.
type Unmet struct {
	Tier    tier.Tier `json:"tier"`
	Rule    string    `json:"rule"`
	Problem string    `json:"problem"`
	Fix     string    `json:"fix"`
}

// RefusalError lists every unmet requirement for a tier.
type RefusalError struct {
	Subject string
	Tier    tier.Tier
	Unmet   []Unmet
	// Foreign is Facts.Foreign: the remedies are given with the promotion.
	Foreign bool
}

// Error lists the problems, one per line, with their fixes.
func (e *RefusalError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s does not meet the %s tier's requirements (%d unmet):", e.Subject, e.Tier, len(e.Unmet))
	for _, u := range e.Unmet {
		fmt.Fprintf(&b, "\n  - %s: %s; %s", u.Rule, u.Problem, u.Fix)
	}
	return b.String()
}

// Unwrap returns ErrRefused.
func (e *RefusalError) Unwrap() error { return ErrRefused }

// foreignFixes are the remedies for an artifact tierpack did not push,
// whose promotion vouches for what it lacks.
var foreignFixes = map[string]string{
	"owners":   "name the maintainers who support it with the promotion",
	"source":   "give its source repository with the promotion",
	"revision": "give the released commit or tag with the promotion",
	"license":  "give its SPDX licence with the promotion",
	"version":  "its falcoctl config must carry a MAJOR.MINOR.PATCH version",
}

// Check returns nil when facts meet every requirement of want (and of the
// tiers below it), and a *RefusalError listing all that are unmet otherwise.
func (p Policy) Check(subject string, want tier.Tier, f Facts) error {
	var unmet []Unmet
	add := func(t tier.Tier, rule, problem, fix string) {
		if f.Foreign {
			if ff, ok := foreignFixes[rule]; ok {
				fix = ff
			}
		}
		unmet = append(unmet, Unmet{Tier: t, Rule: rule, Problem: problem, Fix: fix})
	}
	if want >= tier.Repository {
		r := p.Repository
		if r.MinApprovers > 0 {
			switch {
			case f.OwnersErr != nil:
				add(tier.Repository, "owners", f.OwnersErr.Error(), "fix the OWNERS file (Kubernetes format: approvers, reviewers)")
			case f.Owners == nil:
				add(tier.Repository, "owners", "no OWNERS file", "add an OWNERS file listing the maintainers under approvers: and set owners: OWNERS in tierpack.yaml")
			case len(f.Owners.Approvers) < r.MinApprovers:
				add(tier.Repository, "owners", fmt.Sprintf("OWNERS lists %d approver(s), the policy needs %d", len(f.Owners.Approvers), r.MinApprovers), "add the maintainers who support it under approvers:")
			}
		}
		if r.RequireSource {
			if f.SourceURL == "" {
				add(tier.Repository, "source", "no source URL", "set source.url in tierpack.yaml to the contribution's own repository")
			}
			if f.Revision == "" {
				add(tier.Repository, "revision", "no source revision", "set source.revision in tierpack.yaml to the released commit or tag")
			}
		}
		if r.RequireLicense && f.License == "" {
			add(tier.Repository, "license", "no licence", "set license: in tierpack.yaml to an SPDX identifier such as Apache-2.0")
		}
		if r.RequireSemver && !contrib.IsSemver(f.Version) {
			add(tier.Repository, "version", fmt.Sprintf("version %q is not a semantic release version", f.Version), "use MAJOR.MINOR.PATCH, e.g. 1.2.0")
		}
		if r.RequireSignature && f.TierSignedBy == "" {
			problem := "no tier record signed by a key trusted for repository"
			if f.TierSignatureErr != nil {
				problem = f.TierSignatureErr.Error()
			}
			add(tier.Repository, "tier-signature", problem, "sign its tier record with the project's release or CI key, and have pullers trust that key for repository")
		}
	}
	if want >= tier.Official {
		o := p.Official
		if o.MaxWarnings >= 0 {
			switch {
			case f.Warnings < 0:
				add(tier.Official, "warnings", "the number of validation warnings is unknown", "re-push the contribution with this tierpack so the count is recorded")
			case f.Warnings > o.MaxWarnings:
				add(tier.Official, "warnings", fmt.Sprintf("validation reported %d warning(s), the policy allows %d", f.Warnings, o.MaxWarnings), "fix them and push again")
			}
		}
		if o.RequireSignature && f.SignedBy == "" {
			problem := "no signature by a trusted key"
			if f.SignatureErr != nil {
				problem = f.SignatureErr.Error()
			}
			add(tier.Official, "signature", problem, "a core maintainer signs it")
		}
		if o.RequirePromotion && f.PromotedBy == "" {
			problem := "no promotion record to official"
			if f.PromotionErr != nil {
				problem = f.PromotionErr.Error()
			}
			add(tier.Official, "promotion", problem, "official is reached only through a promotion signed by a core maintainer")
		}
	}
	if len(unmet) == 0 {
		return nil
	}
	return &RefusalError{Subject: subject, Tier: want, Unmet: unmet, Foreign: f.Foreign}
}
