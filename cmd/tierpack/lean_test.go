package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestHostLinksNoHelm keeps the host lean: Helm and the Kubernetes client
// libraries cost every process start-up time in package initialisers, so
// only the chart plugin's own binary (cmd/tierpack-plugin-chart) links
// them.
func TestHostLinksNoHelm(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, heavy := range []string{"helm.sh/", "k8s.io/client-go", "k8s.io/apimachinery", "github.com/tierpack/tierpack/plugins/chart"} {
			if strings.HasPrefix(p, heavy) {
				t.Errorf("cmd/tierpack links %s; heavy plugins belong in their own binary (cmd/tierpack-plugin-<type>)", p)
			}
		}
	}
}
