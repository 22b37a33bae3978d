// Package plugin finds, starts and talks to tierpack's type plugins.
//
// Every contribution type is served by a plugin process speaking the
// tierpack.plugin.v1 gRPC protocol through hashicorp/go-plugin. Built-in
// types (script, chart, exporter) are served by the tierpack binary itself,
// re-executed with a hidden argument, so one `go install` gives a working
// tool while plugins still run out of process. Third-party plugins are
// executables named tierpack-plugin-<type> in the plugin directories.
//
// One directory may be managed (Options.ManagedDir): `tierpack plugin
// install` writes plugins there and pins each one's sha256 in the folder's
// lock file (LockFileName). Every binary in the managed folder must match
// its pin, or the Manager refuses to run it (ErrTampered) — also a binary
// that was copied there by hand and has no pin. The other directories are
// the user's own: their binaries run unpinned. A type that is installed
// and pinned is never shadowed: a binary of the same type in the user's
// directories is ignored, with a warning naming both (Options.Warn). And
// what runs is exactly what was checked: a pinned binary is copied, and
// hashed as it is copied, into a private folder, and the copy is executed,
// so swapping the installed file after the check changes nothing.
//
// Each Manager keeps what it needs on disk — plugins' unix sockets and the
// copies of pinned binaries — in one private folder of its own,
// $TMPDIR/tierpack-run-<pid>-*, removed by Close; the next Manager removes
// the folders of processes that were killed before they could. Plugins are
// started so that they die with their host (see sdk.Serve; on Linux also
// the kernel's parent-death signal).
//
// A Manager starts each plugin at most once, in its own process group, and
// Close stops every plugin it started and their child processes. Starting a
// binary and talking to it — the go-plugin configuration, the timeouts, and
// errors for go-plugin's failure modes (a crash, a hang, a binary that is not
// a plugin or that writes to stdout before its handshake, a protocol version
// mismatch) that say what happened and what to do — is package sdk/host's,
// which sdk/plugintest uses too, so plugin authors test against the host's
// own behaviour. This package adds discovery, built-ins, pins and the
// managed folder.
package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/host"
)

// BuiltinArg is the hidden first argument with which the tierpack binary
// serves one of its built-in plugins: `tierpack __plugin script`.
const BuiltinArg = "__plugin"

// DirEnv names an extra plugin directory, searched before the user's.
const DirEnv = "TIERPACK_PLUGINS_DIR"

// Sentinel errors, wrapped by the errors the Manager returns besides those
// of package sdk/host, which starts the plugins (host.ErrNotFound,
// host.ErrTimeout, host.ErrCrashed, host.ErrHandshake, host.ErrProtocol).
var (
	// ErrTampered: a binary in the managed plugin folder does not match the
	// sha256 pinned when it was installed, or was never installed there.
	ErrTampered = errors.New("plugin binary is not the one installed")
)

// Source says where a plugin comes from.
type Source struct {
	// Type is the contribution type, from the file name or the built-in
	// table; Describe confirms it.
	Type string `json:"type"`
	// Path is the executable.
	Path string `json:"path"`
	// Args are passed to it (the hidden argument for built-ins).
	Args []string `json:"-"`
	// Builtin is true for types served by the tierpack binary itself.
	Builtin bool `json:"builtin"`
	// Shadowed lists third-party binaries for the same type that were not
	// used, so `plugin list` can say so.
	Shadowed []string `json:"shadowed,omitempty"`
	// Managed is true for a binary in Options.ManagedDir: it must match Pin.
	Managed bool `json:"managed,omitempty"`
	// Pin is the lock file entry of a managed binary; nil when it has none.
	Pin *Pin `json:"pin,omitempty"`
}

