package registrytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	"golang.org/x/crypto/bcrypt"

	// Registers the "htpasswd" access controller used by WithBasicAuth.
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	// Registers the "filesystem" storage driver.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

// Realm is the realm of the Basic auth challenge sent by a registry started
// with [WithBasicAuth]: `WWW-Authenticate: Basic realm="registrytest"`.
const Realm = "registrytest"

// Registry is a running in-process Distribution registry. Create one with
// [New]; it is shut down automatically when the test ends.
//
// Its methods are safe for concurrent use.
type Registry struct {
	// Host is the registry's address as "127.0.0.1:PORT", the form used as the
	// registry part of an image reference.
	Host string
	// URL is the base URL of the registry, "http://127.0.0.1:PORT" (plain
	// HTTP; clients must be told to use it, e.g. oras-go's PlainHTTP).
	URL string
	// StorageDir is the root directory of the filesystem storage driver.
	// Blob data lives under StorageDir/docker/registry/v2/blobs.
	StorageDir string
	// Username is the user of the first [WithBasicAuth] option, or "" when
	// auth is disabled.
	Username string
	// Password is the password of the first [WithBasicAuth] option, or "".
	Password string
	// CAFile is the PEM file of the certificate authority that signed the
	// registry's certificate ([WithTLS], [WithMutualTLS]), or "".
	CAFile string
	// ClientCertFile and ClientKeyFile are a client certificate signed by
	// that CA and its key, which a registry started with [WithMutualTLS]
	// requires; "" otherwise.
	ClientCertFile, ClientKeyFile string

	tb     testing.TB
	app    *handlers.App
	server *httptest.Server
	port   string
	debug  bool

	mu       sync.Mutex // guards stats and requests
	stats    Stats
	requests []Request

	logMu     sync.Mutex // guards logClosed and serialises calls to tb.Logf
	logClosed bool

	closeOnce sync.Once
}

// Option configures a registry started by [New].
type Option func(*options)

type options struct {
	users    [][2]string
	wrappers []func(http.Handler) http.Handler
	configs  []func(*configuration.Configuration)
	debugLog bool
	tls      bool
	mtls     bool
	addr     string
}

// WithBasicAuth enables Distribution's htpasswd access controller with a
// bcrypt htpasswd file holding user and password, so every API request
// without valid credentials gets 401 with `WWW-Authenticate: Basic
// realm="registrytest"`. It may be given more than once to add more users;
// [Registry.Username] and [Registry.Password] report the first.
//
// The user must be non-empty and must not contain ':'.
func WithBasicAuth(user, password string) Option {
	return func(o *options) { o.users = append(o.users, [2]string{user, password}) }
}

// WithHandlerWrapper puts wrap's handler in front of the registry: the test
// server serves wrap(registry). It is meant for fault injection (delays,
// dropped connections, injected 5xx). Given more than once, the wrapper of
// the last option is outermost.
//
// Request counting sits between the wrappers and Distribution, so
// [Registry.Stats] counts only requests the wrappers passed on to the
// registry.
func WithHandlerWrapper(wrap func(http.Handler) http.Handler) Option {
	return func(o *options) { o.wrappers = append(o.wrappers, wrap) }
}

// WithConfig lets a test adjust the Distribution configuration after the
// defaults (filesystem storage, deletes enabled, auth if requested) are set
// and before the registry is created, e.g. to turn on read-only maintenance
// mode. Changing the storage driver is possible but the point of this package
// is the filesystem driver.
func WithConfig(fn func(*configuration.Configuration)) Option {
	return func(o *options) { o.configs = append(o.configs, fn) }
}

// WithAddr listens on addr (such as 127.0.0.1:5000, the address the README
// uses) instead of a random loopback port; New fails the test if it is taken.
func WithAddr(addr string) Option { return func(o *options) { o.addr = addr } }

// WithDebugLog sends every log entry Distribution writes while serving this
// registry's requests, down to debug level, to t.Log. Without it only
// server-side errors are logged (see [New]).
func WithDebugLog() Option {
	return func(o *options) { o.debugLog = true }
}

