package plugin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestNewManagerReapsKilledHostsLeftovers: a host killed outright left its
// run folder in TMPDIR and a plugin descendant marked with it; the next
// Manager kills that process and removes the folder (beside its command,
// joined by Close).
func TestNewManagerReapsKilledHostsLeftovers(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	deadRun := filepath.Join(tmp, fmt.Sprintf("%s%d-1", RunDirPrefix, gone.Process.Pid))
	if err := os.MkdirAll(filepath.Join(deadRun, "1"), 0o700); err != nil {
		t.Fatal(err)
	}
	left := exec.Command("sleep", "60")
	left.Env = append(os.Environ(), RunEnv+"="+filepath.Join(deadRun, "1"))
	if err := left.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { left.Wait(); close(exited) }()
	t.Cleanup(func() { left.Process.Kill() })

	m, err := NewManager(Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the killed host's leftover process still runs")
	}
	if _, err := os.Stat(deadRun); !os.IsNotExist(err) {
		t.Fatalf("the killed host's run folder is still there: %v", err)
	}
}
