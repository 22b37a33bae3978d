package sdk

import (
	"regexp"
	"strings"
	"testing"
)

// TestNamesMatchTheGrammars checks the hand-written checks against the
// grammars' regular expressions on a spread of inputs.
func TestNamesMatchTheGrammars(t *testing.T) {
	tagRE := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)
	mediaTypeRE := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)
	inputs := []string{"", "a", "1.0.0", "1.0.0_build.1", "_x", ".x", "-x", "x-", "latest", "a b", "a/b", "é",
		"sha256-abc.sig", strings.Repeat("a", 128), strings.Repeat("a", 129), "x:y", "x@y",
		"application/vnd.oci.image.manifest.v1+json", "application/vnd.tierpack.contribution.v1.tar+gzip",
		"a/", "/b", "a/b/c", "+a/b", "a/+b", "a/b!#$&^_.+-", "a b/c", "text/plain; charset=utf-8",
		strings.Repeat("a", 127) + "/" + strings.Repeat("b", 127), strings.Repeat("a", 128) + "/b", "a/" + strings.Repeat("b", 128)}
	for _, s := range inputs {
		if got, want := ValidTag(s), tagRE.MatchString(s); got != want {
			t.Errorf("ValidTag(%q) = %v, the grammar says %v", s, got, want)
		}
		if got, want := ValidMediaType(s), mediaTypeRE.MatchString(s); got != want {
			t.Errorf("ValidMediaType(%q) = %v, the grammar says %v", s, got, want)
		}
	}
}
