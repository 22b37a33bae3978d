package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/pkg/owners"
	"github.com/tierpack/tierpack/sdk/tier"
)

func good() Facts {
	return Facts{
		Owners:    &owners.File{Approvers: []string{"jane"}},
		SourceURL: "https://github.com/x/y", Revision: "abc", License: "MIT", Version: "1.0.0",
		Warnings: 0, SignedBy: "key 1", PromotedBy: "jane", TierSignedBy: "key 1",
	}
}

func TestCheck(t *testing.T) {
	p := Default()
	for _, tc := range []struct {
		name   string
		want   tier.Tier
		mutate func(*Facts)
		unmet  []string // rules, in order
	}{
		{"contrib needs nothing", tier.Contrib, func(f *Facts) { *f = Facts{Warnings: -1} }, nil},
		{"repository ok", tier.Repository, func(f *Facts) { f.SignedBy, f.PromotedBy, f.Warnings = "", "", 7 }, nil},
		{"repository, everything missing", tier.Repository, func(f *Facts) { *f = Facts{Version: "latest"} },
			[]string{"owners", "source", "revision", "license", "version", "tier-signature"}},
		{"repository: the tier is a claim until a trusted key signs it", tier.Repository, func(f *Facts) {
			f.TierSignedBy, f.TierSignatureErr = "", errors.New("record signed by a stranger")
		}, []string{"tier-signature"}},
		{"owners without approvers", tier.Repository, func(f *Facts) { f.Owners = &owners.File{Reviewers: []string{"x"}} }, []string{"owners"}},
		{"broken owners", tier.Repository, func(f *Facts) { f.Owners, f.OwnersErr = nil, errors.New("bad yaml") }, []string{"owners"}},
		{"official ok", tier.Official, func(*Facts) {}, nil},
		{"official: warnings, unsigned, unpromoted", tier.Official, func(f *Facts) {
			f.Warnings, f.SignedBy, f.PromotedBy = 2, "", ""
			f.SignatureErr = errors.New("signed by a stranger")
		}, []string{"warnings", "signature", "promotion"}},
		{"official includes repository rules", tier.Official, func(f *Facts) { f.License = "" }, []string{"license"}},
		{"official, unknown warnings", tier.Official, func(f *Facts) { f.Warnings = -1 }, []string{"warnings"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good()
			tc.mutate(&f)
			err := p.Check("x:1", tc.want, f)
			if len(tc.unmet) == 0 {
				if err != nil {
					t.Fatalf("unexpected refusal: %v", err)
				}
				return
			}
			var re *RefusalError
			if !errors.As(err, &re) || !errors.Is(err, ErrRefused) {
				t.Fatalf("err = %v, want a RefusalError", err)
			}
			var got []string
			for _, u := range re.Unmet {
				got = append(got, u.Rule)
				if u.Fix == "" || u.Problem == "" {
					t.Errorf("unmet %s has no problem or fix", u.Rule)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.unmet, ",") {
				t.Errorf("unmet = %v, want %v", got, tc.unmet)
			}
			if !strings.Contains(err.Error(), tc.want.String()+" tier's requirements") {
				t.Errorf("message: %v", err)
			}
		})
	}
	if err := p.Check("x", tier.Official, Facts{SignatureErr: errors.New("signed by a stranger"), Warnings: 0}); !strings.Contains(err.Error(), "signed by a stranger") {
		t.Errorf("signature problem not carried: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	os.WriteFile(path, []byte("repository:\n  minApprovers: 2\nofficial:\n  maxWarnings: -1\ntrustedKeys: [core.pub]\n"), 0o644)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Repository.MinApprovers != 2 || !p.Repository.RequireSource || p.Official.MaxWarnings != -1 || !p.Official.RequireSignature || p.TrustedKeys[0] != "core.pub" {
		t.Errorf("loaded %+v", p)
	}
	f := good()
	f.Warnings = 9
	if err := p.Check("x", tier.Official, f); err == nil || !strings.Contains(err.Error(), "2 approver") && !strings.Contains(err.Error(), "needs 2") {
		t.Errorf("minApprovers 2 not enforced: %v", err)
	}
	os.WriteFile(path, []byte("repository:\n  minAprovers: 2\n"), 0o644)
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "minAprovers") {
		t.Errorf("typo accepted: %v", err)
	}
}

// Keyless identities and scope requirements: what a policy may say, and
// the mistakes it is told about.
func TestLoadKeylessScopes(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "policy.yaml")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p, err := Load(write(`official: {maxWarnings: 3}
trustedRoot: trusted_root.json
scopes:
  - repositories: ["ghcr.io/falcosecurity/**"]
    requirements:
      repository: {minApprovers: 0}
    official:
      identities:
        - {issuer: "https://token.actions.githubusercontent.com", subjectRegExp: "^https://github.com/falcosecurity/"}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := p.Scopes[0].Requirements
	if r == nil || r.Repository.MinApprovers != 0 || !r.Repository.RequireLicense || r.Official.MaxWarnings != 3 {
		t.Errorf("scope requirements start from the policy's: %+v", r)
	}
	if id := p.Scopes[0].Official.Identities; len(id) != 1 || id[0].SubjectRegExp == "" {
		t.Errorf("identities: %+v", id)
	}
	for name, tc := range map[string]struct{ policy, want string }{
		"no trusted root": {`scopes: [{repositories: [a/**], official: {identities: [{issuer: i, subject: s}]}}]`, "no trustedRoot"},
		"no issuer":       {`trustedRoot: r.json` + "\n" + `scopes: [{repositories: [a/**], official: {identities: [{subject: s}]}}]`, "needs issuer"},
		"both subjects":   {`trustedRoot: r.json` + "\n" + `scopes: [{repositories: [a/**], official: {identities: [{issuer: i, subject: s, subjectRegExp: x}]}}]`, "exactly one of subject"},
		"bad regexp":      {`trustedRoot: r.json` + "\n" + `scopes: [{repositories: [a/**], official: {identities: [{issuer: i, subjectRegExp: "("}]}}]`, "subjectRegExp"},
		"threshold":       {`trustedRoot: r.json` + "\n" + `scopes: [{repositories: [a/**], official: {identities: [{issuer: i, subject: s}], threshold: 2}}]`, "asks for 2 signers of 1"},
		"unknown field":   {`scopes: [{repositories: [a/**], requirements: {repository: {minAproovers: 1}}}]`, "minAproovers"},
	} {
		if _, err := Load(write(tc.policy)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "big.yaml"), make([]byte, maxPolicy+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "big.yaml")); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an oversized policy: %v", err)
	}
}

// The README's policy examples (the yaml blocks that start with "#
// policy.yaml") are policies this tierpack reads.
func TestREADMEPolicies(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range strings.Split(string(b), "```yaml\n")[1:] {
		block = block[:strings.Index(block, "```")]
		if !strings.HasPrefix(block, "# policy.yaml") {
			continue
		}
		n++
		p := filepath.Join(t.TempDir(), "policy.yaml")
		if err := os.WriteFile(p, []byte(block), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err != nil {
			t.Errorf("README policy %d: %v\n%s", n, err, block)
		}
	}
	if n < 2 {
		t.Errorf("found %d policy examples in the README, want the format and the worked example", n)
	}
}
