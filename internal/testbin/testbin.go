// Package testbin builds the project's own programs for tests — the real
// tierpack binary, the misbehaving test plugin — once per test binary, so
// tests run real processes instead of fakes.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Build names a main package to build and where to put the path of the
// result.
type Build struct {
	// Pkg is the package directory, relative to the test's package.
	Pkg string
	// Name is the file name of the binary.
	Name string
	// Dst receives the binary's absolute path.
	Dst *string
}

// Run builds every program into a temporary directory, runs the tests and
// removes the directory; use it as the body of TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testbin.Run(m, testbin.Build{...})) }
func Run(m *testing.M, builds ...Build) int {
	dir, err := os.MkdirTemp("", "tierpack-testbin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	for _, b := range builds {
		out := filepath.Join(dir, b.Name)
		if runtime.GOOS == "windows" {
			out += ".exe"
		}
		cmd := exec.Command("go", "build", "-o", out, "./"+filepath.ToSlash(filepath.Clean(b.Pkg)))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b.Pkg, err)
			return 1
		}
		*b.Dst = out
	}
	return m.Run()
}
