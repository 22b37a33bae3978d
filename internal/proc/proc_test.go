package proc

import (
	"os"
	"os/exec"
	"testing"
)

func TestAlive(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Fatal("this process is not alive?")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	if Alive(cmd.Process.Pid) {
		t.Errorf("exited process %d reported alive", cmd.Process.Pid)
	}
	if got := PidFromName(".tierpack-pull-123-abc", ".tierpack-pull-"); got != 123 {
		t.Errorf("PidFromName = %d", got)
	}
	if got := PidFromName(".tierpack-pull-abc", ".tierpack-pull-"); got != 0 {
		t.Errorf("PidFromName(no pid) = %d", got)
	}
}
