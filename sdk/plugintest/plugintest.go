// Package plugintest checks that a tierpack plugin binary keeps the rules the
// host relies on. A plugin author runs it from `go test`:
//
//	func TestConformance(t *testing.T) {
//		bin := plugintest.Build(t, ".") // go build the plugin's main package
//		plugintest.Run(t, plugintest.Config{
//			Binary: bin,
//			Good:   "testdata/good", // a contribution the plugin must accept
//			Bad:    "testdata/bad",  // one it must reject with an error diagnostic
//		})
//	}
//
// and `tierpack plugin check BINARY --good DIR --bad DIR` runs the same checks
// on any binary, for people who did not write it.
//
// The binary is started the way the host starts it (package sdk/host, which
// tierpack's plugin manager uses), so a crash, a hang, a protocol mismatch or
// output on stdout before the handshake fail with the host's own
// explanation. Then, in order (see the Check* constants):
//
//   - handshake: it starts, completes the go-plugin handshake and answers
//     Describe within Config.StartTimeout;
//   - describe: the type is a valid type name (and matches the binary's name
//     if that is tierpack-plugin-<type>), the version is semver, the
//     artifact type and media types are media types;
//   - validate-good: Config.Good validates without error diagnostics;
//   - validate-bad: Config.Bad gets at least one error diagnostic;
//   - validate-empty: a contribution with no files gets diagnostics, not a
//     plugin error or a crash;
//   - init (optional, skipped for a plugin that does not implement
//     sdk.Initializer): Init on a new folder writes nothing itself and
//     returns safe relative paths; the scaffold, written out with the
//     tierpack.yaml the host composes, validates without errors (unless
//     Init names commands to run first, e.g. a build);
//   - package: Config.Good packages into files the host accepts (paths
//     inside the staging folder, regular files, declared media types);
//   - package-deterministic: packaging again — and once more from a copy
//     of the folder elsewhere with other modification times — gives
//     byte-identical files, which the harness re-hashes as the host does;
//   - unpack-roundtrip: unpacking what was packaged gives back every file
//     of Config.Good, byte for byte, with its executable bit;
//   - contribution-untouched: none of this changed Config.Good;
//   - stdout: the plugin wrote nothing to stdout after its handshake (the
//     host discards it; plugins log with sdk.Logger).
//
// Every call is bounded by Config.CallTimeout. A check that cannot run
// because an earlier one failed is skipped, saying which.
package plugintest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/host"
)

// The checks, in the order they run; the package documentation says what
// each one requires.
const (
	CheckHandshake     = "handshake"
	CheckDescribe      = "describe"
	CheckValidateGood  = "validate-good"
	CheckValidateBad   = "validate-bad"
	CheckValidateEmpty = "validate-empty"
	CheckInit          = "init"
	CheckPackage       = "package"
	CheckDeterministic = "package-deterministic"
	CheckRoundTrip     = "unpack-roundtrip"
	CheckUntouched     = "contribution-untouched"
	CheckStdout        = "stdout"
)

// Default bounds, see Config.
const (
	// DefaultCallTimeout bounds each Validate, Package and Unpack call.
	DefaultCallTimeout = 30 * time.Second
	// DefaultStartTimeout bounds exec, handshake and Describe.
	DefaultStartTimeout = host.DefaultStartTimeout
)

// maxListed bounds how many diagnostics or files a message lists.
const maxListed = 5

// Checks lists every check by name, in the order they run.
var Checks = []string{
	CheckHandshake, CheckDescribe, CheckValidateGood, CheckValidateBad, CheckValidateEmpty, CheckInit,
	CheckPackage, CheckDeterministic, CheckRoundTrip, CheckUntouched, CheckStdout,
}

// Config says what to check. Only Binary is required.
type Config struct {
	// Binary is the plugin executable.
	Binary string
	// Good is a contribution folder, with a tierpack.yaml of the plugin's
	// type, that the plugin must accept, package deterministically and
	// unpack again. Empty skips the checks that need it.
	Good string
	// Bad is a contribution folder, with a valid tierpack.yaml of the
	// plugin's type, that the plugin must reject with at least one error
	// diagnostic. Empty skips validate-bad.
	Bad string
	// StartTimeout bounds exec, handshake and Describe; zero means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// CallTimeout bounds each Validate, Package and Unpack call; zero means
	// DefaultCallTimeout.
	CallTimeout time.Duration
	// Skip names checks not to run, for a type that breaks a rule by
	// design (say, unpack-roundtrip for a type whose unpacked form is not
	// its contribution folder). They are reported as skipped.
	Skip []string
	// LogLevel for the plugin's log lines and the host's notes about it,
	// which go to stderr: "debug", "info", "warn", "error" or "off"; empty
	// means "error". A failed check quotes the plugin's last lines anyway.
	LogLevel string
}

// Status is a check's outcome.
type Status string

// Outcomes.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip"
)

// Result is one check's outcome.
type Result struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Message says why the check failed or was skipped, or what a passing
	// check saw.
	Message string `json:"message,omitempty"`
	// Duration is how long the check took; 0 for a skipped one.
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for JSON.
	DurationMS int64 `json:"durationMs"`
}

// Report is the outcome of every check.
type Report struct {
	// Binary is the absolute path of the binary checked.
	Binary string `json:"binary"`
	// Plugin is its Describe answer; nil if it did not start.
	Plugin *sdk.Description `json:"plugin,omitempty"`
	// Protocol is the plugin protocol version negotiated with it.
	Protocol int      `json:"protocol,omitempty"`
	Checks   []Result `json:"checks"`
	// Passed is true when no check failed.
	Passed bool `json:"passed"`
}

