package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/internal/registrytest"
)

// sidecarHelmCLI runs one real helm binary with its own config, cache and
// data folders.
type sidecarHelmCLI struct {
	t    *testing.T
	name string
	bin  string
	home string
}

// sidecarHelm finds the real helm binary name (helm: Helm 4, helm3: Helm 3)
// as TestHelmCLIWithTierpackChart does: on PATH (make test puts bin/ there),
// a failure in CI, else the test is skipped.
func sidecarHelm(t *testing.T, name string) *sidecarHelmCLI {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not on PATH; make test should have installed it", name)
		}
		t.Skipf("%s not on PATH (make anchors installs it into bin/)", name)
	}
	h := &sidecarHelmCLI{t: t, name: name, bin: bin, home: t.TempDir()}
	if v := h.ok("version", "--short"); !strings.HasPrefix(v, map[string]string{"helm": "v4.", "helm3": "v3."}[name]) {
		t.Fatalf("%s is %s", name, v)
	}
	return h
}

func (h *sidecarHelmCLI) run(args ...string) (string, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+h.home, "HELM_CACHE_HOME="+h.home, "HELM_DATA_HOME="+h.home)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (h *sidecarHelmCLI) ok(args ...string) string {
	h.t.Helper()
	out, err := h.run(args...)
	if err != nil {
		h.t.Fatalf("%s %s: %v\n%s", h.name, strings.Join(args, " "), err, out)
	}
	return out
}