// Options configure a Manager. The zero value of each field has the
// documented default.
type Options struct {
	// Self is the path of the tierpack executable that serves the
	// built-ins; empty means os.Executable().
	Self string
	// Builtins lists the built-in types; nil means none.
	Builtins []string
	// Dirs are searched in order for tierpack-plugin-<type> executables,
	// which run unpinned; nil means none.
	Dirs []string
	// ManagedDir is searched after Dirs. It is the folder `tierpack plugin
	// install` writes to: a binary there runs only if it matches its pin in
	// ManagedDir's lock file (ErrTampered otherwise). Empty means none.
	ManagedDir string
	// StartTimeout bounds exec plus handshake; zero means host.DefaultStartTimeout.
	StartTimeout time.Duration
	// CallTimeout bounds each Validate, Package or Unpack call; zero means
	// host.DefaultCallTimeout. Describe gets StartTimeout.
	CallTimeout time.Duration
	// LogLevel for plugin log lines ("debug", "info", "warn", "error");
	// empty means "warn".
	LogLevel string
	// Reattach maps a type to a plugin already running in debug mode; nil
	// means read sdk.ReattachEnv.
	Reattach map[string]sdk.ReattachInfo
	// Stdout receives what plugins write to their standard output once
	// they serve (go-plugin forwards it); nil discards it. Stdout is no
	// channel for plugin output — a conformance check sets this to catch
	// plugins that use it anyway.
	Stdout io.Writer
	// LogOutput receives plugins' log lines (see host.Config.LogOutput);
	// nil means os.Stderr.
	LogOutput io.Writer
	// Warn receives warnings, e.g. that a binary in Dirs is ignored because
	// its type is installed and pinned; nil writes them to os.Stderr.
	Warn func(msg string)
	// NoSandbox runs plugins unconfined (host.Sandbox); only tests of the
	// sandbox itself and debugging want it.
	NoSandbox bool
	// RequireSandbox refuses to start a third-party plugin where the system
	// cannot confine it (no Landlock), instead of running it unconfined.
	// Built-in plugins, which are tierpack's own code, still run.
	RequireSandbox bool
	// Env are environment variables ("NAME=value") every plugin gets beyond
	// host.EnvAllowList; the host's own environment never reaches one.
	Env []string
	// Companions are types whose plugins ship with tierpack as binaries of
	// their own (chart): they are found only in CompanionDir or installed
	// and pinned in ManagedDir, never in another of Dirs, so a binary
	// dropped in $TIERPACK_PLUGINS_DIR cannot stand in for one.
	Companions []string
	// CompanionDir is the folder of the running tierpack executable, its
	// symlinks resolved.
	CompanionDir string
	// Grant is what every plugin may read and write besides its own folder
	// and what GetFor's Access names: nothing, unless a test records pids
	// in a folder of its own.
	Grant Access
}

// Access is what a plugin started for one use may read and write besides
// its own folder: the contribution it validates and packages, the blobs it
// unpacks, and the staging or output folder it writes (host.Sandbox).
type Access struct {
	Read  []string
	Write []string
}

// key identifies an Access, for keeping one started plugin per type and
// Access.
func (a Access) key() string {
	return strings.Join(a.Read, "\x00") + "\x01" + strings.Join(a.Write, "\x00")
}

// RunDirPrefix starts the name of each Manager's private folder in the
// system's temporary folder: RunDirPrefix<pid>-….
const RunDirPrefix = "tierpack-run-"

// Manager starts plugins on demand and stops them all on Close. It is safe
// for concurrent use.
type Manager struct {
	opts Options

	mu      sync.Mutex
	started map[string]*Plugin
	// extra are plugins started with StartBinary.
	extra   []*Plugin
	sources map[string]Source
	// lockErr is why the managed folder's lock file could not be read; its
	// binaries are refused then.
	lockErr error
	closed  bool
	// closing is set when Close begins: the marked processes of every
	// plugin are then ended once, after all have stopped, not once per
	// plugin (each a scan of /proc).
	closing atomic.Bool
	// runDir is the private folder for sockets and pinned copies, made on
	// first start.
	runDir string
	// warned lists the types whose shadowing was warned about.
	warned map[string]bool
	// plugins counts the plugin folders made in runDir.
	plugins int
	// cleaned is closed when the cleanup of what killed hosts left is
	// done; it runs beside the command, which waits for it before its
	// first plugin starts and in Close.
	cleaned chan struct{}
}