// Failed returns the checks that failed.
func (r Report) Failed() []Result {
	var out []Result
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Result returns the result of the named check, and whether it is in the
// report.
func (r Report) Result(name string) (Result, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Result{}, false
}

// Run runs every check against cfg.Binary, each as a subtest of t named
// after it, and returns the report. A failed check fails its subtest with
// the reason; a skipped one is skipped with the reason.
func Run(t *testing.T, cfg Config) Report {
	t.Helper()
	r := Check(t.Context(), cfg)
	for _, c := range r.Checks {
		t.Run(c.Name, func(t *testing.T) {
			switch c.Status {
			case Fail:
				t.Error(c.Message)
			case Skip:
				t.Skip(c.Message)
			default:
				if c.Message != "" {
					t.Log(c.Message)
				}
			}
		})
	}
	return r
}

// Build builds the plugin's main package pkg (a path as `go build` takes it,
// relative to the test's folder, e.g. ".") into a temporary folder with the
// go command on PATH, and returns the binary's path. The binary is named as
// `go build` names it, after the module or folder; name a plugin's module
// tierpack-plugin-<type> so that name is the one the host looks for.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("plugintest.Build: the go command is not on PATH: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(goCmd, "build", "-o", dir+string(filepath.Separator), pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plugintest.Build: go build %s: %v\n%s", pkg, err, out)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("plugintest.Build: go build %s produced %d files (%v), want one binary: is it a main package?", pkg, len(entries), err)
	}
	return filepath.Join(dir, entries[0].Name())
}

// Check runs every check against cfg.Binary and reports each outcome. It
// never panics on a misbehaving plugin; ctx bounds the whole run.
func Check(ctx context.Context, cfg Config) Report {
	c := &checker{ctx: ctx, cfg: cfg, done: map[string]Status{}}
	if c.cfg.LogLevel == "" {
		c.cfg.LogLevel = "error"
	}
	if c.cfg.CallTimeout <= 0 {
		c.cfg.CallTimeout = DefaultCallTimeout
	}
	if c.cfg.StartTimeout <= 0 {
		c.cfg.StartTimeout = DefaultStartTimeout
	}
	c.run()
	c.report.Passed = len(c.report.Failed()) == 0
	return c.report
}

type checker struct {
	ctx    context.Context
	cfg    Config
	report Report
	done   map[string]Status

	stdout lockedBuffer
	p      *host.Plugin
	// started lists every plugin process started, to stop them all at the
	// end: a check after a crash or a timeout starts a fresh one.
	started []*host.Plugin
	desc    sdk.Description

	good      *contrib.Manifest
	goodC     sdk.Contribution
	goodFiles []string
	// packaged is the first Package run's output.
	packaged   *packageRun
	tmp        string
	beforeTree map[string]string
}

// packageRun is one Package call's output, re-hashed.
type packageRun struct {
	staging string
	res     sdk.PackageResult
	// digests maps a blob path to its sha256.
	digests map[string]string
}

// record adds a result.
func (c *checker) record(name string, st Status, began time.Time, format string, args ...any) {
	d := time.Since(began)
	if began.IsZero() {
		d = 0
	}
	c.done[name] = st
	c.report.Checks = append(c.report.Checks, Result{
		Name: name, Status: st, Message: fmt.Sprintf(format, args...), Duration: d, DurationMS: d.Milliseconds(),
	})
}

// needs skips check name, and returns false, unless every check in deps
// passed.
func (c *checker) needs(name string, deps ...string) bool {
	if slices.Contains(c.cfg.Skip, name) {
		c.record(name, Skip, time.Time{}, "skipped by the configuration")
		return false
	}
	for _, d := range deps {
		if c.done[d] != Pass {
			why := "did not pass"
			if c.done[d] == Skip {
				why = "was skipped"
			}
			c.record(name, Skip, time.Time{}, "needs %s, which %s", d, why)
			return false
		}
	}
	return true
}

func (c *checker) run() {
	bin, err := filepath.Abs(c.cfg.Binary)
	c.report.Binary = bin
	began := time.Now()
	switch {
	case c.cfg.Binary == "":
		c.record(CheckHandshake, Fail, began, "no plugin binary given (Config.Binary)")
	case err != nil:
		c.record(CheckHandshake, Fail, began, "%v", err)
	default:
		if st, err := os.Stat(bin); err != nil {
			c.record(CheckHandshake, Fail, began, "cannot use the plugin binary: %v", err)
		} else if st.IsDir() {
			c.record(CheckHandshake, Fail, began, "%s is a folder: give the plugin executable", bin)
		}
	}
	if c.done[CheckHandshake] == Fail {
		c.skipRest(CheckHandshake)
		return
	}
	c.tmp, err = os.MkdirTemp("", "tierpack-plugintest-")
	if err != nil {
		c.record(CheckHandshake, Fail, began, "%v", err)
		c.skipRest(CheckHandshake)
		return
	}
	defer os.RemoveAll(c.tmp)

	defer c.stopAll()

	c.handshake()
	if c.done[CheckHandshake] != Pass {
		c.skipRest(CheckHandshake)
		return
	}
	c.describe(bin)
	c.loadGood()
	c.validateGood()
	c.validateBad()
	c.validateEmpty()
	c.initScaffold()
	c.packageGood()
	c.deterministic()
	c.roundTrip()
	c.untouched()
	// Stopping the plugin lets go-plugin deliver what it forwards from the
	// plugin's stdout.
	began = time.Now()
	c.stopAll()
	c.checkStdout(began)
}

// skipRest skips every check not yet recorded.
func (c *checker) skipRest(because string) {
	for _, name := range Checks {
		if _, ok := c.done[name]; !ok {
			c.record(name, Skip, time.Time{}, "needs %s, which did not pass", because)
		}
	}
}

