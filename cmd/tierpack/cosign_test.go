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
// There is no transparency log offline, hence the tlog flags. tierpack
// writes Sigstore bundle referrers besides the legacy .sig tag; once a
// bundle exists cosign v2.6 verifies bundles only, and needs a trusted root
// to do so — offline an empty one ($COSIGN_TRUSTED_ROOT), as with key-based
// signatures no certificate authority or log is involved.
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
	root := filepath.Join(p.home, "trusted_root.json")
	if err := os.WriteFile(root, []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cosign := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(cosignBin, args...)
		cmd.Dir = p.dir
		cmd.Env = append(os.Environ(), "COSIGN_PASSWORD=test-password", "HOME="+p.home, "TUF_ROOT="+filepath.Join(p.home, "tuf"), "COSIGN_TRUSTED_ROOT="+root)
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
	// cosign's own v2 signature (legacy tag only) still verifies with
	// tierpack; cosign, seeing a bundle, now looks at bundles only.
	p.ok("verify", reg.Host+"/cosign/dbg:1.2.0", "--key", "tp.pub")
}
