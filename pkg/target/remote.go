package target

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// RegistryClient returns the HTTP client tierpack talks to host with, and
// whether it talks plain HTTP: the settings of Options.Settings(host)
// (TLS roots, client certificate, verification), credentials from
// opts.CredentialStore, and errors that name the registry and say what to
// do (UnreachableError, TLSRequiredError, CertificateError,
// ClientCertError).
func RegistryClient(host string, opts Options) (remote.Client, bool, error) {
	store, err := opts.CredentialStore()
	if err != nil {
		return nil, false, err
	}
	return registryClient(host, opts, credentials.Credential(store))
}

func registryClient(host string, opts Options, cred auth.CredentialFunc) (remote.Client, bool, error) {
	s := opts.Settings(host)
	plain := usesPlainHTTP(host, s)
	base := opts.HTTPClient
	if base == nil {
		tc, err := tlsConfig(host, s)
		if err != nil {
			return nil, false, err
		}
		if s.Insecure && opts.Warn != nil {
			opts.Warn("warning: not verifying the TLS certificate of %s (insecure): anyone on the way can read and change what is sent\n", host)
		}
		base = newHTTPClient(opts.StallTimeout, tc)
	}
	client := &auth.Client{Client: base, Cache: auth.NewCache(), Credential: cred}
	if opts.UserAgent != "" {
		client.SetUserAgent(opts.UserAgent)
	}
	return &hintClient{Client: client, host: host}, plain, nil
}

// tlsConfig builds the TLS configuration s asks for; nil for the defaults.
func tlsConfig(host string, s RegistrySettings) (*tls.Config, error) {
	if !s.tls() {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.Insecure} //nolint:gosec // asked for, and warned about
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA file for %s: %w", host, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s for %s holds no PEM certificate", s.CAFile, host)
		}
		tc.RootCAs = pool
	}
	if s.CertFile != "" || s.KeyFile != "" {
		if s.CertFile == "" || s.KeyFile == "" {
			return nil, fmt.Errorf("a client certificate for %s needs both a certificate file and a key file", host)
		}
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate for %s (%s, %s): %w", host, s.CertFile, s.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// CredentialStore returns where credentials come from: Credentials, else
// the RegistryConfig file, else Docker's configuration; with Credential
// set, it answers for CredentialHosts first (see StaticCredentials).
func (o Options) CredentialStore() (credentials.Store, error) {
	store, err := o.SavedCredentials()
	if err != nil {
		return nil, err
	}
	if o.Credential != (auth.Credential{}) {
		store = StaticCredentials(store, o.Credential, o.CredentialHosts...)
	}
	return store, nil
}

// SavedCredentials returns the store login saves to and logout deletes
// from: Credentials, else the RegistryConfig file, else Docker's
// configuration.
func (o Options) SavedCredentials() (credentials.Store, error) {
	if o.Credentials != nil {
		return o.Credentials, nil
	}
	if o.RegistryConfig != "" {
		s, err := credentials.NewStore(o.RegistryConfig, credentials.StoreOptions{AllowPlaintextPut: true})
		if err != nil {
			return nil, fmt.Errorf("reading the registry config %s: %w (it is a Docker config.json)", o.RegistryConfig, err)
		}
		return s, nil
	}
	return DefaultCredentials()
}

// StaticCredentials returns a store that answers cred for hosts and asks
// next for any other host. Put and Delete go to next. It gives the
// credentials of one command (`-u USER --password-stdin`) without saving
// them.
func StaticCredentials(next credentials.Store, cred auth.Credential, hosts ...string) credentials.Store {
	return &staticStore{next: next, cred: cred, hosts: hosts}
}

type staticStore struct {
	next  credentials.Store
	cred  auth.Credential
	hosts []string
}

func (s *staticStore) Get(ctx context.Context, server string) (auth.Credential, error) {
	for _, h := range s.hosts {
		if server == h || server == credentials.ServerAddressFromRegistry(h) {
			return s.cred, nil
		}
	}
	return s.next.Get(ctx, server)
}

func (s *staticStore) Put(ctx context.Context, server string, cred auth.Credential) error {
	return s.next.Put(ctx, server, cred)
}

func (s *staticStore) Delete(ctx context.Context, server string) error {
	return s.next.Delete(ctx, server)
}

// hintClient turns transport failures into errors that name the registry
// and say what to do. It keeps what oras-go does for an *auth.Client (a
// manifest body held in memory so the request can be sent again after an
// auth challenge), since oras-go only does that itself for *auth.Client.
type hintClient struct {
	*auth.Client
	host string
}

// maxReplayBody bounds a manifest body held in memory for a replay (the
// manifest size limit oras-go applies when reading).
const maxReplayBody = 4 << 20

func (c *hintClient) Do(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && strings.Contains(req.URL.Path, "/manifests/") && req.GetBody == nil &&
		req.Body != nil && req.Body != http.NoBody && req.ContentLength >= 0 && req.ContentLength <= maxReplayBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxReplayBody+1))
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.Body, _ = req.GetBody()
	}
	resp, err := c.Client.Do(req)
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		return nil, &CredentialsRequiredError{Host: c.host, Err: &errcode.ErrorResponse{Method: req.Method, URL: req.URL, StatusCode: http.StatusUnauthorized}}
	}
	if err != nil {
		return nil, hint(req.URL.Host, err)
	}
	if req.URL.Scheme == "http" && resp.StatusCode == http.StatusBadRequest {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if speaksTLS(b) || (req.Method == http.MethodHead && c.probeTLS(req)) {
			return nil, &TLSRequiredError{Host: req.URL.Host}
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, nil
}

// speaksTLS reports whether a 400 answer's body says the server wanted
// TLS ("Client sent an HTTP request to an HTTPS server").
func speaksTLS(body []byte) bool {
	text := strings.ToLower(string(body))
	return strings.Contains(text, "https") || strings.Contains(text, "tls")
}

// probeTLS asks again with GET what a HEAD was refused with 400: a HEAD
// answer has no body to tell a TLS server's refusal by (a push starts
// with HEAD requests for its blobs).
func (c *hintClient) probeTLS(head *http.Request) bool {
	get, err := http.NewRequestWithContext(head.Context(), http.MethodGet, head.URL.String(), nil)
	if err != nil {
		return false
	}
	resp, err := c.Client.Do(get)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusBadRequest && speaksTLS(b)
}

// hint maps a transport error to one of the package's typed errors.
func hint(host string, err error) error {
	var (
		dns      *net.DNSError
		op       *net.OpError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		alert    tls.AlertError
	)
	switch {
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return &CertificateError{Host: host, Err: innermost(err)}
	case errors.As(err, &alert), strings.Contains(err.Error(), "remote error: tls:"):
		return &ClientCertError{Host: host, Err: innermost(err)}
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &PlainHTTPRequiredError{Host: host}
	case errors.As(err, &dns):
		return &UnreachableError{Host: host, Err: errors.New(dns.Err)}
	case errors.As(err, &op) && op.Op == "dial":
		cause := op.Err
		var errno syscall.Errno
		if errors.As(op.Err, &errno) {
			cause = errno
		}
		return &UnreachableError{Host: host, Err: cause}
	}
	return err
}

// innermost strips the url.Error and net.OpError wrappers that repeat the
// request URL and addresses.
func innermost(err error) error {
	for {
		switch e := err.(type) {
		case *url.Error:
			err = e.Err
		case *net.OpError:
			err = e.Err
		default:
			return err
		}
	}
}

// CredentialsRequiredError is a registry that asked for a user name and
// password tierpack has none for. It wraps a 401 *errcode.ErrorResponse,
// so callers treat it as any refused authentication.
type CredentialsRequiredError struct {
	Host string
	Err  error
}

// Error says what the registry wants.
func (e *CredentialsRequiredError) Error() string {
	return fmt.Sprintf("%s wants a user name and password and none is saved for it", e.Host)
}

// Unwrap returns the 401 answer.
func (e *CredentialsRequiredError) Unwrap() error { return e.Err }

// UnreachableError is a registry tierpack could not connect to at all.
type UnreachableError struct {
	// Host is the registry host[:port]; Err the cause ("no such host",
	// "connection refused").
	Host string
	Err  error
}

// Error names the registry and the cause.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach %s: %v (check the host name and port, and that the registry is up)", e.Host, e.Err)
}