// start starts the plugin binary as the host does, with the configured
// bounds, and remembers it for stopAll.
func (c *checker) start() (*host.Plugin, error) {
	bin := c.report.Binary
	name := strings.TrimSuffix(filepath.Base(bin), ".exe")
	if typ, ok := host.TypeFromBinaryName(filepath.Base(bin)); ok {
		name = typ
	}
	// Confined as tierpack confines it (host.Sandbox): writes in the
	// checks' scratch folder only, reads of the contributions under test.
	own, err := os.MkdirTemp(c.tmp, "p")
	if err != nil {
		return nil, err
	}
	p, err := host.Start(c.ctx, host.Config{
		Name:         fmt.Sprintf("plugin %q (%s)", name, bin),
		Type:         name,
		Path:         bin,
		Sandbox:      &host.Sandbox{Dir: own, Read: []string{c.cfg.Good, c.cfg.Bad, c.tmp}, Write: []string{c.tmp}},
		StartTimeout: c.cfg.StartTimeout,
		CallTimeout:  c.cfg.CallTimeout,
		LogLevel:     c.cfg.LogLevel,
		Stdout:       &c.stdout,
	})
	if err != nil {
		return nil, err
	}
	c.started = append(c.started, p)
	return p, nil
}

// stopAll stops every plugin process started and waits for them to exit,
// which also lets go-plugin deliver what it forwards from their stdout.
func (c *checker) stopAll() {
	var wg sync.WaitGroup
	for _, p := range c.started {
		wg.Add(1)
		go func() { defer wg.Done(); p.Stop() }()
	}
	wg.Wait()
	c.started, c.p = nil, nil
}

// plugin returns the running plugin, starting it again if a failed call
// stopped it.
func (c *checker) plugin() (*host.Plugin, error) {
	if c.p != nil {
		return c.p, nil
	}
	p, err := c.start()
	if err != nil {
		return nil, err
	}
	c.p = p
	return p, nil
}

// callFailed notes that a call failed; a plugin that crashed or timed out is
// stopped, so the next check starts a fresh one.
func (c *checker) callFailed(err error) {
	if errors.Is(err, host.ErrCrashed) || errors.Is(err, host.ErrTimeout) {
		c.p = nil
	}
}

func (c *checker) handshake() {
	began := time.Now()
	p, err := c.start()
	if err != nil {
		c.record(CheckHandshake, Fail, began, "%v", err)
		return
	}
	c.p = p
	c.desc = p.Describe()
	d := c.desc
	c.report.Plugin = &d
	c.report.Protocol = p.Protocol()
	c.record(CheckHandshake, Pass, began, "started, completed the handshake (protocol %d) and answered Describe in %s",
		p.Protocol(), time.Since(began).Round(time.Millisecond))
}

// namedFor reports whether the part of a binary's name after
// tierpack-plugin- fits type typ: the type itself, or the type followed by
// -<os>-<arch>[-<variant>] as `tierpack plugin push` wants per-platform builds.
func namedFor(name, typ string) bool {
	rest, ok := strings.CutPrefix(name, typ)
	return ok && (rest == "" || platformSuffixRE.MatchString(rest))
}

var (
	platformSuffixRE = regexp.MustCompile(`^-[a-z0-9]+-[a-z0-9]+(?:-v[0-9]+(?:\.[0-9]+)?)?$`)
	typeRE           = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)
)

func (c *checker) describe(bin string) {
	if !c.needs(CheckDescribe, CheckHandshake) {
		return
	}
	began := time.Now()
	d := c.desc
	var problems []string
	switch {
	case d.Type == "":
		problems = append(problems, "Type is empty: it names the contribution type, e.g. \"rules\"")
	case len(d.Type) > 32 || !typeRE.MatchString(d.Type):
		problems = append(problems, fmt.Sprintf("Type %q is not a type name: lower-case letters, digits and single '-' between them, at most 32 characters", d.Type))
	}
	if typ, ok := strings.CutPrefix(strings.TrimSuffix(filepath.Base(bin), ".exe"), host.BinaryPrefix); ok && d.Type != "" && !namedFor(typ, d.Type) {
		problems = append(problems, fmt.Sprintf("the binary is named %s but Describe says type %q: the host would refuse it; name it %s (or %s-<os>-<arch> in a folder for tierpack plugin push)",
			filepath.Base(bin), d.Type, host.BinaryName(d.Type), host.BinaryPrefix+d.Type))
	}
	if !contrib.IsSemver(d.Version) {
		hint := ""
		if strings.HasPrefix(d.Version, "v") && contrib.IsSemver(d.Version[1:]) {
			hint = " (drop the leading v)"
		}
		problems = append(problems, fmt.Sprintf("Version %q is not a semantic version like 1.2.3%s", d.Version, hint))
	}
	switch {
	case d.ArtifactType == "":
		problems = append(problems, "ArtifactType is empty: it becomes the OCI artifactType of what the plugin packages, e.g. application/vnd.example.rules.v1")
	case !sdk.ValidMediaType(d.ArtifactType):
		problems = append(problems, fmt.Sprintf("ArtifactType %q is not a media type (type/subtype)", d.ArtifactType))
	}
	for _, mt := range d.MediaTypes {
		if !sdk.ValidMediaType(mt) {
			problems = append(problems, fmt.Sprintf("MediaTypes lists %q, which is not a media type (type/subtype)", mt))
		}
	}
	if len(problems) > 0 {
		c.record(CheckDescribe, Fail, began, "Describe: %s", strings.Join(problems, "; "))
		return
	}
	var notes []string
	if d.SDKVersion == "" {
		notes = append(notes, "no SDK version (not built with the tierpack sdk?)")
	}
	if d.Description == "" {
		notes = append(notes, "no description for `tierpack plugin list`")
	}
	msg := fmt.Sprintf("type %q, version %s, artifact type %s, sdk %s", d.Type, d.Version, d.ArtifactType, d.SDKVersion)
	if len(notes) > 0 {
		msg += "; note: " + strings.Join(notes, "; ")
	}
	c.record(CheckDescribe, Pass, began, "%s", msg)
}

