package owners

import (
	"errors"
	"testing"

	"github.com/tierpack/tierpack/sdk"
)

func TestParse(t *testing.T) {
	f, err := Parse("OWNERS", []byte("approvers:\n  - alice\n  - team-x\nreviewers: [bob]\nemeritus_approvers: [old]\noptions:\n  no_parent_owners: true\nlabels: [area/x]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Approvers) != 2 || f.Reviewers[0] != "bob" || f.EmeritusApprovers[0] != "old" {
		t.Errorf("%+v", f)
	}
	back, err := FromAnnotations(map[string]string{sdk.AnnotationOwners: f.JSON()})
	if err != nil || back.Approvers[1] != "team-x" {
		t.Errorf("round trip: %+v %v", back, err)
	}
	for _, bad := range []string{"", "approvers: alice: bob", "approvers: ['not a handle']"} {
		if _, err := Parse("OWNERS", []byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %v", bad, err)
		}
	}
	if f, err := FromAnnotations(nil); f != nil || err != nil {
		t.Errorf("no annotation: %v %v", f, err)
	}
}
