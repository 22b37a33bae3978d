package target

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Registries holds per-registry settings by host[:port], as read from
// $TIERPACK_HOME/registries.yaml (home.RegistriesFile) by LoadRegistries:
//
//	registries:
//	  127.0.0.1:5443:
//	    ca-file: certs/ca.pem        # trust this CA (relative to the file's folder)
//	    cert-file: certs/client.pem  # client certificate for mutual TLS
//	    key-file: certs/client.key   # and its key
//	  registry.internal:5000:
//	    plain-http: true             # no TLS at all
//	  lab.example:443:
//	    insecure: true               # TLS without verifying the certificate
//	  ghcr.io:
//	    mirror: mirror.example:5000  # read (pull, inspect, ...) from here instead
//
// Command-line flags override the file.
type Registries map[string]RegistrySettings

// RegistrySettings are how tierpack talks to one registry.
type RegistrySettings struct {
	// PlainHTTP, when set, says whether to talk plain HTTP (true) or HTTPS
	// (false). Unset, loopback registries get plain HTTP unless a TLS
	// setting below is given, and others HTTPS.
	PlainHTTP *bool `yaml:"plain-http,omitempty" json:"plainHTTP,omitempty"`
	// CAFile is a PEM file of certificate authorities trusted for the
	// registry's certificate, besides the system's.
	CAFile string `yaml:"ca-file,omitempty" json:"caFile,omitempty"`
	// Insecure skips verifying the registry's certificate.
	Insecure bool `yaml:"insecure,omitempty" json:"insecure,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// registries that ask for one (mutual TLS).
	CertFile string `yaml:"cert-file,omitempty" json:"certFile,omitempty"`
	KeyFile  string `yaml:"key-file,omitempty" json:"keyFile,omitempty"`
	// Mirror is another registry host[:port] that reads of this registry's
	// repositories go to (same repository path), or oci:/PATH of a mirror
	// bundle (see BundleFile); writes still go here.
	// Open only chooses it: the use cases (pkg/tierpack) fall back to this
	// registry when the mirror cannot serve a reference.
	Mirror string `yaml:"mirror,omitempty" json:"mirror,omitempty"`
}

// tls reports whether any TLS setting is given.
func (s RegistrySettings) tls() bool {
	return s.CAFile != "" || s.Insecure || s.CertFile != "" || s.KeyFile != ""
}

// registriesFile is the file's shape.
type registriesFile struct {
	Registries Registries `yaml:"registries"`
}

// LoadRegistries reads a registries file; a missing file holds no
// settings. Relative paths in it are relative to the file's folder.
func LoadRegistries(path string) (Registries, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading registry settings: %w", err)
	}
	var f registriesFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %v (the format is `registries: {HOST[:PORT]: {plain-http, ca-file, insecure, cert-file, key-file, mirror}}`)",
			path, err)
	}
	dir := filepath.Dir(path)
	for host, s := range f.Registries {
		if strings.ContainsAny(host, "/ ") || host == "" {
			return nil, fmt.Errorf("%s: %q is not a registry host[:port] (write it as in a reference, e.g. ghcr.io or 127.0.0.1:5000)", path, host)
		}
		for _, p := range []*string{&s.CAFile, &s.CertFile, &s.KeyFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
		if (s.CertFile == "") != (s.KeyFile == "") {
			return nil, fmt.Errorf("%s: %s: cert-file and key-file go together (a client certificate and its key)", path, host)
		}
		if s.PlainHTTP != nil && *s.PlainHTTP && s.tls() {
			return nil, fmt.Errorf("%s: %s: plain-http excludes ca-file, insecure, cert-file and key-file", path, host)
		}
		if dir, ok := strings.CutPrefix(s.Mirror, "oci:"); ok {
			if !filepath.IsAbs(dir) {
				return nil, fmt.Errorf("%s: %s: mirror %q: an oci: mirror is a bundle folder `tierpack mirror` wrote, given by its absolute path", path, host, s.Mirror)
			}
		} else if s.Mirror != "" && (strings.ContainsAny(s.Mirror, "/ ") || s.Mirror == host) {
			return nil, fmt.Errorf("%s: %s: mirror %q must be another registry host[:port], or oci:/PATH of a mirror bundle", path, host, s.Mirror)
		}
		f.Registries[host] = s
	}
	return f.Registries, nil
}

// Settings returns the effective settings for host: the file's entry with
// the command line's (Options' TLS fields, PlainHTTP, ForceTLS) on top.
func (o Options) Settings(host string) RegistrySettings {
	s := o.Registries[host]
	if o.CAFile != "" {
		s.CAFile = o.CAFile
	}
	if o.CertFile != "" {
		s.CertFile, s.KeyFile = o.CertFile, o.KeyFile
	}
	if o.Insecure {
		s.Insecure = true
	}
	switch {
	case o.PlainHTTP:
		t := true
		s.PlainHTTP = &t
	case o.ForceTLS || o.CAFile != "" || o.CertFile != "" || o.Insecure:
		f := false
		s.PlainHTTP = &f
	}
	return s
}

// usesPlainHTTP decides plain HTTP for host under s.
func usesPlainHTTP(host string, s RegistrySettings) bool {
	if s.PlainHTTP != nil {
		return *s.PlainHTTP
	}
	return !s.tls() && IsLoopback(host)
}
