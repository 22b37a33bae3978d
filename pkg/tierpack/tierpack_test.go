package tierpack_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/internal/testbin"
	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/pkg/index"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk/tier"
)

// selfBin is the real tierpack binary: it serves the built-in plugins, so
// the use cases run real plugin processes.
var selfBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Run(m,
		testbin.Build{Pkg: "../../cmd/tierpack", Name: "tierpack", Dst: &selfBin},
		testbin.Build{Pkg: "../../cmd/tierpack-plugin-chart", Name: "tierpack-plugin-chart", Dst: &chartBin}))
}

// chartBin is the chart plugin, built beside selfBin as go install puts it.
var chartBin string

// newClient is a Client with its own home folder, the real built-ins and
// the chart plugin beside them.
func newClient(t *testing.T) *tierpack.Client {
	t.Helper()
	return &tierpack.Client{Home: home.At(t.TempDir()), Self: selfBin, Builtins: []string{"script", "exporter"},
		Companions: []string{"chart"}, PluginDirs: []string{filepath.Dir(chartBin)}, CompanionDir: filepath.Dir(chartBin), Tool: "tierpack/test"}
}

// quickstart is the example script contribution, at the contrib tier.
const quickstart = "../../examples/scripts/falco-quickstart"

func TestPublishPullInspectAgainstRegistry(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	ref := reg.Host + "/contrib/falco-quickstart"

	pub, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: quickstart, Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	if pub.Tier != tier.Contrib || pub.Uploaded == 0 || pub.Reference != ref+":0.1.0" {
		t.Fatalf("publish = %+v", pub)
	}
	again, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: quickstart, Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != pub.Digest || again.Uploaded != 0 {
		t.Fatalf("re-publish: digest %s (was %s), %d uploaded; want the same digest and nothing uploaded", again.Digest, pub.Digest, again.Uploaded)
	}

	out := filepath.Join(t.TempDir(), "qs")
	res, err := cl.Pull(ctx, tierpack.PullRequest{Ref: pub.Reference, OutputDir: out, MinTier: tier.Contrib})
	if err != nil {
		t.Fatal(err)
	}
	if res.Info.Digest != pub.Digest || len(res.Files) == 0 {
		t.Fatalf("pull = %+v", res)
	}
	if _, err := os.Stat(filepath.Join(out, "tierpack.yaml")); err != nil {
		t.Fatal(err)
	}

	// The gate refuses a contrib artifact at the repository tier, and the
	// refusal leaves no output folder behind.
	refused := filepath.Join(t.TempDir(), "refused")
	_, err = cl.Pull(ctx, tierpack.PullRequest{Ref: pub.Reference, OutputDir: refused, MinTier: tier.Repository})
	if !errors.Is(err, tier.ErrBelow) {
		t.Fatalf("pull --tier repository: err = %v, want tier.ErrBelow", err)
	}
	if _, err := os.Stat(refused); !os.IsNotExist(err) {
		t.Fatalf("a refused pull left %s behind", refused)
	}

	ins, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: pub.Reference})
	if err != nil {
		t.Fatal(err)
	}
	if ins.Tier != tier.Contrib || ins.Type != "script" || len(ins.Signatures) != 0 || len(ins.Promotions) != 0 {
		t.Fatalf("inspect = %+v", ins)
	}
}