// NewManager returns a Manager; it starts nothing until Get.
func NewManager(opts Options) (*Manager, error) {
	if opts.Self == "" && len(opts.Builtins) > 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the tierpack executable to serve built-in plugins: %w", err)
		}
		opts.Self = self
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = host.DefaultStartTimeout
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = host.DefaultCallTimeout
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	if opts.Reattach == nil {
		r, err := host.ReattachFromEnv()
		if err != nil {
			return nil, err
		}
		opts.Reattach = r
	}
	if opts.Warn == nil {
		opts.Warn = func(msg string) { fmt.Fprintln(os.Stderr, "tierpack: warning:", msg) }
	}
	becomeSubreaper()
	// What killed hosts left — their plugins' descendants, sockets and
	// pinned copies — runs beside the command, which need not wait for it
	// unless it starts a plugin. A killed host leaves its run folder in
	// TMPDIR, and its plugins' descendants are marked with it, so every
	// process's environment is read (a millisecond or two) only when such
	// a folder is there. (Descendants of a host killed under another
	// TMPDIR are reaped by the next tierpack run with that TMPDIR.)
	cleaned := make(chan struct{})
	go func() {
		defer close(cleaned)
		if home.HasStale(os.TempDir(), RunDirPrefix) {
			reapStale()
			home.RemoveStale(os.TempDir(), RunDirPrefix)
		}
	}()
	return &Manager{opts: opts, started: map[string]*Plugin{}, warned: map[string]bool{}, cleaned: cleaned}, nil
}

// ensureRunDir makes the Manager's private folder (NewManager has removed
// those of processes that no longer run). Called with m.mu held.
func (m *Manager) ensureRunDir() (string, error) {
	if m.runDir != "" {
		return m.runDir, nil
	}
	<-m.cleaned
	// Short names (tierpack-run-PID-N): a plugin's unix socket is made in
	// a folder in here, and a socket's path may not exceed 107 bytes.
	var dir string
	var err error
	for range 100 {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-%d", RunDirPrefix, os.Getpid(), runDirs.Add(1)))
		if err = os.Mkdir(dir, 0o700); !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("creating a private folder for plugins: %w (set TMPDIR to a writable folder)", err)
	}
	m.runDir = dir
	return dir, nil
}

// runDirs numbers the run folders of this process's Managers.
var runDirs atomic.Int64

// ownDir makes a plugin's own folder in the run folder: a short name, 1,
// 2, … (see ensureRunDir). Called with m.mu held.
func (m *Manager) ownDir(run string) (string, error) {
	for {
		m.plugins++
		dir := filepath.Join(run, strconv.Itoa(m.plugins))
		if err := os.Mkdir(dir, 0o700); !errors.Is(err, fs.ErrExist) {
			return dir, err
		}
	}
}

// Dirs returns the directories searched for third-party plugins, the
// managed one last.
func (m *Manager) Dirs() []string {
	dirs := slices.Clone(m.opts.Dirs)
	if m.opts.ManagedDir != "" {
		dirs = append(dirs, m.opts.ManagedDir)
	}
	return dirs
}

// ManagedDir returns Options.ManagedDir.
func (m *Manager) ManagedDir() string { return m.opts.ManagedDir }

// Lookup returns where the plugin for typ would come from, without starting
// it; false for an unknown type and for a plugin attached in debug mode
// (whose code can change under the same path).
func (m *Manager) Lookup(typ string) (Source, bool) {
	if _, ok := m.opts.Reattach[typ]; ok {
		return Source{}, false
	}
	srcs, err := m.discover()
	if err != nil {
		return Source{}, false
	}
	s, ok := srcs[typ]
	return s, ok
}

// Sources lists every plugin the Manager can start, by type.
func (m *Manager) Sources() ([]Source, error) {
	srcs, err := m.discover()
	if err != nil {
		return nil, err
	}
	out := make([]Source, 0, len(srcs))
	for _, s := range srcs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out, nil
}

