package requires

import (
	"strings"
	"testing"

	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/falco"
)

func TestRuntimes(t *testing.T) {
	rt, err := ParseRuntimes([]string{"falco=0.39.1", "falco-engine=0.43.0"})
	if err != nil {
		t.Fatal(err)
	}
	unmet, undeclared := rt.Unmet(map[string]string{"falco": ">=0.40.0", "kubernetes": ">=1.30"})
	if len(unmet) != 1 || unmet[0] != "needs falco >=0.40.0, this machine runs 0.39.1" || len(undeclared) != 1 {
		t.Errorf("unmet %q, undeclared %q", unmet, undeclared)
	}
	if unmet, _ := rt.Unmet(map[string]string{"falco": ">=0.39.0 <0.40.0"}); len(unmet) != 0 {
		t.Errorf("a met range: %q", unmet)
	}
	for _, bad := range []string{"falco", "=1.0", "falco=banana"} {
		if _, err := ParseRuntimes([]string{bad}); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// falcoctl's requirements: the same major version, at least as new.
func TestFromFalcoctl(t *testing.T) {
	need, unknown := FromFalcoctl([]falco.Dependency{{Name: "engine_version_semver", Version: "0.31.0"}, {Name: "something_new", Version: "1"}})
	if len(unknown) != 1 || need["falco-engine"] == "" {
		t.Fatalf("need %v, unknown %v", need, unknown)
	}
	for v, ok := range map[string]bool{"0.31.0": true, "0.43.0": true, "0.30.9": false, "1.0.0": false} {
		rt, _ := ParseRuntimes([]string{"falco-engine=" + v})
		if unmet, _ := rt.Unmet(need); (len(unmet) == 0) != ok {
			t.Errorf("engine %s against %s: unmet %q", v, need["falco-engine"], unmet)
		}
	}
}

func TestAnnotationRoundTrip(t *testing.T) {
	r := contrib.Requires{Artifacts: []contrib.ArtifactRequirement{{Name: "falco-base", Version: "^1"}}, Runtimes: map[string]string{"falco": ">=0.40.0"}}
	got, err := FromAnnotations(map[string]string{"dev.tierpack.requires": Annotation(r)})
	if err != nil || got.Artifacts[0] != r.Artifacts[0] || got.Runtimes["falco"] != ">=0.40.0" {
		t.Fatalf("%+v, %v", got, err)
	}
	if Annotation(contrib.Requires{}) != "" {
		t.Error("nothing required still annotates")
	}
	if _, err := FromAnnotations(map[string]string{"dev.tierpack.requires": `{"runtimes":{"falco":"banana"}}`}); err == nil || !strings.Contains(err.Error(), "semver range") {
		t.Errorf("a bad range in an annotation: %v", err)
	}
}