func TestSignVerifyAndPromotionGate(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	pub, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: quickstart, Ref: reg.Host + "/contrib/qs"})
	if err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(t.TempDir(), "core")
	pw := func() ([]byte, error) { return []byte("pw"), nil }
	k, err := cl.GenerateKey(tierpack.KeyRequest{Prefix: prefix, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GenerateKey(tierpack.KeyRequest{Prefix: prefix, Password: pw}); err == nil {
		t.Fatal("GenerateKey overwrote an existing key without Force")
	}

	if _, err := cl.Verify(ctx, tierpack.VerifyRequest{Ref: pub.Reference, KeyFiles: []string{k.PublicKey}}); !errors.Is(err, sign.ErrNoSignature) {
		t.Fatalf("verify before signing: err = %v, want ErrNoSignature", err)
	}
	key := tierpack.Key{File: k.PrivateKey, Password: pw}
	if _, err := cl.Sign(ctx, tierpack.SignRequest{Ref: pub.Reference, Key: key}); err != nil {
		t.Fatal(err)
	}
	v, err := cl.Verify(ctx, tierpack.VerifyRequest{Ref: pub.Reference, KeyFiles: []string{k.PublicKey}})
	if err != nil || v.Verified.KeyID != k.KeyID {
		t.Fatalf("verify = %+v, %v; want key %s", v, err, k.KeyID)
	}

	// The quick-start has no OWNERS and no source: the gate lists what the
	// repository tier lacks, and nothing moves.
	_, err = cl.Promote(ctx, tierpack.PromoteRequest{Ref: pub.Reference, To: tier.Repository, Key: key, By: "test"})
	var refusal *policy.RefusalError
	if !errors.As(err, &refusal) || len(refusal.Unmet) == 0 {
		t.Fatalf("promote to repository: err = %v, want a policy refusal", err)
	}
	ins, err := cl.Inspect(ctx, tierpack.InspectRequest{Ref: pub.Reference, KeyFiles: []string{k.PublicKey}})
	if err != nil {
		t.Fatal(err)
	}
	if ins.Digest != pub.Digest || ins.Tier != tier.Contrib || len(ins.Signatures) == 0 {
		t.Fatalf("after a refused promotion, inspect = %+v", ins)
	}
	for _, s := range ins.Signatures {
		if s.TrustedKey != k.KeyID {
			t.Errorf("signature %+v: want trusted key %s", s, k.KeyID)
		}
	}
	// No key: a usage problem, said before anything is read.
	var ue *tierpack.UsageError
	if _, err := cl.Promote(ctx, tierpack.PromoteRequest{Ref: pub.Reference, To: tier.Repository}); !errors.As(err, &ue) {
		t.Fatalf("promote without a key: err = %v, want a UsageError", err)
	}
}

func TestValidateReportsDiagnosticsNotErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tierpack.yaml"), []byte("name: x\nversion: 1.0.0\ntype: script\ntier: contrib\nspec:\n  entrypoint: run.sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := newClient(t).Validate(context.Background(), tierpack.ValidateRequest{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Valid || res.Errors == 0 {
		t.Fatalf("validate of a script without its entrypoint = %+v, want errors", res)
	}
	var ve *artifact.ValidationError
	_, err = newClient(t).Publish(context.Background(), tierpack.PublishRequest{Dir: dir})
	if !errors.As(err, &ve) {
		t.Fatalf("publish of an invalid contribution: err = %v, want a ValidationError", err)
	}
}

func TestIndexBuildAndSearch(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	pub, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: quickstart, Ref: reg.Host + "/contrib/falco-quickstart"})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "index.yaml")
	built, err := cl.IndexBuild(ctx, tierpack.IndexBuildRequest{Repos: []string{reg.Host + "/contrib/falco-quickstart"}, File: file})
	if err != nil {
		t.Fatal(err)
	}
	if len(built.Index.Entries) != 1 || built.Versions() != 1 {
		t.Fatalf("index = %+v", built.Index)
	}
	if _, err := cl.IndexAdd(ctx, "local", file); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		q    index.Query
		want int
	}{
		{index.Query{Text: "falco"}, 1},
		{index.Query{Tier: tier.Contrib}, 1},
		{index.Query{Tier: tier.Repository}, 0},
		{index.Query{Type: "chart"}, 0},
	} {
		res, err := cl.Search(context.Background(), tierpack.SearchRequest{Query: tc.q})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Results) != tc.want {
			t.Errorf("search %+v: %d results, want %d", tc.q, len(res.Results), tc.want)
		}
		if tc.want == 1 && res.Results[0].Version.Digest != pub.Digest {
			t.Errorf("search %+v: digest %s, want %s", tc.q, res.Results[0].Version.Digest, pub.Digest)
		}
	}
}

// The chart plugin is a companion binary: found beside the host, and
// missing, reported with how to install it.
func TestChartPluginIsACompanion(t *testing.T) {
	ctx := context.Background()
	chart := "../../examples/charts/falco-rules-exporter"
	res, err := newClient(t).Validate(ctx, tierpack.ValidateRequest{Dir: chart})
	if err != nil || !res.Valid || res.Type != "chart" {
		t.Fatalf("validate the example chart: %+v, %v", res, err)
	}
	lone := newClient(t)
	lone.PluginDirs = nil
	_, err = lone.Validate(ctx, tierpack.ValidateRequest{Dir: chart})
	if err == nil || !strings.Contains(err.Error(), "go install github.com/tierpack/tierpack/cmd/...") {
		t.Fatalf("without the chart plugin: %v", err)
	}
}

// A pull of a small contrib artifact by tag makes the requests `oras pull`
// makes: one GET of the manifest by tag, one GET per layer. (The gate
// admits the manifest it read; the pull unpacks exactly that one.)
func TestPullRequestsMatchORAS(t *testing.T) {
	ctx := context.Background()
	reg := registrytest.New(t)
	cl := newClient(t)
	cl.NoCache = true
	if _, err := cl.Publish(ctx, tierpack.PublishRequest{Dir: quickstart, Ref: reg.Host + "/req/qs"}); err != nil {
		t.Fatal(err)
	}
	reg.ResetStats()
	if _, err := cl.Pull(ctx, tierpack.PullRequest{Ref: reg.Host + "/req/qs:0.1.0", OutputDir: filepath.Join(t.TempDir(), "o"), MinTier: tier.Contrib}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range reg.Requests() {
		got = append(got, r.Method+" "+r.Path)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "GET /v2/req/qs/manifests/0.1.0") || !strings.HasPrefix(got[1], "GET /v2/req/qs/blobs/sha256:") {
		t.Fatalf("pull made %d requests, want GET manifest by tag and GET layer:\n%s", len(got), strings.Join(got, "\n"))
	}
}