// loadGood reads Config.Good's manifest; a problem with it fails
// validate-good, which the checks that package need.
func (c *checker) loadGood() {
	if c.cfg.Good == "" || slices.Contains(c.cfg.Skip, CheckValidateGood) {
		return
	}
	m, err := contrib.Load(c.cfg.Good)
	if err != nil {
		return // validateGood reports it
	}
	c.good = m
	files, err := sdk.ExpandFiles(m.Dir, m.Files)
	if err == nil {
		c.goodFiles = files
		c.beforeTree, _ = snapshot(m.Dir)
	}
}

// loadContribution reads a contribution folder given in cfg for the check
// name, and explains what is wrong with it if anything.
func (c *checker) loadContribution(field, dir string) (*contrib.Manifest, sdk.Contribution, error) {
	m, err := contrib.Load(dir)
	if err != nil {
		var es contrib.Errors
		if errors.As(err, &es) {
			return nil, sdk.Contribution{}, fmt.Errorf("plugintest: Config.%s (%s): its tierpack.yaml is invalid, so the host would stop before asking the plugin: %v", field, dir, err)
		}
		return nil, sdk.Contribution{}, fmt.Errorf("plugintest: Config.%s: %v", field, err)
	}
	if m.Type != c.desc.Type {
		return nil, sdk.Contribution{}, fmt.Errorf("plugintest: Config.%s (%s): its tierpack.yaml says type %q, but the plugin packages %q: set type: %s", field, dir, m.Type, c.desc.Type, c.desc.Type)
	}
	sc, err := m.Contribution()
	if err != nil {
		return nil, sdk.Contribution{}, fmt.Errorf("plugintest: Config.%s (%s): %v", field, dir, err)
	}
	return m, sc, nil
}

func (c *checker) validateGood() {
	if !c.needs(CheckValidateGood, CheckHandshake) {
		return
	}
	began := time.Now()
	if c.cfg.Good == "" {
		c.record(CheckValidateGood, Skip, began, "no good contribution given")
		return
	}
	m, sc, err := c.loadContribution("Good", c.cfg.Good)
	if err != nil {
		c.record(CheckValidateGood, Fail, began, "%v", err)
		return
	}
	c.goodC = sc
	diags, err := c.validate(m, sc)
	if err != nil {
		c.record(CheckValidateGood, Fail, began, "%v", err)
		return
	}
	if problems := diagnosticProblems(diags); len(problems) > 0 {
		c.record(CheckValidateGood, Fail, began, "malformed diagnostics: %s", strings.Join(problems, "; "))
		return
	}
	if n := sdk.Count(diags, sdk.SeverityError); n > 0 {
		c.record(CheckValidateGood, Fail, began, "the good contribution %s got %d error(s), want none: %s", c.cfg.Good, n, listDiagnostics(diags, sdk.SeverityError))
		return
	}
	msg := "no errors"
	if n := sdk.Count(diags, sdk.SeverityWarning); n > 0 {
		msg += fmt.Sprintf("; %d warning(s): %s", n, listDiagnostics(diags, sdk.SeverityWarning))
	}
	c.record(CheckValidateGood, Pass, began, "%s", msg)
}

func (c *checker) validate(m *contrib.Manifest, sc sdk.Contribution) ([]sdk.Diagnostic, error) {
	p, err := c.plugin()
	if err != nil {
		return nil, err
	}
	diags, err := p.Validate(c.ctx, sdk.ValidateRequest{Dir: m.Dir, Contribution: sc})
	if err != nil {
		c.callFailed(err)
	}
	return diags, err
}

func (c *checker) validateBad() {
	if !c.needs(CheckValidateBad, CheckHandshake) {
		return
	}
	began := time.Now()
	if c.cfg.Bad == "" {
		c.record(CheckValidateBad, Skip, began, "no bad contribution given")
		return
	}
	m, sc, err := c.loadContribution("Bad", c.cfg.Bad)
	if err != nil {
		c.record(CheckValidateBad, Fail, began, "%v", err)
		return
	}
	diags, err := c.validate(m, sc)
	if err != nil {
		c.record(CheckValidateBad, Fail, began, "%v (problems with a contribution are diagnostics, not errors)", err)
		return
	}
	if problems := diagnosticProblems(diags); len(problems) > 0 {
		c.record(CheckValidateBad, Fail, began, "malformed diagnostics: %s", strings.Join(problems, "; "))
		return
	}
	n := sdk.Count(diags, sdk.SeverityError)
	if n == 0 {
		c.record(CheckValidateBad, Fail, began, "the bad contribution %s got no error diagnostic, so the host would publish it (diagnostics: %s)", c.cfg.Bad, listDiagnostics(diags, 0))
		return
	}
	c.record(CheckValidateBad, Pass, began, "%d error(s): %s", n, listDiagnostics(diags, sdk.SeverityError))
}

