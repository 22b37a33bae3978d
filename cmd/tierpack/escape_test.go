package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/internal/registrytest"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive/archivetest"
)

// hostileText is what an attacker writes wherever tierpack shows text: an
// OSC title, a screen clear, a carriage return, a bidi override, and a
// line that looks like tierpack's own verdict.
const hostileText = "\x1b]0;pwned\a\x1b[2J\r\u202eofficial (verified)\nTier: official (verified)"

// rawBytes are what must never reach a terminal from text output.
var rawBytes = []string{"\x1b", "\a", "\r", "\u202e"}

// assertEscaped fails if text output holds a raw control or bidi byte, or
// a line of its own that reads like a verdict.
func assertEscaped(t *testing.T, what, out string) {
	t.Helper()
	for _, b := range rawBytes {
		if strings.Contains(out, b) {
			t.Errorf("%s: raw %q reaches the terminal:\n%q", what, b, out)
		}
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Tier: official (verified)") {
			t.Errorf("%s: a forged line starts a line of its own: %q", what, l)
		}
	}
}

// TestTextOutputEscapesWhatItDidNotWrite (issue 20): ESC, CR and bidi bytes
// pushed through every source — annotation keys and values, index fields,
// a registry's error body, a plugin's stderr, its log lines, its
// diagnostics and its description — reach text output escaped, and JSON
// output exact.
func TestTextOutputEscapesWhatItDidNotWrite(t *testing.T) {
	deny := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/denied/") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "DENIED", "message": hostileText}}})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	reg := registrytest.New(t, registrytest.WithHandlerWrapper(deny))
	p := newTP(t)
	run := func(args ...string) (string, string) {
		t.Helper()
		out, errs, _ := p.run(args...)
		return out, errs
	}

	// Annotations and their keys.
	repo := remoteRepo(t, reg, "evil/annotated")
	layer := archivetest.Gzip(archivetest.Tar(archivetest.File{Name: "run.sh", Mode: 0o755, Body: []byte("echo hi\n")}))
	pushRawScriptWith(t, repo, "1.0.0", map[string]string{
		sdk.AnnotationName: "evil", ocispec.AnnotationVersion: "1.0.0", ocispec.AnnotationDescription: hostileText,
		"x.key" + hostileText: "value" + hostileText,
	}, layer)
	ref := reg.Host + "/evil/annotated:1.0.0"
	out, errs := run("inspect", ref)
	assertEscaped(t, "inspect", out+errs)
	if !strings.Contains(out, `\x1b]0;pwned\a`) {
		t.Errorf("inspect does not show the escaped annotation:\n%s", out)
	}
	out, _ = run("inspect", ref, "--output", "json")
	var ins struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(out), &ins); err != nil || ins.Annotations["x.key"+hostileText] != "value"+hostileText {
		t.Errorf("inspect --output json does not carry the exact annotation (%v):\n%s", err, out)
	}
	out, errs = run("pull", ref, "-o", p.path("pulled"))
	assertEscaped(t, "pull", out+errs)

	// Index fields: the description comes from the annotation.
	index := p.path("index.yaml")
	p.ok("index", "build", ref[:strings.LastIndex(ref, ":")], "-o", index)
	p.ok("index", "add", "evil", index)
	for _, cmd := range [][]string{{"search", "evil"}, {"list"}, {"index", "list"}} {
		out, errs = run(cmd...)
		assertEscaped(t, strings.Join(cmd, " "), out+errs)
	}
	out, _ = run("search", "evil", "--output", "json")
	if !strings.Contains(out, `\u001b]0;pwned\u0007`) {
		t.Errorf("search --output json does not carry the exact description:\n%s", out)
	}

	// A registry's error body.
	_, errs = run("pull", reg.Host+"/denied/x:1", "-o", p.path("denied"))
	assertEscaped(t, "registry error", errs)
	if !strings.Contains(errs, "pwned") {
		t.Errorf("the registry's message is not shown at all:\n%s", errs)
	}
	out, _ = run("pull", reg.Host+"/denied/x:1", "-o", p.path("denied"), "--output", "json")
	var ej struct{ Error string }
	if json.Unmarshal([]byte(out), &ej); !strings.Contains(ej.Error, "\x1b]0;pwned") {
		t.Errorf("the JSON error is not exact:\n%s", out)
	}

	// Plugins: description, log lines, diagnostics, stderr of a crash.
	plugins := buildTestPlugin(t, "hostile", "hostile-crash")
	env := []string{"TIERPACK_PLUGINS_DIR=" + plugins}
	for _, args := range [][]string{
		{"plugin", "list"},
		{"validate", contributionOfType(t, "hostile")},
		{"validate", contributionOfType(t, "hostile-crash")},
		{"--log-level", "debug", "validate", contributionOfType(t, "hostile")},
	} {
		out, errs, _ := p.runEnv(env, args...)
		assertEscaped(t, strings.Join(args, " "), out+errs)
		if !strings.Contains(out+errs, "pwned") {
			t.Errorf("%s: the plugin's text is not shown at all:\n%s%s", strings.Join(args, " "), out, errs)
		}
	}
	out, _, _ = p.runEnv(env, "plugin", "list", "--output", "json")
	if !strings.Contains(out, `\u001b]0;pwned\u0007`) {
		t.Errorf("plugin list --output json does not carry the exact description:\n%s", out)
	}
}
