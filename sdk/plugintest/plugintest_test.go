//go:build unix

package plugintest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tierpack/tierpack/sdk/plugintest"
)

// testPlugin is the misbehaving test plugin (testdata/testplugin), built
// by TestMain: one binary whose behaviour depends on its name,
// tierpack-plugin-<mode>. The host's tests build it too.
var testPlugin string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "plugintest-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		testPlugin = filepath.Join(dir, "testplugin")
		if out, err := exec.Command("go", "build", "-o", testPlugin, "./testdata/testplugin").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building the test plugin: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}())
}

// install links the test plugin as tierpack-plugin-<mode> and writes a
// contribution of type mode, returning both.
func install(t *testing.T, mode string) (bin, contribution string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "tierpack-plugin-"+mode)
	if err := os.Link(testPlugin, bin); err != nil {
		t.Fatal(err)
	}
	contribution = filepath.Join(dir, "contribution")
	files := map[string]string{
		"tierpack.yaml": "apiVersion: tierpack.dev/v1\nname: demo\nversion: 1.0.0\ntype: " + mode + "\ntier: contrib\n",
		"README.md":     "# demo\n",
		"data.txt":      "some data\n",
	}
	if err := os.Mkdir(contribution, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(contribution, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bin, contribution
}

// TestBrokenPlugins checks that misbehaving plugins fail the right checks,
// with a reason that says what is wrong, that the checks they make
// impossible are skipped, and that a hang is bounded by the timeouts.
func TestBrokenPlugins(t *testing.T) {
	t.Setenv("TIERPACK_TEST_PIDDIR", "")
	type want struct {
		status plugintest.Status
		// contains are parts of the message.
		contains []string
	}
	for _, tc := range []struct {
		mode          string
		start, call   time.Duration
		checks        map[string]want
		others        plugintest.Status // every check not in checks
		maxDuration   time.Duration
		missingBinary bool
	}{
		{
			mode: "sloppy",
			checks: map[string]want{
				plugintest.CheckHandshake:     {plugintest.Pass, nil},
				plugintest.CheckDescribe:      {plugintest.Fail, []string{`Version "latest" is not a semantic version`, "ArtifactType is empty"}},
				plugintest.CheckValidateGood:  {plugintest.Pass, nil},
				plugintest.CheckValidateBad:   {plugintest.Fail, []string{"got no error diagnostic, so the host would publish it"}},
				plugintest.CheckValidateEmpty: {plugintest.Pass, nil},
				plugintest.CheckPackage:       {plugintest.Pass, nil},
				plugintest.CheckDeterministic: {plugintest.Fail, []string{"two runs on the same folder differ", "layer.txt has sha256"}},
				plugintest.CheckRoundTrip:     {plugintest.Fail, []string{"did not give back its files", "not unpacked: README.md, data.txt"}},
				plugintest.CheckUntouched:     {plugintest.Pass, nil},
				plugintest.CheckStdout:        {plugintest.Fail, []string{`to stdout after its handshake, starting "debug print from Validate"`, "sdk.Logger()"}},
			},
		},
		{
			mode: "good", // pkg/plugin's happy path: it never unpacks anything
			checks: map[string]want{
				plugintest.CheckValidateBad: {plugintest.Fail, []string{"got no error diagnostic", "warning: no README in demo"}},
				plugintest.CheckRoundTrip:   {plugintest.Fail, []string{"not unpacked: README.md, data.txt"}},
				// Built without Init: the optional check is skipped.
				plugintest.CheckInit: {plugintest.Skip, []string{"does not implement sdk.Initializer"}},
			},
			others: plugintest.Pass,
		},
		{
			mode:   "stdout",
			checks: map[string]want{plugintest.CheckHandshake: {plugintest.Fail, []string{`wrote "hello from a careless plugin" to stdout before its handshake`}}},
			others: plugintest.Skip,
		},
		{
			mode:   "v2",
			checks: map[string]want{plugintest.CheckHandshake: {plugintest.Fail, []string{"speaks tierpack plugin protocol 2, but this tierpack speaks 1"}}},
			others: plugintest.Skip,
		},
		{
			mode:   "notplugin",
			checks: map[string]want{plugintest.CheckHandshake: {plugintest.Fail, []string{"is not a tierpack plugin", "sdk.Serve"}}},
			others: plugintest.Skip,
		},
		{
			mode: "hangstart", start: time.Second, maxDuration: 5 * time.Second,
			checks: map[string]want{plugintest.CheckHandshake: {plugintest.Fail, []string{"did not complete its handshake within the start timeout (1s)"}}},
			others: plugintest.Skip,
		},
		{
			mode: "wrongtype",
			checks: map[string]want{
				plugintest.CheckHandshake: {plugintest.Pass, nil},
				plugintest.CheckDescribe:  {plugintest.Fail, []string{`named tierpack-plugin-wrongtype but Describe says type "something-else"`, "name it tierpack-plugin-something-else"}},
				// Its contributions say type wrongtype, not what it describes.
				plugintest.CheckValidateGood: {plugintest.Fail, []string{`says type "wrongtype", but the plugin packages "something-else"`}},
				plugintest.CheckValidateBad:  {plugintest.Fail, []string{`says type "wrongtype"`}},
				// The generated empty contribution has the described type.
				plugintest.CheckValidateEmpty: {plugintest.Pass, nil},
				plugintest.CheckStdout:        {plugintest.Pass, nil},
			},
			others: plugintest.Skip,
		},
		{
			// Each Validate crashes it; every check after a crash gets a
			// fresh process.
			mode: "crash",
			checks: map[string]want{
				plugintest.CheckHandshake:     {plugintest.Pass, nil},
				plugintest.CheckDescribe:      {plugintest.Pass, nil},
				plugintest.CheckValidateGood:  {plugintest.Fail, []string{"exited during Validate", "about to crash"}},
				plugintest.CheckValidateBad:   {plugintest.Fail, []string{"exited during Validate"}},
				plugintest.CheckValidateEmpty: {plugintest.Fail, []string{"exited during Validate", "report it as a diagnostic, not an error"}},
				plugintest.CheckStdout:        {plugintest.Pass, nil},
			},
			others: plugintest.Skip,
		},
		{
			mode: "hang", call: time.Second, maxDuration: 15 * time.Second,
			checks: map[string]want{
				plugintest.CheckHandshake:     {plugintest.Pass, nil},
				plugintest.CheckDescribe:      {plugintest.Pass, nil},
				plugintest.CheckValidateGood:  {plugintest.Fail, []string{"did not finish Validate within 1s and was stopped"}},
				plugintest.CheckValidateBad:   {plugintest.Fail, []string{"did not finish Validate within 1s"}},
				plugintest.CheckValidateEmpty: {plugintest.Fail, []string{"did not finish Validate within 1s"}},
				plugintest.CheckStdout:        {plugintest.Pass, nil},
			},
			others: plugintest.Skip,
		},
		{
			mode: "missing", missingBinary: true,
			checks: map[string]want{plugintest.CheckHandshake: {plugintest.Fail, []string{"cannot use the plugin binary", "no such file"}}},
			others: plugintest.Skip,
		},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			bin, contribution := install(t, tc.mode)
			if tc.missingBinary {
				bin = filepath.Join(t.TempDir(), "tierpack-plugin-missing")
			}
			if tc.maxDuration == 0 {
				tc.maxDuration = 30 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*tc.maxDuration)
			defer cancel()
			began := time.Now()
			r := plugintest.Check(ctx, plugintest.Config{Binary: bin, Good: contribution, Bad: contribution, StartTimeout: tc.start, CallTimeout: tc.call})
			took := time.Since(began)
			if took > tc.maxDuration {
				t.Errorf("Check took %v, want at most %v", took, tc.maxDuration)
			}
			if r.Passed {
				t.Errorf("the report says it passed")
			}
			if len(r.Checks) != len(plugintest.Checks) {
				t.Errorf("%d checks reported, want %d", len(r.Checks), len(plugintest.Checks))
			}
			for _, c := range r.Checks {
				t.Logf("%-24s %-4s %s", c.Name, c.Status, c.Message)
				w, ok := tc.checks[c.Name]
				if !ok {
					if tc.others != "" && c.Status != tc.others {
						t.Errorf("%s: %s, want %s", c.Name, c.Status, tc.others)
					}
					continue
				}
				if c.Status != w.status {
					t.Errorf("%s: %s, want %s: %s", c.Name, c.Status, w.status, c.Message)
				}
				for _, s := range w.contains {
					if !strings.Contains(c.Message, s) {
						t.Errorf("%s: message does not say %q:\n%s", c.Name, s, c.Message)
					}
				}
			}
		})
	}
}

// TestSkip checks that Config.Skip skips a check and says why.
func TestSkip(t *testing.T) {
	bin, contribution := install(t, "good")
	r := plugintest.Check(context.Background(), plugintest.Config{
		Binary: bin, Good: contribution, Skip: []string{plugintest.CheckRoundTrip},
	})
	res, _ := r.Result(plugintest.CheckRoundTrip)
	if res.Status != plugintest.Skip || !strings.Contains(res.Message, "skipped by the configuration") {
		t.Errorf("unpack-roundtrip: %s %s", res.Status, res.Message)
	}
	bad, _ := r.Result(plugintest.CheckValidateBad)
	if bad.Status != plugintest.Skip || !strings.Contains(bad.Message, "no bad contribution given") {
		t.Errorf("validate-bad without Config.Bad: %s %s", bad.Status, bad.Message)
	}
	if !r.Passed {
		t.Errorf("failed: %+v", r.Failed())
	}
}