// validateEmpty asks the plugin about a contribution with no files: bad
// input it must answer with diagnostics.
func (c *checker) validateEmpty() {
	if !c.needs(CheckValidateEmpty, CheckHandshake) {
		return
	}
	began := time.Now()
	dir := filepath.Join(c.tmp, "empty")
	manifest := fmt.Sprintf("apiVersion: %s\nname: plugintest-empty\nversion: 0.1.0\ntype: %s\ntier: %s\n", contrib.APIVersion, c.desc.Type, sdk.TierContrib)
	if err := os.Mkdir(dir, 0o755); err != nil {
		c.record(CheckValidateEmpty, Fail, began, "%v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, contrib.FileName), []byte(manifest), 0o644); err != nil {
		c.record(CheckValidateEmpty, Fail, began, "%v", err)
		return
	}
	m, sc, err := c.loadContribution("(generated empty contribution)", dir)
	if err != nil {
		c.record(CheckValidateEmpty, Fail, began, "%v", err)
		return
	}
	diags, err := c.validate(m, sc)
	if err != nil {
		c.record(CheckValidateEmpty, Fail, began, "a contribution with only a tierpack.yaml: %v (an empty or broken contribution is the contributor's problem: report it as a diagnostic, not an error)", err)
		return
	}
	if problems := diagnosticProblems(diags); len(problems) > 0 {
		c.record(CheckValidateEmpty, Fail, began, "malformed diagnostics: %s", strings.Join(problems, "; "))
		return
	}
	c.record(CheckValidateEmpty, Pass, began, "diagnostics: %s", listDiagnostics(diags, 0))
}

// initScaffold checks the optional Init call.
func (c *checker) initScaffold() {
	if !c.needs(CheckInit, CheckHandshake) {
		return
	}
	began := time.Now()
	p, err := c.plugin()
	if err != nil {
		c.record(CheckInit, Fail, began, "%v", err)
		return
	}
	dir := filepath.Join(c.tmp, "init", "plugintest-init")
	res, err := p.Init(c.ctx, sdk.InitRequest{Dir: dir, Name: "plugintest-init", Version: "0.1.0", Tier: sdk.TierContrib})
	if errors.Is(err, sdk.ErrInitUnsupported) {
		c.record(CheckInit, Skip, time.Time{}, "the plugin does not implement sdk.Initializer (optional: tierpack init then writes only tierpack.yaml)")
		return
	}
	if err != nil {
		c.callFailed(err)
		c.record(CheckInit, Fail, began, "Init on a new, empty folder: %v", err)
		return
	}
	if _, err := os.Lstat(dir); err == nil {
		c.record(CheckInit, Fail, began, "Init wrote into the folder: it must only return files, which the host writes")
		return
	}
	var b strings.Builder
	name, version := cmp.Or(res.Name, "plugintest-init"), cmp.Or(res.Version, "0.1.0")
	fmt.Fprintf(&b, "apiVersion: %s\nname: %s\nversion: %s\ntype: %s\ntier: %s\n", contrib.APIVersion, name, version, c.desc.Type, sdk.TierContrib)
	if len(res.ManifestFiles) > 0 {
		b.WriteString("files:\n")
		for _, f := range res.ManifestFiles {
			fmt.Fprintf(&b, "  - %q\n", f)
		}
	}
	if strings.TrimSpace(res.SpecYAML) != "" {
		b.WriteString("spec:\n")
		for _, l := range strings.Split(strings.TrimRight(res.SpecYAML, "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
	}
	files := append([]sdk.InitFile{{Path: contrib.FileName, Content: []byte(b.String())}}, res.Files...)
	for i, f := range files {
		if err := contrib.CheckRelPath(f.Path); err != nil || (i > 0 && f.Path == contrib.FileName) {
			c.record(CheckInit, Fail, began, "Init returned the file %q: paths are relative to the folder, inside it, and not tierpack.yaml (the host writes it)", f.Path)
			return
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.Path))
		mode := fs.FileMode(f.Mode).Perm()
		if mode == 0 {
			mode = 0o644
		}
		err := os.MkdirAll(filepath.Dir(dst), 0o755)
		if err == nil && f.CopyFrom != "" {
			err = copyFile(f.CopyFrom, dst, mode)
		} else if err == nil {
			if err = os.WriteFile(dst, f.Content, mode); err == nil {
				err = os.Chmod(dst, mode)
			}
		}
		if err != nil {
			c.record(CheckInit, Fail, began, "writing the scaffold's %s: %v", f.Path, err)
			return
		}
	}
	m, sc, err := c.loadContribution("(scaffold from Init)", dir)
	if err != nil {
		c.record(CheckInit, Fail, began, "the scaffold's tierpack.yaml, from Init's spec, name and version: %v", err)
		return
	}
	diags, err := c.validate(m, sc)
	if err != nil {
		c.record(CheckInit, Fail, began, "validating the scaffold: %v", err)
		return
	}
	if n := sdk.Count(diags, sdk.SeverityError); n > 0 && len(res.Next) == 0 {
		c.record(CheckInit, Fail, began, "the scaffold does not validate (%d error(s): %s): Init must return files that validate as they are, or name the commands to run first in InitResult.Next",
			n, listDiagnostics(diags, sdk.SeverityError))
		return
	}
	msg := fmt.Sprintf("%d file(s); validates", len(res.Files))
	if len(res.Next) > 0 {
		msg = fmt.Sprintf("%d file(s); to run before validating: %s", len(res.Files), strings.Join(res.Next, "; "))
	}
	c.record(CheckInit, Pass, began, "%s", msg)
}

// diagnosticProblems lists what makes diagnostics useless to a user.
func diagnosticProblems(diags []sdk.Diagnostic) []string {
	var out []string
	for _, d := range diags {
		switch {
		case strings.TrimSpace(d.Message) == "":
			out = append(out, fmt.Sprintf("%q has no message", d.String()))
		case d.File != "" && (path.IsAbs(d.File) || filepath.IsAbs(d.File) || strings.Contains(d.File, `\`) ||
			d.File == ".." || strings.HasPrefix(d.File, "../") || path.Clean(d.File) != d.File):
			out = append(out, fmt.Sprintf("%q: File must be relative to the contribution folder, slash-separated and clean", d.String()))
		case d.Line < 0 || d.Column < 0:
			out = append(out, fmt.Sprintf("%q: Line and Column are 1-based, 0 when unknown", d.String()))
		}
	}
	return out
}

// listDiagnostics formats the diagnostics of severity s (all when s is 0),
// a few of them.
func listDiagnostics(diags []sdk.Diagnostic, s sdk.Severity) string {
	var parts []string
	n := 0
	for _, d := range diags {
		if s != 0 && d.Severity != s {
			continue
		}
		n++
		if len(parts) < maxListed {
			parts = append(parts, d.String())
		}
	}
	if n == 0 {
		return "none"
	}
	if n > len(parts) {
		parts = append(parts, fmt.Sprintf("and %d more", n-len(parts)))
	}
	return strings.Join(parts, "; ")
}

// pack runs Package on the contribution in dir into a fresh staging folder
// and re-hashes what it wrote, as the host does.
func (c *checker) pack(dir, staging string) (*packageRun, error) {
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, err
	}
	p, err := c.plugin()
	if err != nil {
		return nil, err
	}
	// Asked as the host asks: for zstd layers when Describe lists them.
	compression := archive.Gzip
	if slices.Contains(c.desc.MediaTypes, sdk.MediaTypeLayerTarZstd) {
		compression = archive.Zstd
	}
	res, err := p.Package(c.ctx, sdk.PackageRequest{Dir: dir, Contribution: c.goodC, StagingDir: staging, Compression: compression})
	if err != nil {
		c.callFailed(err)
		return nil, err
	}
	if n := sdk.Count(res.Diagnostics, sdk.SeverityError); n > 0 {
		return nil, fmt.Errorf("the Package call reported %d error(s), which stop the host: %s", n, listDiagnostics(res.Diagnostics, sdk.SeverityError))
	}
	run := &packageRun{staging: staging, res: res, digests: map[string]string{}}
	if len(res.Manifests) == 0 {
		return nil, errors.New("the Package call described no manifests: the host needs at least one")
	}
	root, err := os.OpenRoot(staging)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	declared := c.desc.MediaTypes
	for i, m := range res.Manifests {
		where := "the manifest"
		if len(res.Manifests) > 1 {
			where = fmt.Sprintf("manifest %d of %d", i+1, len(res.Manifests))
			if m.Platform == nil {
				return nil, fmt.Errorf("%s has no platform: an artifact of several manifests is an image index, one manifest per platform", where)
			}
		}
		blobs := m.Layers
		if m.Config != nil {
			blobs = append([]sdk.Blob{*m.Config}, blobs...)
		}
		for _, b := range blobs {
			if b.MediaType == "" || !sdk.ValidMediaType(b.MediaType) {
				return nil, fmt.Errorf("%s: blob %q has media type %q, which is not a media type", where, b.Path, b.MediaType)
			}
			if len(declared) > 0 && !slices.Contains(declared, b.MediaType) {
				return nil, fmt.Errorf("%s: blob %q has media type %s, which Describe's MediaTypes (%s) does not list", where, b.Path, b.MediaType, strings.Join(declared, ", "))
			}
			if err := contrib.CheckRelPath(b.Path); err != nil {
				return nil, fmt.Errorf("%s: blob path: %v (paths are relative to the staging folder)", where, err)
			}
			sum, err := hashIn(root, b.Path)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
			run.digests[b.Path] = sum
		}
	}
	return run, nil
}

// hashIn hashes a regular file below root, as the host does: a symlink
// out of the staging folder or a non-regular file is refused.
func hashIn(root *os.Root, p string) (string, error) {
	f, err := root.Open(filepath.FromSlash(p))
	if err != nil {
		return "", fmt.Errorf("blob %q: %v (write blobs inside the staging folder)", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("blob %q is not a regular file", p)
	}
	return hashReader(f)
}

func (c *checker) packageGood() {
	if !c.needs(CheckPackage, CheckValidateGood) {
		return
	}
	began := time.Now()
	run, err := c.pack(c.good.Dir, filepath.Join(c.tmp, "staging-1"))
	if err != nil {
		c.record(CheckPackage, Fail, began, "%v", err)
		return
	}
	c.packaged = run
	n := 0
	for _, m := range run.res.Manifests {
		n += len(m.Layers)
	}
	c.record(CheckPackage, Pass, began, "%d manifest(s), %d layer(s), every blob a regular file in the staging folder", len(run.res.Manifests), n)
}

func (c *checker) deterministic() {
	if !c.needs(CheckDeterministic, CheckPackage) {
		return
	}
	began := time.Now()
	again, err := c.pack(c.good.Dir, filepath.Join(c.tmp, "staging-2"))
	if err != nil {
		c.record(CheckDeterministic, Fail, began, "packaging a second time: %v", err)
		return
	}
	if diff := diffRuns(c.packaged, again); diff != "" {
		c.record(CheckDeterministic, Fail, began, "two runs on the same folder differ: %s (sort entries, fix times, owners and modes: sdk.PackageFiles and sdk/archive do)", diff)
		return
	}
	// A copy elsewhere, with other modification times, must give the same
	// bytes: what is pushed must not depend on where or when it was checked out.
	cp := filepath.Join(c.tmp, "copy", filepath.Base(c.good.Dir))
	if err := copyTree(c.good.Dir, cp, time.Now().Add(time.Hour)); err != nil {
		c.record(CheckDeterministic, Fail, began, "copying %s: %v", c.good.Dir, err)
		return
	}
	moved, err := c.pack(cp, filepath.Join(c.tmp, "staging-3"))
	if err != nil {
		c.record(CheckDeterministic, Fail, began, "packaging a copy of the folder: %v", err)
		return
	}
	if diff := diffRuns(c.packaged, moved); diff != "" {
		c.record(CheckDeterministic, Fail, began, "packaging a copy of the folder at another path, with other file modification times, differs: %s (archive entries must not record mtimes or absolute paths; use req.SourceDateEpoch)", diff)
		return
	}
	c.record(CheckDeterministic, Pass, began, "3 runs (the last on a copy elsewhere with other mtimes) gave byte-identical blobs")
}

// diffRuns says how two Package runs differ, or "" if they do not.
func diffRuns(a, b *packageRun) string {
	if len(a.res.Manifests) != len(b.res.Manifests) {
		return fmt.Sprintf("%d manifest(s), then %d", len(a.res.Manifests), len(b.res.Manifests))
	}
	for i := range a.res.Manifests {
		ma, mb := a.res.Manifests[i], b.res.Manifests[i]
		ba, bb := blobsOf(ma), blobsOf(mb)
		if len(ba) != len(bb) {
			return fmt.Sprintf("manifest %d: %d blob(s), then %d", i+1, len(ba), len(bb))
		}
		for j := range ba {
			x, y := ba[j], bb[j]
			switch {
			case x.Path != y.Path || x.MediaType != y.MediaType:
				return fmt.Sprintf("blob %d: %s (%s), then %s (%s)", j+1, x.Path, x.MediaType, y.Path, y.MediaType)
			case a.digests[x.Path] != b.digests[y.Path]:
				return fmt.Sprintf("%s has sha256 %.12s…, then %.12s…", x.Path, a.digests[x.Path], b.digests[y.Path])
			case !reflect.DeepEqual(nilIfEmpty(x.Annotations), nilIfEmpty(y.Annotations)):
				return fmt.Sprintf("%s's annotations differ: %v, then %v", x.Path, x.Annotations, y.Annotations)
			}
		}
		if !reflect.DeepEqual(nilIfEmpty(ma.Annotations), nilIfEmpty(mb.Annotations)) {
			return fmt.Sprintf("manifest %d's annotations differ: %v, then %v", i+1, ma.Annotations, mb.Annotations)
		}
		if !reflect.DeepEqual(ma.Platform, mb.Platform) || ma.ArtifactType != mb.ArtifactType {
			return fmt.Sprintf("manifest %d's platform or artifact type differs", i+1)
		}
	}
	if !reflect.DeepEqual(nilIfEmpty(a.res.Annotations), nilIfEmpty(b.res.Annotations)) {
		return fmt.Sprintf("the annotations differ: %v, then %v", a.res.Annotations, b.res.Annotations)
	}
	return ""
}

func blobsOf(m sdk.Manifest) []sdk.Blob {
	if m.Config == nil {
		return m.Layers
	}
	return append([]sdk.Blob{*m.Config}, m.Layers...)
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// roundTrip hands what Package wrote to Unpack, as a pull does, and compares
// the result with the contribution.
func (c *checker) roundTrip() {
	if !c.needs(CheckRoundTrip, CheckPackage) {
		return
	}
	began := time.Now()
	run := c.packaged
	m := run.res.Manifests[0]
	if len(run.res.Manifests) > 1 {
		// As a pull does: this machine's platform.
		found := false
		for _, pm := range run.res.Manifests {
			if pm.Platform != nil && pm.Platform.OS == runtime.GOOS && pm.Platform.Architecture == runtime.GOARCH {
				m, found = pm, true
				break
			}
		}
		if !found {
			c.record(CheckRoundTrip, Skip, began, "the artifact has no manifest for %s/%s, this machine's platform", runtime.GOOS, runtime.GOARCH)
			return
		}
	}
	blobsDir := filepath.Join(c.tmp, "blobs")
	out := filepath.Join(c.tmp, "unpacked")
	for _, d := range []string{filepath.Join(blobsDir, "sha256"), out} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			c.record(CheckRoundTrip, Fail, began, "%v", err)
			return
		}
	}
	// Blobs reach Unpack under their digests, as from a registry: a plugin
	// must not rely on the file names it chose in Package.
	toBlob := func(b sdk.Blob) (*sdk.Blob, error) {
		sum := run.digests[b.Path]
		data, err := os.ReadFile(filepath.Join(run.staging, filepath.FromSlash(b.Path)))
		if err != nil {
			return nil, err
		}
		dst := filepath.Join(blobsDir, "sha256", sum)
		if _, err := os.Stat(dst); err != nil { // a config may also be a layer
			if err := os.WriteFile(dst, data, 0o444); err != nil {
				return nil, err
			}
		}
		pb := &sdk.Blob{MediaType: b.MediaType, Path: "sha256/" + sum, Annotations: b.Annotations, Digest: "sha256:" + sum, Size: int64(len(data)), Platform: m.Platform}
		return pb, nil
	}
	ann := map[string]string{}
	for k, v := range run.res.Annotations {
		ann[k] = v
	}
	for k, v := range m.Annotations {
		ann[k] = v
	}
	// What the host adds (see pkg/artifact).
	ann[sdk.AnnotationType] = c.goodC.Type
	ann[sdk.AnnotationName] = c.goodC.Name
	ann[sdk.AnnotationTier] = c.goodC.Tier
	ann["org.opencontainers.image.title"] = c.goodC.Name
	ann["org.opencontainers.image.version"] = c.goodC.Version
	req := sdk.UnpackRequest{BlobsDir: blobsDir, Annotations: ann, OutputDir: out}
	if m.Config != nil {
		b, err := toBlob(*m.Config)
		if err != nil {
			c.record(CheckRoundTrip, Fail, began, "%v", err)
			return
		}
		req.Config = b
	}
	for _, l := range m.Layers {
		b, err := toBlob(l)
		if err != nil {
			c.record(CheckRoundTrip, Fail, began, "%v", err)
			return
		}
		req.Layers = append(req.Layers, *b)
	}
	p, err := c.plugin()
	if err != nil {
		c.record(CheckRoundTrip, Fail, began, "%v", err)
		return
	}
	res, err := p.Unpack(c.ctx, req)
	if err != nil {
		c.callFailed(err)
		c.record(CheckRoundTrip, Fail, began, "Unpack of what Package wrote: %v", err)
		return
	}
	var problems []string
	for _, f := range res.Files {
		if err := contrib.CheckRelPath(f); err != nil {
			problems = append(problems, fmt.Sprintf("Unpack listed %q: %v", f, err))
		} else if _, err := os.Lstat(filepath.Join(out, filepath.FromSlash(f))); err != nil {
			problems = append(problems, fmt.Sprintf("Unpack listed %s, which is not in the output folder", f))
		}
	}
	var missing, differ []string
	for _, f := range c.goodFiles {
		want := filepath.Join(c.good.Dir, filepath.FromSlash(f))
		got := filepath.Join(out, filepath.FromSlash(f))
		switch same, why := sameFile(want, got); {
		case why == "missing":
			missing = append(missing, f)
		case !same:
			differ = append(differ, f+" ("+why+")")
		}
	}
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("not unpacked: %s", shortList(missing)))
	}
	if len(differ) > 0 {
		problems = append(problems, fmt.Sprintf("unpacked differently: %s", shortList(differ)))
	}
	if len(problems) > 0 {
		c.record(CheckRoundTrip, Fail, began, "packaging %s and unpacking it again did not give back its files: %s", c.good.Dir, strings.Join(problems, "; "))
		return
	}
	msg := fmt.Sprintf("all %d file(s) came back byte for byte", len(c.goodFiles))
	if _, err := os.Stat(filepath.Join(out, contrib.FileName)); err != nil {
		msg += "; note: tierpack.yaml was not unpacked, so a pulled folder cannot be pushed again as it is"
	}
	c.record(CheckRoundTrip, Pass, began, "%s", msg)
}

func shortList(s []string) string {
	if len(s) > maxListed {
		return strings.Join(s[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(s)-maxListed)
	}
	return strings.Join(s, ", ")
}

// sameFile compares a contribution file with its unpacked copy: content,
// link target, and the executable bit where the system has one.
func sameFile(want, got string) (bool, string) {
	gi, err := os.Lstat(got)
	if err != nil {
		return false, "missing"
	}
	wi, err := os.Lstat(want)
	if err != nil {
		return false, err.Error()
	}
	if wi.Mode().Type() != gi.Mode().Type() {
		return false, fmt.Sprintf("a %s, unpacked as a %s", kind(wi.Mode()), kind(gi.Mode()))
	}
	if wi.Mode()&fs.ModeSymlink != 0 {
		a, _ := os.Readlink(want)
		b, _ := os.Readlink(got)
		if a != b {
			return false, fmt.Sprintf("link to %s, unpacked as a link to %s", a, b)
		}
		return true, ""
	}
	a, err := os.ReadFile(want)
	if err != nil {
		return false, err.Error()
	}
	b, err := os.ReadFile(got)
	if err != nil {
		return false, err.Error()
	}
	if !bytes.Equal(a, b) {
		return false, fmt.Sprintf("content differs: %d bytes, unpacked %d", len(a), len(b))
	}
	if runtime.GOOS != "windows" && (wi.Mode()&0o111 != 0) != (gi.Mode()&0o111 != 0) {
		return false, fmt.Sprintf("mode %v, unpacked %v", wi.Mode().Perm(), gi.Mode().Perm())
	}
	return true, ""
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "folder"
	case m.IsRegular():
		return "file"
	}
	return m.Type().String()
}

func (c *checker) untouched() {
	if !c.needs(CheckUntouched, CheckValidateGood) {
		return
	}
	began := time.Now()
	if c.beforeTree == nil {
		c.record(CheckUntouched, Skip, began, "could not read %s before the checks", c.cfg.Good)
		return
	}
	after, err := snapshot(c.good.Dir)
	if err != nil {
		c.record(CheckUntouched, Fail, began, "%v", err)
		return
	}
	var changed []string
	for p, h := range after {
		if before, ok := c.beforeTree[p]; !ok {
			changed = append(changed, p+" (created)")
		} else if before != h {
			changed = append(changed, p+" (changed)")
		}
	}
	for p := range c.beforeTree {
		if _, ok := after[p]; !ok {
			changed = append(changed, p+" (removed)")
		}
	}
	if len(changed) > 0 {
		sort.Strings(changed)
		c.record(CheckUntouched, Fail, began, "the plugin changed the contribution folder %s: %s (write only into the staging or output folder the host names)", c.good.Dir, shortList(changed))
		return
	}
	c.record(CheckUntouched, Pass, began, "%d entries unchanged", len(after))
}

func (c *checker) checkStdout(began time.Time) {
	if !c.needs(CheckStdout, CheckHandshake) {
		return
	}
	out := c.stdout.String()
	if out == "" {
		c.record(CheckStdout, Pass, began, "nothing written to stdout")
		return
	}
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	if len(first) > 80 {
		first = first[:80] + "…"
	}
	c.record(CheckStdout, Fail, began, "the plugin wrote %d byte(s) to stdout after its handshake, starting %q: the host discards them; log with sdk.Logger() (stderr) instead", len(out), first)
}

// snapshot maps every entry below dir to its type, mode, modification time
// and content hash.
func snapshot(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		sig := fmt.Sprintf("%v %d", info.Mode(), info.ModTime().UnixNano())
		switch {
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			h, err := hashReader(f)
			f.Close()
			if err != nil {
				return err
			}
			sig += " " + h
		case info.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			sig += " -> " + t
		}
		out[filepath.ToSlash(rel)] = sig
		return nil
	})
	return out, err
}

// copyTree copies src to dst, keeping modes and symlinks, and sets every
// modification time to mtime.
func copyTree(src, dst string, mtime time.Time) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case info.IsDir():
			if err := os.MkdirAll(target, info.Mode().Perm()|0o700); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, target)
		case info.Mode().IsRegular():
			if err := copyFile(p, target, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil
		}
		return os.Chtimes(target, mtime, mtime)
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// lockedBuffer collects what go-plugin forwards from the plugin's stdout.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hashReader returns the hex sha256 of what r holds.
func hashReader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