// New starts a real Distribution registry for the test and returns it. It is
// stopped with t.Cleanup.
//
// The registry listens on 127.0.0.1 with a random port over plain HTTP
// (HTTPS with [WithTLS] or [WithMutualTLS]) and
// stores data with the "filesystem" driver in a directory from t.TempDir.
// Deletes are enabled, the upload purger is off and blob descriptors are
// cached in memory, as in Distribution's default config.
//
// Distribution logs through the logrus standard logger (its internal
// dcontext package wraps it; no per-app logger can be injected). The first
// call to New therefore sends that logger's output to io.Discard and sets its
// level to error for the whole test binary, and installs a hook that routes
// entries to the registry whose requests produced them. For each registry only
// server-side errors reach t.Log; the error entries Distribution writes for
// every 4xx answer (e.g. a 404 on a blob existence check, a 401 challenge) are
// dropped as normal protocol traffic. Use [WithDebugLog] to see everything.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	reg := &Registry{
		tb:         t,
		StorageDir: t.TempDir(),
		debug:      o.debugLog,
	}

	config := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": reg.StorageDir},
			"delete":     configuration.Parameters{"enabled": true},
			"cache":      configuration.Parameters{"blobdescriptor": "inmemory"},
			"maintenance": configuration.Parameters{
				"uploadpurging": map[any]any{"enabled": false},
			},
		},
	}
	// Only read by Distribution's main package; set for anyone inspecting
	// the config via WithConfig.
	config.Log.Level = "error"
	config.Log.AccessLog.Disabled = true
	// A fixed secret avoids NewApp's "No HTTP secret provided" warning.
	config.HTTP.Secret = randomHex(t, 32)

	if len(o.users) > 0 {
		reg.Username, reg.Password = o.users[0][0], o.users[0][1]
		path := writeHtpasswd(t, o.users)
		config.Auth = configuration.Auth{
			"htpasswd": configuration.Parameters{"realm": Realm, "path": path},
		}
	}
	for _, fn := range o.configs {
		fn(config)
	}

	addr := "127.0.0.1:0"
	if o.addr != "" {
		addr = o.addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("registrytest: listen: %v", err)
	}
	_, reg.port, _ = net.SplitHostPort(ln.Addr().String())
	reg.Host = "127.0.0.1:" + reg.port
	reg.URL = "http://" + reg.Host

	// Route logs before NewApp so its own errors are visible too.
	attachLogs(reg)

	reg.app, err = newApp(config)
	if err != nil {
		ln.Close()
		detachLogs(reg)
		t.Fatalf("registrytest: %v", err)
	}

	reg.serve(t, ln, reg.record(reg.app), o)
	return reg
}

// serve wraps h in the options' wrappers and serves it on ln, over TLS
// (mutual with WithMutualTLS) when asked, until the test ends.
func (reg *Registry) serve(t testing.TB, ln net.Listener, h http.Handler, o options) {
	for _, wrap := range o.wrappers {
		h = wrap(h)
	}
	reg.server = &httptest.Server{
		Listener: ln,
		Config: &http.Server{
			Handler:  h,
			ErrorLog: log.New(logWriter{reg}, "net/http: ", 0),
		},
	}
	if o.tls {
		reg.server.TLS = serverTLS(t, reg, o.mtls)
		reg.URL = "https://" + reg.Host
		reg.server.StartTLS()
	} else {
		reg.server.Start()
	}
	t.Cleanup(reg.Close)
}

// newApp calls handlers.NewApp, which reports configuration errors by
// panicking, and turns such a panic into an error.
func newApp(config *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("distribution rejected the configuration: %v", r)
		}
	}()
	return handlers.NewApp(context.Background(), config), nil
}

// Ref returns an image reference to repo in this registry:
// "127.0.0.1:PORT/repo:tag". If tag looks like a digest ("sha256:...") the
// reference is "127.0.0.1:PORT/repo@tag"; if tag is empty it is
// "127.0.0.1:PORT/repo".
func (reg *Registry) Ref(repo, tag string) string {
	switch {
	case tag == "":
		return reg.Host + "/" + repo
	case strings.Contains(tag, ":"):
		return reg.Host + "/" + repo + "@" + tag
	default:
		return reg.Host + "/" + repo + ":" + tag
	}
}

// Close stops the registry: it drops open client connections, waits for
// in-flight handlers to return and shuts the application down. It is called
// automatically by t.Cleanup; calling it earlier (e.g. to simulate the
// registry going away) is allowed, and further calls do nothing.
func (reg *Registry) Close() {
	reg.closeOnce.Do(func() {
		reg.server.CloseClientConnections()
		reg.server.Close()
		if reg.app != nil { // nil for NewGGCR's registry
			if err := reg.app.Shutdown(); err != nil {
				reg.logf("registrytest: shutdown: %v", err)
			}
		}
		detachLogs(reg)
	})
}

// logf writes to the test log unless the registry has been closed, after
// which the test may have finished and t.Logf would panic.
func (reg *Registry) logf(format string, args ...any) {
	reg.logMu.Lock()
	defer reg.logMu.Unlock()
	if reg.logClosed {
		return
	}
	reg.tb.Logf(format, args...)
}

// logWriter adapts Registry.logf to the io.Writer of net/http's ErrorLog.
type logWriter struct{ reg *Registry }

func (w logWriter) Write(p []byte) (int, error) {
	w.reg.logf("registrytest %s: %s", w.reg.Host, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// writeHtpasswd writes a bcrypt htpasswd file for users into a temp dir and
// returns its path.
func writeHtpasswd(t testing.TB, users [][2]string) string {
	t.Helper()
	var b strings.Builder
	for _, u := range users {
		if u[0] == "" || strings.ContainsAny(u[0], ":\n") {
			t.Fatalf("registrytest: WithBasicAuth: invalid user name %q", u[0])
		}
		// Distribution checks the bcrypt hash on every request, so use the
		// minimum cost: at the default cost each request would take ~50ms.
		hash, err := bcrypt.GenerateFromPassword([]byte(u[1]), bcrypt.MinCost)
		if err != nil {
			t.Fatalf("registrytest: WithBasicAuth: %v", err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u[0], hash)
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return path
}

func randomHex(t testing.TB, n int) string {
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	return hex.EncodeToString(buf)
}