// The parts of the rendered manifests the test reads.
type sidecarContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	} `yaml:"env"`
	SecurityContext struct {
		Privileged               bool   `yaml:"privileged"`
		RunAsUser                *int64 `yaml:"runAsUser"`
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
		AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool   `yaml:"readOnlyRootFilesystem"`
		AppArmorProfile          *struct {
			Type string `yaml:"type"`
		} `yaml:"appArmorProfile"`
		Capabilities struct {
			Add  []string `yaml:"add"`
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

func (c sidecarContainer) env(name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func (c sidecarContainer) mount(volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// sidecarShow prints an optional field of a securityContext.
func sidecarShow[T any](v *T) string {
	if v == nil {
		return "unset"
	}
	return fmt.Sprint(*v)
}

// flag returns the value after the flag name in the container's args.
func (c sidecarContainer) flag(name string) (string, bool) {
	i := slices.Index(c.Args, name)
	if i < 0 || i+1 >= len(c.Args) {
		return "", false
	}
	return c.Args[i+1], true
}

type sidecarManifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
	Spec struct {
		Template struct {
			Spec struct {
				ShareProcessNamespace bool               `yaml:"shareProcessNamespace"`
				InitContainers        []sidecarContainer `yaml:"initContainers"`
				Containers            []sidecarContainer `yaml:"containers"`
				Volumes               []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// sidecarRender is what helm template made of the chart.
type sidecarRender struct {
	raw     string
	ds      *sidecarManifest
	trust   map[string]string // the data of the ConfigMap the pod mounts as trust
	install sidecarContainer  // the init container
	falco   sidecarContainer
	follow  sidecarContainer // the sidecar
}

func (h *sidecarHelmCLI) render(chart string, set ...string) sidecarRender {
	h.t.Helper()
	t := h.t
	raw := h.ok(append([]string{"template", "demo", chart, "--namespace", "falco"}, set...)...)
	r := sidecarRender{raw: raw}
	configMaps := map[string]map[string]string{}
	dec := yaml.NewDecoder(strings.NewReader(raw))
	for {
		var m sidecarManifest
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s template: not YAML: %v\n%s", h.name, err, raw)
		}
		switch m.Kind {
		case "DaemonSet":
			if r.ds != nil {
				t.Fatalf("two DaemonSets:\n%s", raw)
			}
			r.ds = &m
		case "ConfigMap":
			configMaps[m.Metadata.Name] = m.Data
		}
	}
	if r.ds == nil {
		t.Fatalf("%s template renders no DaemonSet:\n%s", h.name, raw)
	}
	pod := r.ds.Spec.Template.Spec
	byName := func(cs []sidecarContainer, name string) sidecarContainer {
		for _, c := range cs {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no container %s in the DaemonSet:\n%s", name, raw)
		return sidecarContainer{}
	}
	r.install = byName(pod.InitContainers, "tierpack-install")
	r.falco = byName(pod.Containers, "falco")
	r.follow = byName(pod.Containers, "tierpack-follow")
	for _, v := range pod.Volumes {
		if v.Name == "trust" && v.ConfigMap != nil {
			r.trust = configMaps[v.ConfigMap.Name]
		}
	}
	if r.trust == nil {
		t.Fatalf("the trust volume is not a ConfigMap the chart renders:\n%s", raw)
	}
	return r
}

// checkDefaults checks what the chart's default values render: Falco, the
// install before it and the follow sidecar beside it, sharing the rules.
func (r sidecarRender) checkDefaults(t *testing.T) {
	t.Helper()
	if r.ds.Metadata.Name != "demo-falco-tierpack-follow" || !strings.Contains(r.raw, "kind: DaemonSet") {
		t.Errorf("DaemonSet %q:\n%s", r.ds.Metadata.Name, r.raw)
	}
	if r.falco.Image != "falcosecurity/falco:0.42.0" {
		t.Errorf("falco image %q", r.falco.Image)
	}
	rulesDir := "/etc/falco/tierpack/falco-rules"
	if v, _ := r.falco.flag("-r"); len(r.falco.Args) == 0 || r.falco.Args[0] != "/usr/bin/falco" || v != rulesDir {
		t.Errorf("falco does not load %s: %q", rulesDir, r.falco.Args)
	}
	for _, c := range []sidecarContainer{r.install, r.follow} {
		if !slices.Equal(c.Command, []string{"tierpack"}) {
			t.Errorf("%s runs %q, not tierpack", c.Name, c.Command)
		}
		if c.mount("rules") == "" || c.mount("rules") != r.falco.mount("rules") || !strings.HasPrefix(rulesDir, c.mount("rules")+"/") {
			t.Errorf("%s mounts the rules at %q, Falco at %q", c.Name, c.mount("rules"), r.falco.mount("rules"))
		}
		if home := c.env("TIERPACK_HOME"); home == "" || home != c.mount("tierpack-home") {
			t.Errorf("%s: TIERPACK_HOME %q is not the tierpack-home volume (%q)", c.Name, home, c.mount("tierpack-home"))
		}
		if pol := c.env("TIERPACK_POLICY"); filepath.Dir(pol) != c.mount("trust") || r.trust[filepath.Base(pol)] == "" {
			t.Errorf("%s: TIERPACK_POLICY %q is not a file of the trust ConfigMap (mounted at %q)", c.Name, pol, c.mount("trust"))
		}
		sc := c.SecurityContext
		if sc.Privileged || !sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
			!slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s securityContext: privileged %v, readOnlyRootFilesystem %v, allowPrivilegeEscalation %s, capabilities %+v: want no privileges, no capabilities, a read-only root",
				c.Name, sc.Privileged, sc.ReadOnlyRootFilesystem, sidecarShow(sc.AllowPrivilegeEscalation), sc.Capabilities)
		}
	}
	if r.install.Args[0] != "install" || r.install.Args[len(r.install.Args)-1] != "ghcr.io/falcosecurity/rules/falco-rules" {
		t.Errorf("init container: tierpack %q", r.install.Args)
	}
	if v, _ := r.install.flag("--tier"); v != "official" {
		t.Errorf("install --tier %q", v)
	}
	if v, _ := r.install.flag("-o"); v != rulesDir {
		t.Errorf("install -o %q, want Falco's %s", v, rulesDir)
	}
	if r.follow.Args[0] != "follow" {
		t.Errorf("sidecar: tierpack %q", r.follow.Args)
	}
	for flag, want := range map[string]string{"--every": "6h", "--jitter": "10%", "--output": "json", "--on-demotion": "rollback", "--exec": "pkill -HUP -x falco"} {
		if v, _ := r.follow.flag(flag); v != want {
			t.Errorf("follow %s %q, want %q: %q", flag, v, want, r.follow.Args)
		}
	}
	// The reload signals Falco: it must see Falco's process, as Falco's user.
	if !r.ds.Spec.Template.Spec.ShareProcessNamespace {
		t.Error("follow signals Falco but the pod does not share its process namespace")
	}
	if u := r.follow.SecurityContext.RunAsUser; u == nil || *u != 0 {
		t.Errorf("sidecar runAsUser %s: SIGHUP to Falco (root) needs UID 0", sidecarShow(u))
	}
	// The container runtimes' default AppArmor profile lets a container
	// signal only processes under that profile; privileged Falco has none.
	if a := r.follow.SecurityContext.AppArmorProfile; a == nil || a.Type != "Unconfined" {
		t.Errorf("sidecar appArmorProfile %s: the default profile refuses SIGHUP to unconfined Falco", sidecarShow(a))
	}
	if a := r.install.SecurityContext.AppArmorProfile; a != nil {
		t.Errorf("the init container signals nothing, yet its appArmorProfile is %+v", *a)
	}
	if r.trust["policy.yaml"] != "{}\n" || len(r.trust) != 1 {
		t.Errorf("default trust ConfigMap %q: want an empty policy and no keys", r.trust)
	}
}

// TestSidecarChartExample checks examples/charts/falco-tierpack-follow:
// Falco with an init container that runs tierpack install and a sidecar
// that runs tierpack follow --exec (SIGHUP to Falco). helm lint and helm
// template (Helm 4 and 3) accept it; tierpack pushes it at repository tier
// and pulls it back; what was pulled, and what helm pull gets from the
// registry, render the same; and the rendered init container and sidecar,
// run here with the trust ConfigMap the chart renders as their only trust,
// install an artifact at its tier, refuse it without that trust, and move it
// to a new version with the reload.
func TestSidecarChartExample(t *testing.T) {
	src := filepath.Join(examplesDir(t), "charts", "falco-tierpack-follow")
	helm := sidecarHelm(t, "helm")

	for _, name := range []string{"helm", "helm3"} {
		t.Run(name, func(t *testing.T) {
			h := sidecarHelm(t, name)
			if out := h.ok("lint", "--strict", src); !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Errorf("%s lint --strict:\n%s", name, out)
			}
			h.render(src).checkDefaults(t)

			watch := h.render(src, "--set", "reload.mode=watch")
			if watch.ds.Spec.Template.Spec.ShareProcessNamespace || slices.Contains(watch.follow.Args, "--exec") {
				t.Errorf("reload.mode=watch still signals Falco: %q", watch.follow.Args)
			}
			for _, c := range []sidecarContainer{watch.install, watch.follow} {
				if sc := c.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
					t.Errorf("reload.mode=watch: %s runs as user %s, runAsNonRoot %s: want non-root", c.Name, sidecarShow(sc.RunAsUser), sidecarShow(sc.RunAsNonRoot))
				}
				if a := c.SecurityContext.AppArmorProfile; a != nil {
					t.Errorf("reload.mode=watch: %s signals nothing, yet its appArmorProfile is %+v", c.Name, *a)
				}
			}
			if out, err := h.run("template", "demo", src, "--set", "reload.mode=bogus"); err == nil || !strings.Contains(out, "reload.mode must be signal or watch") {
				t.Errorf("reload.mode=bogus: %v\n%s", err, out)
			}
		})
	}

	// Push a copy (push writes nothing into it, but the example stays
	// untouched even so) at the tier its tierpack.yaml says, signed with the
	// CI key of testEnv, and pull it back at that tier.
	reg := registrytest.New(t)
	p := newTP(t)
	repo := reg.Host + "/examples/falco-tierpack-follow"
	chart := p.path("falco-tierpack-follow")
	if err := os.CopyFS(chart, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	p.ok("push", chart, repo)
	pulled := p.path("pulled")
	p.ok("pull", repo+":0.1.0", "-o", pulled, "--tier", "repository")
	// Chart.yaml is Helm's re-encoding of it (helm package does that too).
	for _, f := range []string{"values.yaml", "README.md", "templates/daemonset.yaml", "templates/_helpers.tpl", "templates/trust-configmap.yaml"} {
		want, _ := os.ReadFile(filepath.Join(src, f))
		if got, err := os.ReadFile(filepath.Join(pulled, f)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("pulled %s differs from the example's (%v)", f, err)
		}
	}
	for _, f := range []string{"tierpack.yaml", "OWNERS"} {
		if _, err := os.Stat(filepath.Join(pulled, f)); err == nil {
			t.Errorf("%s is in the pushed chart", f)
		}
	}
	want := helm.render(src).raw
	if got := helm.render(pulled); got.raw != want {
		t.Errorf("the pulled chart renders otherwise:\n%s\nwant:\n%s", got.raw, want)
	} else {
		got.checkDefaults(t)
	}
	dl := t.TempDir()
	helm.ok("pull", "oci://"+repo, "--version", "0.1.0", "--plain-http", "-d", dl)
	if got := helm.render(filepath.Join(dl, "falco-tierpack-follow-0.1.0.tgz")).raw; got != want {
		t.Errorf("helm pull's chart renders otherwise:\n%s\nwant:\n%s", got, want)
	}

	// The pod, run here: each container path of the rendered init container
	// and sidecar under root, the trust ConfigMap's files in its mount, and
	// nothing else trusted (no trusted-keys/ in the home, no --key). What
	// they install is this chart, from the registry.
	set := []string{"--set", "rules.ref=" + repo, "--set", "rules.tier=repository", "--set", "rules.version=^0.1", "--set", "tierpack.extraArgs={--plain-http}"}
	trusted := append([]string{"--set-json", `trust.policy={"keys":{"repository":["ci.pub"]}}`, "--set-file", `trust.files.ci\.pub=` + ciPub}, set...)
	deploy := func(r sidecarRender) (root string, run func(c sidecarContainer, extra ...string) (string, string, int)) {
		root = t.TempDir()
		under := func(c sidecarContainer, s string) string {
			for _, m := range c.VolumeMounts {
				if s == m.MountPath || strings.HasPrefix(s, m.MountPath+"/") {
					return filepath.Join(root, s)
				}
			}
			return s
		}
		for _, c := range []sidecarContainer{r.install, r.follow, r.falco} {
			for _, m := range c.VolumeMounts {
				os.MkdirAll(filepath.Join(root, m.MountPath), 0o755)
			}
		}
		for name, content := range r.trust {
			if err := os.WriteFile(filepath.Join(root, r.install.mount("trust"), name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run = func(c sidecarContainer, extra ...string) (string, string, int) {
			t.Helper()
			env := slices.DeleteFunc(os.Environ(), func(e string) bool {
				return strings.HasPrefix(e, "TIERPACK_") || strings.HasPrefix(e, "DOCKER_CONFIG=") || strings.HasPrefix(e, "COSIGN_")
			})
			env = append(env, "DOCKER_CONFIG="+filepath.Join(root, "docker"))
			for _, e := range c.Env {
				env = append(env, e.Name+"="+under(c, e.Value))
			}
			var args []string
			for i, a := range c.Args {
				if i > 0 && c.Args[i-1] == "--exec" {
					a = "echo reloaded >> " + filepath.Join(root, "reloads")
				}
				args = append(args, under(c, a))
			}
			cmd := exec.Command(tierpackBin, append(args, extra...)...)
			cmd.Dir, cmd.Env = root, env
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return out.String(), errb.String(), ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return out.String(), errb.String(), 0
		}
		return root, run
	}

	// Without trust.policy and trust.files nothing is trusted above contrib.
	untrusted := helm.render(src, set...)
	_, runUntrusted := deploy(untrusted)
	if _, errs, code := runUntrusted(untrusted.install); code != exitTierRefused {
		t.Errorf("install with the default (empty) trust: exit %d, want %d\n%s", code, exitTierRefused, errs)
	}

	r := helm.render(src, trusted...)
	if r.trust["ci.pub"] == "" || !strings.Contains(r.trust["policy.yaml"], "ci.pub") {
		t.Fatalf("trust ConfigMap %q", r.trust)
	}
	if v, _ := r.install.flag("--version"); v != "^0.1" {
		t.Errorf("install --version %q: %q", v, r.install.Args)
	}
	root, run := deploy(r)
	// Falco reads its rules from its own mount of the rules volume.
	rulesArg, _ := r.falco.flag("-r")
	if m := r.falco.mount("rules"); m == "" || !strings.HasPrefix(rulesArg, m+"/") {
		t.Fatalf("falco -r %q is not in its rules volume (%q)", rulesArg, m)
	}
	falcoRules := filepath.Join(root, rulesArg)
	if _, errs, code := run(r.install); code != 0 {
		t.Fatalf("the init container's tierpack %q: exit %d\n%s", r.install.Args, code, errs)
	}
	version := func() string {
		b, err := os.ReadFile(filepath.Join(falcoRules, "Chart.yaml"))
		if err != nil {
			return err.Error()
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "version: "); ok {
				return v
			}
		}
		return ""
	}
	if v := version(); v != "0.1.0" {
		t.Fatalf("Falco's rules folder after the install: version %q", v)
	}
	if out, errs, code := run(r.follow, "--once"); code != 0 || !strings.Contains(out, `"changed":false`) {
		t.Fatalf("the sidecar's tierpack %q --once with nothing new: exit %d\n%s%s", r.follow.Args, code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(root, "reloads")); err == nil {
		t.Error("--exec ran although nothing changed")
	}

	// A new version at the tier: the sidecar's next check installs it into
	// Falco's rules folder and runs the reload.
	next := p.path("next")
	if err := os.CopyFS(next, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Chart.yaml", "tierpack.yaml"} {
		b, _ := os.ReadFile(filepath.Join(next, f))
		if !bytes.Contains(b, []byte("\nversion: 0.1.0\n")) {
			t.Fatalf("%s has no version: 0.1.0 line", f)
		}
		os.WriteFile(filepath.Join(next, f), bytes.Replace(b, []byte("\nversion: 0.1.0\n"), []byte("\nversion: 0.1.1\n"), 1), 0o644)
	}
	p.ok("push", next, repo)
	if out, errs, code := run(r.follow, "--once"); code != 0 || !strings.Contains(out, `"changed":true`) {
		t.Fatalf("the sidecar's check after 0.1.1: exit %d\n%s%s", code, out, errs)
	}
	if v := version(); v != "0.1.1" {
		t.Errorf("Falco's rules folder after follow: version %q, want 0.1.1", v)
	}
	if b, err := os.ReadFile(filepath.Join(root, "reloads")); err != nil || string(b) != "reloaded\n" {
		t.Errorf("the reload after the change: %q, %v", b, err)
	}
}
