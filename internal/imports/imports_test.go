// Package imports holds no code: its test keeps the import graph's
// direction, cmd → pkg/tierpack (the use cases) → the libraries under pkg/
// (trust, artifact, oci, …) → sdk, which imports nothing of the host.
package imports_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const root = "github.com/tierpack/tierpack/"

type pkg struct {
	ImportPath string
	Imports    []string
}

// TestImportDirection lists every package of the host and the SDK with go
// list and checks who imports whom.
func TestImportDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...", "./sdk/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		rel := strings.TrimPrefix(p.ImportPath, root)
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, root)
			if !ok {
				continue
			}
			switch {
			case under(rel, "sdk") && !under(dep, "sdk"):
				t.Errorf("%s imports %s: the SDK imports nothing of the host", rel, dep)
			case under(dep, "cmd") && !under(rel, "cmd"):
				t.Errorf("%s imports %s: nothing imports the command line", rel, dep)
			case dep == "pkg/tierpack" && under(rel, "pkg") && rel != "pkg/catalog":
				t.Errorf("%s imports pkg/tierpack: libraries sit below the use cases (only front ends — cmd, the catalog — import them)", rel)
			case rel == "pkg/oci" && dep == "sdk/tier":
				t.Errorf("pkg/oci imports sdk/tier: the OCI layer knows nothing of tiers (the claim is read by pkg/artifact, the verdict by pkg/trust)")
			case under(dep, "plugins") && under(rel, "pkg"):
				t.Errorf("%s imports %s: the built-in plugins are served by cmd, not linked into libraries", rel, dep)
			}
		}
	}
	if n < 30 {
		t.Fatalf("go list found only %d packages", n)
	}
}

func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }
