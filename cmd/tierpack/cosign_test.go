package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// TestCosignCLIInterop runs the real cosign binary (`go install
// github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5`; make test installs it)
// against what tierpack signs, and the reverse:
//
//	cosign verify --key tp.pub --insecure-ignore-tlog=true --allow-http-registry REF
//	cosign sign --key tp.key --tlog-upload=false --allow-http-registry --yes REF@DIGEST
//	cosign generate-key-pair   → tierpack sign --key cosign.key
//
// There is no transparency log offline, hence the tlog flags.
func TestCosignCLIInterop(t *testing.T) {
	cosignBin, err := exec.LookPath("cosign")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("cosign not on PATH; make test should have installed it")
		}
		t.Skip("cosign not on PATH (go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5)")
	}
	reg := registrytest.New(t)
	p := newTP(t)
	cosign := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cosignBin, args...)
		cmd.Dir = p.dir
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=test-password", "HOME="+p.home, "TUF_ROOT="+filepath.Join(p.home, "tuf"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// tierpack signs, cosign verifies.
	p.ok("key", "generate", "tp")
	p.ok("push", filepath.Join(examplesDir(t), "scripts", "falco-quickstart"), reg.Host+"/cosign/qs")
	ref := reg.Host + "/cosign/qs:0.1.0"
	p.ok("sign", ref, "--key", "tp.key")
	out := cosign("verify", "--key", "tp.pub", "--insecure-ignore-tlog=true", "--allow-http-registry=true", ref)
	if !strings.Contains(out, "The signatures were verified against the specified public key") {
		t.Errorf("cosign verify:\n%s", out)
	}

	// cosign signs (with a tierpack key), tierpack verifies.
	byDigest := strings.TrimSpace(p.ok("push", filepath.Join(examplesDir(t), "scripts", "falco-debug-bundle"), reg.Host+"/cosign/dbg"))
	cosign("sign", "--key", "tp.key", "--tlog-upload=false", "--allow-http-registry=true", "--yes", byDigest)
	p.ok("verify", reg.Host+"/cosign/dbg:1.2.0", "--key", "tp.pub")

	// A cosign key pair works with tierpack, and both signatures coexist.
	cosign("generate-key-pair", "--output-key-prefix", "ck")
	p.ok("sign", reg.Host+"/cosign/dbg:1.2.0", "--key", "ck.key")
	p.ok("verify", reg.Host+"/cosign/dbg:1.2.0", "--key", "ck.pub")
	cosign("verify", "--key", "ck.pub", "--insecure-ignore-tlog=true", "--allow-http-registry=true", reg.Host+"/cosign/dbg:1.2.0")
	cosign("verify", "--key", "tp.pub", "--insecure-ignore-tlog=true", "--allow-http-registry=true", reg.Host+"/cosign/dbg:1.2.0")
}
