//go:build unix

package archive

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteTarGzRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(root, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for name, want := range map[string]string{"fifo": "named pipe", "sock": "socket"} {
		_, err := WriteTarGz(io.Discard, root, []string{name}, WriteOptions{})
		if !errors.Is(err, ErrUnsafeEntry) || !strings.Contains(err.Error(), want) {
			t.Errorf("WriteTarGz(%s) error = %v, want ErrUnsafeEntry mentioning %q", name, err, want)
		}
	}
	// Walking into the special files from a directory path is refused too.
	if _, err := WriteTarGz(io.Discard, root, []string{"."}, WriteOptions{}); !errors.Is(err, ErrUnsafeEntry) {
		t.Errorf("WriteTarGz(.) error = %v, want ErrUnsafeEntry", err)
	}
}