func (m *Manager) discover() (map[string]Source, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sources != nil {
		return m.sources, nil
	}
	srcs := map[string]Source{}
	for _, t := range m.opts.Builtins {
		srcs[t] = Source{Type: t, Path: m.opts.Self, Args: []string{BuiltinArg, t}, Builtin: true}
	}
	var lock *Lock
	if m.opts.ManagedDir != "" {
		lock, m.lockErr = ReadLock(m.opts.ManagedDir)
	}
	for _, dir := range m.Dirs() {
		managed := dir == m.opts.ManagedDir && m.opts.ManagedDir != ""
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("reading plugin directory: %w", err)
		}
		for _, e := range entries {
			typ, ok := host.TypeFromBinaryName(e.Name())
			if !ok || e.IsDir() {
				continue
			}
			p := filepath.Join(dir, e.Name())
			if slices.Contains(m.opts.Companions, typ) && !managed && dir != m.opts.CompanionDir {
				continue // see Options.Companions
			}
			s := Source{Type: typ, Path: p, Managed: managed}
			if managed && lock != nil {
				if pin, ok := lock.Plugins[typ]; ok {
					s.Pin = &pin
				}
			}
			if prev, dup := srcs[typ]; dup {
				if s.Pin != nil && !prev.Builtin {
					// Installed and pinned: a binary of the same type in the
					// user's directories must not silently replace it.
					s.Shadowed = append([]string{prev.Path}, prev.Shadowed...)
					srcs[typ] = s
					continue
				}
				// Built-ins and earlier directories win: a binary dropped in a
				// later directory must not silently replace a trusted one.
				prev.Shadowed = append(prev.Shadowed, p)
				srcs[typ] = prev
				continue
			}
			srcs[typ] = s
		}
	}
	m.sources = srcs
	return srcs, nil
}

// Get returns the running plugin for typ, starting it on first use, with
// no access beyond its own folder: enough to Describe, not to read a
// contribution or write output (GetFor).
func (m *Manager) Get(ctx context.Context, typ string) (*Plugin, error) {
	return m.GetFor(ctx, typ, Access{})
}

// GetFor returns the running plugin for typ that may read and write what
// access names, starting it on first use: a sandboxed plugin's rights are
// fixed when it starts, so another Access starts another process.
func (m *Manager) GetFor(ctx context.Context, typ string, access Access) (*Plugin, error) {
	key := typ + "\x02" + access.key()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("plugin manager is closed")
	}
	if p, ok := m.started[key]; ok {
		m.mu.Unlock()
		return p, nil
	}
	m.mu.Unlock()

	var src Source
	if r, ok := m.opts.Reattach[typ]; ok {
		src = Source{Type: typ, Path: fmt.Sprintf("reattach pid %d", r.Pid)}
	} else {
		srcs, err := m.discover()
		if err != nil {
			return nil, err
		}
		s, ok := srcs[typ]
		if !ok {
			return nil, m.notFound(typ, srcs)
		}
		src = s
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed { // closed concurrently: a plugin started now would never be stopped
		return nil, errors.New("plugin manager is closed")
	}
	if p, ok := m.started[key]; ok { // started concurrently
		return p, nil
	}
	p, err := m.start(ctx, src, true, access)
	if err != nil {
		return nil, err
	}
	m.started[key] = p
	return p, nil
}

// StartBinary starts the plugin executable at path, whatever its name and
// wherever it is, without consulting the plugin directories or pins, and
// returns it running: for checking or installing a binary before it is a
// discovered plugin. Its Source.Type is what its Describe says. The Manager
// stops it on Close; Get does not return it.
func (m *Manager) StartBinary(ctx context.Context, path string) (*Plugin, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(filepath.Base(abs), ".exe")
	if typ, ok := host.TypeFromBinaryName(filepath.Base(abs)); ok {
		name = typ
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("plugin manager is closed")
	}
	p, err := m.start(ctx, Source{Type: name, Path: abs}, false, Access{})
	if err != nil {
		return nil, err
	}
	p.Source.Type = p.Description.Type
	m.extra = append(m.extra, p)
	return p, nil
}

func (m *Manager) notFound(typ string, srcs map[string]Source) error {
	var have []string
	for t := range srcs {
		have = append(have, t)
	}
	sort.Strings(have)
	avail := strings.Join(have, ", ")
	if avail == "" {
		avail = "none"
	}
	where := "no plugin directories are configured"
	if dirs := m.Dirs(); len(dirs) > 0 {
		where = "looked for " + host.BinaryPrefix + typ + " in " + strings.Join(dirs, ", ")
	}
	return &TypeNotFoundError{Type: typ, msg: fmt.Sprintf("%v %q: %s; available types: %s", host.ErrNotFound, typ, where, avail)}
}

