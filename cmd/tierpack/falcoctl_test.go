package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	godigest "github.com/opencontainers/go-digest"

	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/file"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/tierpack/tierpack/internal/keylesstest"
	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk/falco"
)

// falcoRules is a rules file as Falco's release pipeline packs it.
const falcoRules = `- rule: Terminal shell in container
  desc: A shell was used as the entrypoint/exec point into a container.
  condition: spawned_process and container and shell_procs and proc.tty != 0
  output: Shell spawned in a container (user=%user.name container=%container.name)
  priority: NOTICE
`

// packLikeFalcoctl packs one file the way falcoctl's pusher does
// (falcosecurity/falcoctl, pkg/oci/pusher: a tar.gz in a file store, the
// config layer named "config" with its annotations dropped, oras.Pack with
// an image manifest, CopyGraph to the registry): the same library calls,
// so the same bytes. It returns the manifest's descriptor and bytes, for
// the caller to tag or to list in an index.
func packLikeFalcoctl(t *testing.T, r *remote.Repository, configType, layerType, name string, mode int64, body []byte, cfg falco.Config) (ocispec.Descriptor, []byte) {
	t.Helper()
	ctx := context.Background()
	work := t.TempDir()
	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write(body)
	tw.Close()
	gz.Close()
	tgzPath := filepath.Join(work, name+".tar.gz")
	os.WriteFile(tgzPath, tgz.Bytes(), 0o644)

	fs, err := file.New(work)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	layer, err := fs.Add(ctx, filepath.Base(tgzPath), layerType, tgzPath)
	if err != nil {
		t.Fatal(err)
	}
	cfgBytes, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(work, "falcoctl-config")
	os.WriteFile(cfgPath, cfgBytes, 0o644)
	cfgDesc, err := fs.Add(ctx, "config", configType, cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfgDesc.Annotations = nil
	//lint:ignore SA1019 oras.Pack is what falcoctl calls.
	desc, err := oras.Pack(ctx, fs, "", []ocispec.Descriptor{layer}, oras.PackOptions{ConfigDescriptor: &cfgDesc, PackImageManifest: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := oras.DefaultCopyGraphOptions
	opts.Concurrency = 1
	if err := oras.CopyGraph(ctx, fs, r, desc, opts); err != nil {
		t.Fatal(err)
	}
	data, err := content.FetchAll(ctx, fs, desc)
	if err != nil {
		t.Fatal(err)
	}
	return desc, data
}

// pushLikeFalcoctl pushes rules to repo:tag as falcoctl does: the
// manifest packLikeFalcoctl packs, tagged with PushReference. It returns
// the manifest digest.
func pushLikeFalcoctl(t *testing.T, reg *registrytest.Registry, repo, tag string, cfg falco.Config) string {
	t.Helper()
	r := remoteRepo(t, reg, repo)
	desc, data := packLikeFalcoctl(t, r, falco.RulesfileConfigMediaType, falco.RulesfileLayerMediaType, "falco_rules.yaml", 0o644, []byte(falcoRules), cfg)
	if err := r.PushReference(context.Background(), desc, bytes.NewReader(data), tag); err != nil {
		t.Fatal(err)
	}
	return desc.Digest.String()
}

// Falco's own rules, in falcoctl's format, are pulled (extracted as
// falcoctl installs them), given the repository tier by a signed record
// alone — their content and format untouched — and then pulled at --tier
// repository.
func TestFalcoctlRulesfileGetsATier(t *testing.T) {
	reg := registrytest.New(t)
	cfg := falco.Config{Name: "falco-rules", Version: "3.2.0"}
	cfg.Requirements = append(cfg.Requirements, falco.Dependency{Name: "engine_version_semver", Version: "0.31.0"})
	digest := pushLikeFalcoctl(t, reg, "falcosecurity/rules/falco-rules", "3.2.0", cfg)
	ref := reg.Host + "/falcosecurity/rules/falco-rules:3.2.0"
	p := newTP(t)

	p.ok("pull", ref, "-o", p.path("plain"))
	if b, err := os.ReadFile(p.path("plain/falco_rules.yaml")); err != nil || string(b) != falcoRules {
		t.Fatalf("pull did not extract the rules as falcoctl installs them: %v", err)
	}
	if out := p.ok("inspect", ref); !strings.Contains(out, "rulesfile") {
		t.Errorf("inspect does not say what it is:\n%s", out)
	}
	p.refused([]string{"pull", ref, "--tier", "repository", "-o", p.path("x")})

	// The tier's requirements it lacks are given on the command line.
	_, errs, code := p.run("promote", ref, "--to", "repository", "--key", ciKey)
	if code != exitTierRefused || !strings.Contains(errs, "owners: no OWNERS file; name the maintainers who support it with the promotion") ||
		!strings.Contains(errs, "source: no source URL") || !strings.Contains(errs, "--owner HANDLE, --source-url URL") {
		t.Fatalf("promote without the facts a Falco artifact lacks: exit %d\n%s", code, errs)
	}
	out := p.ok("promote", ref, "--to", "repository", "--key", ciKey, "--owner", "falco-maintainers",
		"--source-url", "https://github.com/falcosecurity/rules", "--source-revision", "falco-rules-3.2.0", "--license", "Apache-2.0", "--output", "json")
	if got := digestOf(t, out); got != digest {
		t.Errorf("the promotion rewrote the artifact: %s, was %s", got, digest)
	}
	if now, err := remoteRepo(t, reg, "falcosecurity/rules/falco-rules").Resolve(context.Background(), "3.2.0"); err != nil || now.Digest.String() != digest {
		t.Errorf("the tag moved: %v %v", now, err)
	}
	p.ok("pull", ref, "--tier", "repository", "-o", p.path("tiered"))
	if b, err := os.ReadFile(p.path("tiered/falco_rules.yaml")); err != nil || string(b) != falcoRules {
		t.Fatalf("pull --tier repository: %v", err)
	}
	if out := p.ok("inspect", ref); !strings.Contains(out, "repository (verified)") {
		t.Errorf("inspect after the promotion:\n%s", out)
	}
	// A fresh client (trusting the CI key) agrees: the record is the tier.
	fresh := &tp{t: t, home: t.TempDir(), dir: p.dir}
	fresh.ok("pull", ref, "--tier", "repository", "-o", p.path("fresh"))

	// falcoctl's own index is read too: search finds Falco's artifacts.
	idx, _ := filepath.Abs("../../pkg/index/testdata/falcoctl-index.yaml")
	p.ok("index", "add", "falco", idx)
	if out := p.ok("search", "cloudtrail"); !strings.Contains(out, "ghcr.io/falcosecurity/plugins/cloudtrail:latest") || !strings.Contains(out, "cloudtrail-rules") {
		t.Errorf("search of falcoctl's index:\n%s", out)
	}
}

// pushPluginLikeFalcoctl pushes a Falco plugin the way falcoctl's pusher
// does: one manifest per platform (the platform set on its descriptor),
// then an image index of them, tagged. It returns the index digest.
func pushPluginLikeFalcoctl(t *testing.T, reg *registrytest.Registry, repo, tag string, cfg falco.Config, platforms ...string) string {
	t.Helper()
	ctx := context.Background()
	r := remoteRepo(t, reg, repo)
	var manifests []ocispec.Descriptor
	for _, platform := range platforms {
		lib := "lib" + cfg.Name + ".so"
		desc, _ := packLikeFalcoctl(t, r, falco.PluginConfigMediaType, falco.PluginLayerMediaType, lib, 0o755, []byte(lib+" ("+platform+")"), cfg)
		osName, arch, _ := strings.Cut(platform, "/")
		desc.Platform = &ocispec.Platform{OS: osName, Architecture: arch}
		manifests = append(manifests, desc)
	}
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	b, _ := json.Marshal(index)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: godigest.FromBytes(b), Size: int64(len(b))}
	if err := r.PushReference(ctx, desc, bytes.NewReader(b), tag); err != nil {
		t.Fatal(err)
	}
	return desc.Digest.String()
}

// A Falco plugin in falcoctl's format (an index of per-platform
// manifests): pulled for this machine's platform, promoted by a record on
// the index, pulled at --tier repository.
func TestFalcoctlPluginGetsATier(t *testing.T) {
	reg := registrytest.New(t)
	digest := pushPluginLikeFalcoctl(t, reg, "falcosecurity/plugins/plugin/k8saudit", "0.7.0",
		falco.Config{Name: "k8saudit", Version: "0.7.0"}, "linux/amd64", "linux/arm64")
	ref := reg.Host + "/falcosecurity/plugins/plugin/k8saudit:0.7.0"
	p := newTP(t)
	plat := goruntime.GOOS + "/" + goruntime.GOARCH
	p.ok("pull", ref, "-o", p.path("plugin"), "--platform", "linux/arm64")
	if b, err := os.ReadFile(p.path("plugin/libk8saudit.so")); err != nil || string(b) != "libk8saudit.so (linux/arm64)" {
		t.Fatalf("pull --platform linux/arm64: %q, %v", b, err)
	}
	p.refused([]string{"pull", ref, "--tier", "repository", "-o", p.path("x"), "--platform", "linux/amd64"})
	out := p.ok("promote", ref, "--to", "repository", "--key", ciKey, "--owner", "falco-maintainers",
		"--source-url", "https://github.com/falcosecurity/plugins", "--source-revision", "plugins/k8saudit/v0.7.0", "--license", "Apache-2.0", "--output", "json")
	if got := digestOf(t, out); got != digest {
		t.Errorf("the promotion rewrote the index: %s, was %s", got, digest)
	}
	p.ok("pull", ref, "--tier", "repository", "-o", p.path("tiered"), "--platform", "linux/amd64")
	if b, err := os.ReadFile(p.path("tiered/libk8saudit.so")); err != nil || string(b) != "libk8saudit.so (linux/amd64)" {
		t.Fatalf("pull --tier repository: %q, %v (this machine: %s)", b, err, plat)
	}
}

// tierpack's own falco-rules type pushes falcoctl's rulesfile format: the
// media types, no artifactType, and falcoctl's config, byte for byte as
// falcoctl marshals its ArtifactConfig (the JSON below is written from its
// field tags: name, version, dependencies, requirements, all omitempty),
// with a layer of the rules files only.
func TestFalcoRulesTypePushesFalcoctlFormat(t *testing.T) {
	reg := registrytest.New(t)
	p := newTP(t)
	repo := reg.Host + "/rules/falco-shell-rules"
	p.ok("push", filepath.Join(examplesDir(t), "rules", "falco-shell-rules"), repo)

	ctx := context.Background()
	r := remoteRepo(t, reg, "rules/falco-shell-rules")
	desc, rc, err := r.FetchReference(ctx, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	json.NewDecoder(rc).Decode(&m)
	rc.Close()
	if desc.MediaType != ocispec.MediaTypeImageManifest || m.ArtifactType != "" || m.Config.MediaType != falco.RulesfileConfigMediaType ||
		len(m.Layers) != 1 || m.Layers[0].MediaType != falco.RulesfileLayerMediaType {
		t.Fatalf("not falcoctl's rulesfile format: %s %+v", desc.MediaType, m)
	}
	cfg, err := content.FetchAll(ctx, r, m.Config)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"falco-shell-rules","version":"0.1.0","requirements":[{"name":"engine_version_semver","version":"0.31.0"}]}`
	if string(cfg) != want {
		t.Errorf("config:\n%s\nwant falcoctl's:\n%s", cfg, want)
	}
	layer, err := content.FetchAll(ctx, r, m.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(layer))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if strings.Join(names, ",") != "falco_shell_rules.yaml" {
		t.Errorf("the layer holds %v, want the rules file only (falcoctl extracts it into Falco's rules folder)", names)
	}
	p.ok("pull", repo+":0.1.0", "-o", p.path("pulled"))
	if _, err := os.Stat(p.path("pulled/falco_shell_rules.yaml")); err != nil {
		t.Fatal(err)
	}
}

// Falco signs its artifacts keylessly (cosign, a Fulcio certificate for
// its release workflow, logged in Rekor). A scope that trusts the workflow
// identity for official makes Falco's own rules official by that
// signature alone: attached by anyone (here with the oras CLI, as cosign
// v3 stores it), it counts only when its certificate names the trusted
// issuer and subject, chains to the policy's trusted root, and the bundle
// carries the log's inclusion proof. A later demotion by the scope's
// official key still lowers it.
func TestFalcoKeylessIdentityMakesOfficial(t *testing.T) {
	oras := lookTool(t, "oras")
	reg := registrytest.New(t)
	cfg := falco.Config{Name: "falco-rules", Version: "3.2.0"}
	digest := pushLikeFalcoctl(t, reg, "falcosecurity/rules/falco-rules", "3.2.0", cfg)
	ref := reg.Host + "/falcosecurity/rules/falco-rules:3.2.0"
	p := newTP(t)

	vs, err := keylesstest.New()
	if err != nil {
		t.Fatal(err)
	}
	tr, err := vs.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.home, "trusted_root.json"), tr, 0o644); err != nil {
		t.Fatal(err)
	}
	const issuer = "https://token.actions.githubusercontent.com"
	const workflow = "https://github.com/falcosecurity/rules/.github/workflows/release.yaml@refs/heads/main"
	policy := fmt.Sprintf(`trustedRoot: trusted_root.json
scopes:
  - repositories: ["%s/falcosecurity/**"]
    requirements:
      repository: {minApprovers: 0, requireSource: false, requireLicense: false, requireSemver: false}
      official: {maxWarnings: -1}
    official:
      keys: [%s]
      identities: [{issuer: "%s", subject: "%s"}]
`, reg.Host, ciPub, issuer, workflow)
	if err := os.WriteFile(filepath.Join(p.home, "policy.yaml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	attach := func(name string, bundle []byte) {
		t.Helper()
		f := p.path(name + ".json")
		if err := os.WriteFile(f, bundle, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(oras, "attach", "--plain-http", "--artifact-type", sign.BundleMediaType, ref, filepath.Base(f)+":"+sign.BundleMediaType)
		cmd.Dir = p.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("oras attach: %v\n%s", err, out)
		}
	}
	bundle := func(subject, iss string, proof bool) []byte {
		t.Helper()
		b, err := vs.Sign(subject, iss, reg.Host+"/falcosecurity/rules/falco-rules", godigest.Digest(digest), proof)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p.refused([]string{"pull", ref, "--tier", "official", "-o", p.path("none")})

	// The attacks: another workflow's certificate, another issuer, and the
	// right identity without an inclusion proof (not checkable offline).
	attach("other-subject", bundle("https://github.com/attacker/rules/.github/workflows/release.yaml@refs/heads/main", issuer, true))
	attach("other-issuer", bundle(workflow, "https://accounts.example.com", true))
	attach("no-proof", bundle(workflow, issuer, false))
	p.refused([]string{"pull", ref, "--tier", "official", "-o", p.path("forged")})
	// Nor does a bundle from another Sigstore, with the right identity.
	other, err := keylesstest.New()
	if err != nil {
		t.Fatal(err)
	}
	otherBundle, err := other.Sign(workflow, issuer, "x", godigest.Digest(digest), true)
	if err != nil {
		t.Fatal(err)
	}
	attach("other-root", otherBundle)
	p.refused([]string{"pull", ref, "--tier", "official", "-o", p.path("forged2")})

	attach("release", bundle(workflow, issuer, true))
	p.ok("pull", ref, "--tier", "official", "-o", p.path("official"))
	if b, err := os.ReadFile(p.path("official/falco_rules.yaml")); err != nil || string(b) != falcoRules {
		t.Fatalf("pull --tier official: %v", err)
	}
	if out := p.ok("inspect", ref); !strings.Contains(out, "official (verified)") || !strings.Contains(out, "trusted identity "+workflow+" ("+issuer+")") {
		t.Errorf("inspect of the keyless-signed rules:\n%s", out)
	}
	// An index built here names the bundle as the proof of the tier, and
	// search checks it again.
	p.ok("index", "build", reg.Host+"/falcosecurity/rules/falco-rules", "-o", p.path("falco-index.yaml"))
	p.ok("index", "add", "falco-built", p.path("falco-index.yaml"))
	if out := p.ok("search", "falco-rules", "--tier", "official"); !strings.Contains(out, "falco-rules:3.2.0") {
		t.Errorf("search --tier official of the keyless-signed rules:\n%s", out)
	}

	// falcoctl's index names each entry's signer: index add maps the ones
	// this policy does not trust yet to scopes, ready to paste.
	signed, _ := filepath.Abs("../../pkg/index/testdata/falcoctl-index-signed.yaml")
	out, errs, code := p.run("index", "add", "falco-signed", signed)
	if code != 0 || !strings.Contains(errs, "1 keyless signer(s) your policy does not trust") ||
		!strings.Contains(out, "- ghcr.io/falcosecurity/rules/falco-rules\n") || !strings.Contains(out, "- ghcr.io/falcosecurity/rules/falco-incubating-rules\n") ||
		!strings.Contains(out, "subjectRegExp: https://github.com/falcosecurity/rules/") || strings.Contains(out, "by-key") {
		t.Errorf("index add of a signed falcoctl index: exit %d\n%s\n%s", code, out, errs)
	}

	// With a quorum of two, the identity is one approval, and the scope's
	// official key co-signing is the second.
	quorum := strings.Replace(policy, "identities:", "threshold: 2\n      identities:", 1)
	if err := os.WriteFile(filepath.Join(p.home, "policy.yaml"), []byte(quorum), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := p.ok("inspect", ref); !strings.Contains(out, "official: 1 of 2 approvals (identity "+workflow+" ("+issuer+"))") {
		t.Errorf("inspect under a quorum of two:\n%s", out)
	}
	p.refused([]string{"pull", ref, "--tier", "official", "-o", p.path("one-of-two")})
	p.ok("promote", ref, "--to", "official", "--key", ciKey)
	p.ok("pull", ref, "--tier", "official", "-o", p.path("two-of-two"))

	// The scope's official key demotes it; the signature is older.
	time.Sleep(1100 * time.Millisecond)
	p.ok("promote", ref, "--to", "contrib", "--key", ciKey, "--reason", "superseded", "--reason-kind", "deprecated")
	p.refused([]string{"pull", ref, "--tier", "official", "-o", p.path("demoted")}, "demoted from official")
}
