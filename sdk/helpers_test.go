//go:build unix

package sdk_test

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/tierpack/tierpack/sdk"
)

func TestExpandFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"README.md", "scripts/a.sh", "scripts/sub/b.sh", "other/c.txt"} {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "scripts", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.sh", filepath.Join(dir, "scripts", "link.sh")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("scripts", filepath.Join(dir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "scripts", "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"none", nil, nil},
		{"a file", []string{"README.md"}, []string{"README.md"}},
		{"a folder is walked, symlinks listed, folders and pipes not",
			[]string{"scripts"}, []string{"scripts/a.sh", "scripts/link.sh", "scripts/sub/b.sh"}},
		{"sorted and without duplicates",
			[]string{"scripts/sub", "README.md", "scripts", "README.md"},
			[]string{"README.md", "scripts/a.sh", "scripts/link.sh", "scripts/sub/b.sh"}},
		{"a symlink to a folder is listed, not followed", []string{"dirlink"}, []string{"dirlink"}},
		{"missing paths are skipped", []string{"nope", "other"}, []string{"other/c.txt"}},
		{"the whole folder", []string{"."}, []string{"README.md", "dirlink", "other/c.txt", "scripts/a.sh", "scripts/link.sh", "scripts/sub/b.sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sdk.ExpandFiles(dir, tt.paths)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExpandFiles(%q) = %q, want %q", tt.paths, got, tt.want)
			}
		})
	}
}

func TestExpandFilesUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads a mode-0 folder anyway")
	}
	dir := t.TempDir()
	locked := filepath.Join(dir, "locked")
	if err := os.MkdirAll(filepath.Join(locked, "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	if _, err := sdk.ExpandFiles(dir, []string{"locked"}); err == nil {
		t.Fatal("ExpandFiles of an unreadable folder succeeded, want its error")
	}
}
