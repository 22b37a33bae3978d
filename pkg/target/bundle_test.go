package target

import (
	"path/filepath"
	"strings"
	"testing"
)

// A bundle's repository folders stay under repos/, whatever the registry
// name an index gives (a registry named ".." among them).
func TestBundleRepoDirStaysInRepos(t *testing.T) {
	dir := t.TempDir()
	repos := filepath.Join(dir, "repos") + string(filepath.Separator)
	for _, ref := range []Ref{
		{Kind: Remote, Registry: "..", Repository: "index.json"},
		{Kind: Remote, Registry: ".", Repository: "x"},
		{Kind: Remote, Registry: "localhost:5000", Repository: "falco/rules"},
	} {
		if got := BundleRepoDir(dir, ref); !strings.HasPrefix(got, repos) {
			t.Errorf("%s/%s: %s is outside %s", ref.Registry, ref.Repository, got, repos)
		}
	}
	if got := BundleRepoDir(dir, Ref{Registry: "localhost:5000", Repository: "falco/rules"}); got != filepath.Join(repos, "localhost_5000", "falco", "rules") {
		t.Errorf("localhost:5000/falco/rules: %s", got)
	}
}
