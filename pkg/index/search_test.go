package index

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tierpack/tierpack/sdk/tier"
)

// summary names each result as name@latest(tier) and lists its versions.
func summary(es []Entry) []string {
	out := []string{}
	for _, e := range es {
		var vs []string
		for _, v := range e.Versions {
			vs = append(vs, v.Version)
		}
		out = append(out, fmt.Sprintf("%s@%s(%s)%v", e.Name, e.Latest, e.Tier, vs))
	}
	return out
}

func TestSearch(t *testing.T) {
	ix, err := Load("testdata/search.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"everything", Query{}, []string{
			"falco-debug-bundle@1.2.0(official)[1.3.0-rc.1 1.2.0 1.1.0]",
			"falco-quickstart@0.2.0(contrib)[0.2.0 0.1.0]",
			"falco-rules-exporter@0.3.1(repository)[0.3.1]",
			"helm-only@1.0.0(untiered)[1.0.0]",
			"k8s-audit-bridge@2.0.0(contrib)[2.0.0 1.5.0]",
		}},
		// At least official: the bridge's older official version matches
		// although its latest was demoted.
		{"tier official", Query{Tier: tier.Official}, []string{
			"falco-debug-bundle@1.2.0(official)[1.2.0]",
			"k8s-audit-bridge@1.5.0(official)[1.5.0]",
		}},
		{"tier repository means at least", Query{Tier: tier.Repository}, []string{
			"falco-debug-bundle@1.2.0(official)[1.2.0 1.1.0]",
			"falco-rules-exporter@0.3.1(repository)[0.3.1]",
			"k8s-audit-bridge@1.5.0(official)[1.5.0]",
		}},
		// Untiered counts as below contrib, as in pull.
		{"tier contrib drops untiered", Query{Tier: tier.Contrib}, []string{
			"falco-debug-bundle@1.2.0(official)[1.3.0-rc.1 1.2.0 1.1.0]",
			"falco-quickstart@0.2.0(contrib)[0.2.0 0.1.0]",
			"falco-rules-exporter@0.3.1(repository)[0.3.1]",
			"k8s-audit-bridge@2.0.0(contrib)[2.0.0 1.5.0]",
		}},
		{"exactly repository", Query{Tier: tier.Repository, ExactTier: true}, []string{
			"falco-debug-bundle@1.1.0(repository)[1.1.0]",
			"falco-rules-exporter@0.3.1(repository)[0.3.1]",
		}},
		// Only a pre-release is contrib: it becomes the latest match.
		{"exactly contrib", Query{Tier: tier.Contrib, ExactTier: true}, []string{
			"falco-debug-bundle@1.3.0-rc.1(contrib)[1.3.0-rc.1]",
			"falco-quickstart@0.2.0(contrib)[0.2.0 0.1.0]",
			"k8s-audit-bridge@2.0.0(contrib)[2.0.0]",
		}},
		{"type", Query{Type: "chart"}, []string{
			"falco-rules-exporter@0.3.1(repository)[0.3.1]",
			"helm-only@1.0.0(untiered)[1.0.0]",
		}},
		{"type is case-insensitive, with tier", Query{Type: "CHART", Tier: tier.Repository}, []string{
			"falco-rules-exporter@0.3.1(repository)[0.3.1]",
		}},
		{"type and exact tier", Query{Type: "script", Tier: tier.Official, ExactTier: true}, []string{
			"falco-debug-bundle@1.2.0(official)[1.2.0]",
		}},
		{"text in a keyword, any case", Query{Text: "prometheus"}, []string{
			"falco-rules-exporter@0.3.1(repository)[0.3.1]",
		}},
		{"text in a description", Query{Text: "KUBERNETES"}, []string{
			"k8s-audit-bridge@2.0.0(contrib)[2.0.0 1.5.0]",
		}},
		{"text in a name", Query{Text: "bridge"}, []string{
			"k8s-audit-bridge@2.0.0(contrib)[2.0.0 1.5.0]",
		}},
		{"every word must match", Query{Text: "falco  bug"}, []string{
			"falco-debug-bundle@1.2.0(official)[1.3.0-rc.1 1.2.0 1.1.0]",
		}},
		{"words match different fields", Query{Text: "quickstart packages"}, []string{
			"falco-quickstart@0.2.0(contrib)[0.2.0 0.1.0]",
		}},
		{"text and tier", Query{Text: "falco", Tier: tier.Repository}, []string{
			"falco-debug-bundle@1.2.0(official)[1.2.0 1.1.0]",
			"falco-rules-exporter@0.3.1(repository)[0.3.1]",
		}},
		{"no match", Query{Text: "nothing-like-this"}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.q.Validate(); err != nil {
				t.Fatal(err)
			}
			got := summary(ix.Search(tc.q))
			if !slices.Equal(got, tc.want) {
				t.Errorf("Search(%+v):\n got %q\nwant %q", tc.q, got, tc.want)
			}
		})
	}
	// Search filters copies: the index itself is unchanged.
	if got := summary(ix.Search(Query{})); len(got) != 5 || got[4] != "k8s-audit-bridge@2.0.0(contrib)[2.0.0 1.5.0]" {
		t.Errorf("the index changed under Search: %q", got)
	}
}

func TestQueryValidate(t *testing.T) {
	if err := (Query{ExactTier: true}).Validate(); err == nil {
		t.Error("ExactTier without a tier was accepted")
	}
}

func TestMerge(t *testing.T) {
	a := &Index{Entries: []Entry{
		{Name: "b", Repository: "r/b", Latest: "1.0.0", Description: "from a"},
		{Name: "a", Repository: "r/a", Latest: "1.0.0"},
	}}
	b := &Index{Entries: []Entry{
		{Name: "b", Repository: "r/b", Latest: "2.0.0", Description: "from b"},
		{Name: "b", Repository: "other/b", Latest: "1.0.0"},
		{Name: "c", Repository: "r/c", Latest: "1.0.0"},
	}}
	got := Merge(Named{"first", a}, Named{"second", b}, Named{"empty", nil})
	var names []string
	for _, e := range got.Entries {
		names = append(names, e.Index+":"+e.Repository+"@"+e.Latest)
	}
	want := []string{"first:r/a@1.0.0", "second:other/b@1.0.0", "first:r/b@1.0.0", "second:r/c@1.0.0"}
	if !slices.Equal(names, want) {
		t.Errorf("Merge = %q, want %q (sorted by name then repository; the first index wins a repository)", names, want)
	}
	if a.Entries[0].Index != "" {
		t.Error("Merge changed its input")
	}
}