// Unwrap returns the cause.
func (e *UnreachableError) Unwrap() error { return e.Err }

// TLSRequiredError is a registry that answered a plain-HTTP request with
// 400 because it speaks TLS (tierpack talks plain HTTP to loopback
// registries unless told otherwise).
type TLSRequiredError struct{ Host string }

// Error says what the registry answered.
func (e *TLSRequiredError) Error() string {
	return fmt.Sprintf("%s answered 400 Bad Request to plain HTTP: this registry speaks TLS", e.Host)
}

// PlainHTTPRequiredError is a registry that answered TLS with plain HTTP.
type PlainHTTPRequiredError struct{ Host string }

// Error says what the registry speaks.
func (e *PlainHTTPRequiredError) Error() string {
	return fmt.Sprintf("%s speaks plain HTTP, not TLS", e.Host)
}

// CertificateError is a registry certificate tierpack could not verify.
type CertificateError struct {
	Host string
	Err  error
}

// Error says which certificate and why.
func (e *CertificateError) Error() string {
	return fmt.Sprintf("cannot verify the TLS certificate of %s (%v)", e.Host, e.Err)
}

// Unwrap returns the cause.
func (e *CertificateError) Unwrap() error { return e.Err }

// ClientCertError is a registry that refused the TLS handshake, which
// registries requiring mutual TLS do without a valid client certificate.
type ClientCertError struct {
	Host string
	Err  error
}

// Error says what the registry refused.
func (e *ClientCertError) Error() string {
	return fmt.Sprintf("%s refused the TLS handshake (%v): it wants a client certificate it trusts", e.Host, e.Err)
}

// Unwrap returns the cause.
func (e *ClientCertError) Unwrap() error { return e.Err }