// pinnedCopy copies a managed binary into the Manager's private folder,
// hashing exactly the bytes it copies, and returns the copy's path if they
// match the pin; it refuses a binary that does not match. The copy, not the
// installed file, is executed: a file swapped or rewritten after the check
// never runs. Called with m.mu held.
func (m *Manager) pinnedCopy(src Source) (string, error) {
	if m.lockErr != nil {
		return "", fmt.Errorf("%w: plugin %q (%s) cannot be checked against its pin: %v", ErrTampered, src.Type, src.Path, m.lockErr)
	}
	if src.Pin == nil {
		return "", &TamperedError{Type: src.Type, msg: fmt.Sprintf("%v: plugin %q (%s) is in tierpack's managed plugin folder but not in its %s, so tierpack cannot tell it is what was installed",
			ErrTampered, src.Type, src.Path, LockFileName)}
	}
	dir, err := m.ensureRunDir()
	if err != nil {
		return "", err
	}
	dst, sum, err := copyHashed(src.Path, dir, BinaryName(src.Type))
	if err != nil {
		return "", fmt.Errorf("%w: plugin %q (%s): %v", ErrTampered, src.Type, src.Path, err)
	}
	if testHookAfterPinCheck != nil {
		testHookAfterPinCheck(src)
	}
	if sum != src.Pin.SHA256 {
		os.Remove(dst)
		return "", &TamperedError{Type: src.Type, Reinstall: trimTag(src.Pin.Source) + "@" + src.Pin.Digest,
			msg: fmt.Sprintf("%v: plugin %q (%s) has sha256 %s, but %s was pinned when it was installed from %s: the binary was modified or replaced since",
				ErrTampered, src.Type, src.Path, short(sum), short(src.Pin.SHA256), src.Pin.Source)}
	}
	return dst, nil
}

// testHookAfterPinCheck, set by tests, runs between a pinned binary's
// check and its start: where a swap used to win the race.
var testHookAfterPinCheck func(Source)

// copyHashed copies the file at path, read once, to a new read-only file
// named name in a fresh folder inside dir, and returns the copy's path and
// the hex sha256 of what it copied.
func copyHashed(path, dir, name string) (dst, sum string, err error) {
	in, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer in.Close()
	sub, err := os.MkdirTemp(dir, "bin-")
	if err != nil {
		return "", "", err
	}
	dst = filepath.Join(sub, name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o700)
	if err != nil {
		return "", "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(dst, 0o500)
	}
	if err != nil {
		os.RemoveAll(sub)
		return "", "", err
	}
	return dst, hex.EncodeToString(h.Sum(nil)), nil
}

// short abbreviates a hex digest for messages.
func short(hex string) string {
	if len(hex) > 16 {
		return hex[:16] + "…"
	}
	return hex
}

// trimTag removes a tag or digest from a registry reference, for suggesting
// REF@DIGEST.
func trimTag(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

// start starts the plugin src names, confined to its own folder and
// access. Called with m.mu held.
func (m *Manager) start(ctx context.Context, src Source, checkType bool, access Access) (*Plugin, error) {
	path := src.Path
	if src.Managed {
		copied, err := m.pinnedCopy(src)
		if err != nil {
			return nil, err
		}
		path = copied
		if len(src.Shadowed) > 0 && !m.warned[src.Type] {
			m.warned[src.Type] = true
			m.opts.Warn(fmt.Sprintf("plugin %q: using the installed, pinned %s and ignoring %s (remove that file, or remove the installed plugin to use it instead)",
				src.Type, src.Path, strings.Join(src.Shadowed, ", ")))
		}
	}
	var sandbox *host.Sandbox
	if _, reattach := m.opts.Reattach[src.Type]; !reattach {
		run, err := m.ensureRunDir()
		if err != nil {
			return nil, err
		}
		// The plugin's own folder, for its socket, HOME and TMPDIR: never
		// the run folder itself, which holds the pinned binaries.
		own, err := m.ownDir(run)
		if err != nil {
			return nil, fmt.Errorf("creating a folder for plugin %q: %w", src.Type, err)
		}
		sandbox = &host.Sandbox{Dir: own, Read: slices.Concat(access.Read, m.opts.Grant.Read), Write: slices.Concat(access.Write, m.opts.Grant.Write),
			Require: m.opts.RequireSandbox && !src.Builtin}
	}
	mark := "" // the plugin's own folder marks its processes
	if sandbox != nil {
		mark = sandbox.Dir
	}
	cfg := host.Config{
		Name:         src.Name(),
		Type:         src.Type,
		Path:         path,
		Sandbox:      sandbox,
		SocketDir:    runDirOf(sandbox),
		Env:          append(slices.Clip(m.opts.Env), RunEnv+"="+mark),
		Args:         src.Args,
		StartTimeout: m.opts.StartTimeout,
		CallTimeout:  m.opts.CallTimeout,
		LogLevel:     m.opts.LogLevel,
		LogOutput:    m.opts.LogOutput,
		Stdout:       m.opts.Stdout,
		Prepare:      setProcessGroup,
		// setProcessGroup makes the plugin's pid its process group's id;
		// what left the group is found by its mark.
		StopChildren: func(pid int) {
			killGroup(pid)
			if !m.closing.Load() {
				killMarked(mark)
			}
		},
	}
	if r, ok := m.opts.Reattach[src.Type]; ok {
		cfg.Reattach = &r
	}
	if m.opts.NoSandbox && cfg.Sandbox != nil {
		if cfg.Sandbox.Require {
			return nil, fmt.Errorf("%w: %s: plugins run unconfined here (the sandbox is off), and third-party plugins must be confined (requireSandbox)", host.ErrNoSandbox, src.Name())
		}
		cfg.Sandbox = nil
	}
	h, err := host.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := &Plugin{Source: src, Description: h.Describe(), h: h}
	if d := h.Describe(); checkType && d.Type != src.Type {
		h.Kill()
		if src.Builtin {
			return nil, fmt.Errorf("%w: %s describes itself as type %q: this tierpack build is broken, please report it",
				host.ErrHandshake, src.Name(), d.Type)
		}
		return nil, fmt.Errorf("%w: %s describes itself as type %q, not %q: rename the binary %s%s",
			host.ErrHandshake, src.Name(), d.Type, src.Type, host.BinaryPrefix, d.Type)
	}
	return p, nil
}

// runDirOf is the folder a plugin's socket folder is made in: the run
// folder, a short path (a unix socket's path is limited to 107 bytes).
func runDirOf(sb *host.Sandbox) string {
	if sb == nil {
		return ""
	}
	return filepath.Dir(sb.Dir)
}

// Close stops every plugin the Manager started and waits for them to exit.
func (m *Manager) Close() {
	m.closing.Store(true)
	m.mu.Lock()
	m.closed = true
	ps := make([]*Plugin, 0, len(m.started)+len(m.extra))
	for _, p := range m.started {
		ps = append(ps, p)
	}
	ps = append(ps, m.extra...)
	m.started = map[string]*Plugin{}
	m.extra = nil
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.h.Stop() }()
	}
	wg.Wait()
	m.mu.Lock()
	dir := m.runDir
	m.runDir = ""
	m.mu.Unlock()
	if dir != "" {
		killMarked(dir)
		os.RemoveAll(dir)
	}
	<-m.cleaned
}

// TypeNotFoundError is a contribution type no plugin serves; it wraps
// host.ErrNotFound.
type TypeNotFoundError struct {
	Type string
	msg  string
}

func (e *TypeNotFoundError) Error() string { return e.msg }

// Unwrap returns host.ErrNotFound.
func (e *TypeNotFoundError) Unwrap() error { return host.ErrNotFound }

// TamperedError is a managed plugin that does not match its pin, or has
// none; it wraps ErrTampered. Reinstall is the reference it was installed
// from, pinned to its digest ("" when it has no pin).
type TamperedError struct {
	Type, Reinstall string
	msg             string
}

func (e *TamperedError) Error() string { return e.msg }

// Unwrap returns ErrTampered.
func (e *TamperedError) Unwrap() error { return ErrTampered }
