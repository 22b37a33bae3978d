// Package target resolves tierpack references to OCI targets: the embedded
// local store, an explicit OCI image layout, or a remote registry.
//
// Reference forms:
//
//	NAME[:TAG|@DIGEST]                 the local store (no server), e.g. falco-quickstart:0.1.0
//	oci:PATH[:TAG|@DIGEST]             an OCI image layout folder at PATH
//	HOST[:PORT]/REPO[:TAG|@DIGEST]     a registry, e.g. ghcr.io/falcosecurity/contrib/x:1.0.0
//
// As with Docker, the first path element names a registry only when it
// contains a '.' or a ':' or is "localhost"; otherwise the whole reference
// names a repository in the local store. Unlike Docker, tierpack never
// silently sends a bare name to Docker Hub.
package target

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry"
)

// Kind says where a reference points.
type Kind int

// Reference kinds.
const (
	// Local is the embedded local store in the user data directory.
	Local Kind = iota
	// Layout is an explicit OCI image layout folder (oci:PATH).
	Layout
	// Remote is a registry.
	Remote
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case Local:
		return "local"
	case Layout:
		return "oci-layout"
	case Remote:
		return "registry"
	}
	return "unknown"
}

// ErrInvalidReference is wrapped by every reference parsing error.
var ErrInvalidReference = errors.New("invalid reference")

// Ref is a parsed tierpack reference.
type Ref struct {
	Kind Kind
	// Registry is the host[:port] of a Remote reference.
	Registry string
	// Repository is the repository path (Remote, Local) — empty for Layout.
	Repository string
	// Path is the layout folder of a Layout reference.
	Path string
	// Tag or Digest, at most one set; both empty means "no version given".
	Tag    string
	Digest string
}

// Reference returns the tag or digest, whichever is set.
func (r Ref) Reference() string {
	if r.Digest != "" {
		return r.Digest
	}
	return r.Tag
}

// String formats the reference the way the user would write it.
func (r Ref) String() string {
	var b strings.Builder
	switch r.Kind {
	case Layout:
		b.WriteString("oci:" + r.Path)
	case Remote:
		b.WriteString(r.Registry + "/" + r.Repository)
	default:
		b.WriteString(r.Repository)
	}
	if r.Digest != "" {
		b.WriteString("@" + r.Digest)
	} else if r.Tag != "" {
		b.WriteString(":" + r.Tag)
	}
	return b.String()
}

// WithTag returns a copy of r naming tag (and no digest).
func (r Ref) WithTag(tag string) Ref {
	r.Tag, r.Digest = tag, ""
	return r
}

// Parse parses a reference in any of the package's forms. A reference
// with credentials in it (USER:PASSWORD@HOST/REPO) is refused, and the
// error shows it with the password replaced by "***" (see Redact).
func Parse(s string) (Ref, error) {
	ref, err := parse(s)
	if err != nil {
		if red := Redact(s); red != s {
			msg := strings.ReplaceAll(err.Error(), s, red)
			if user, pass, ok := userinfo(s); ok && pass != "" {
				msg = strings.ReplaceAll(msg, user+":"+pass+"@", user+":***@")
			}
			return Ref{}, &CredentialsInRefError{msg: msg + " (a reference carries no credentials)"}
		}
	}
	return ref, err
}

// CredentialsInRefError is a reference that carried a user name or
// password; its text no longer holds the password.
type CredentialsInRefError struct{ msg string }

func (e *CredentialsInRefError) Error() string { return e.msg }

// Unwrap makes the error match ErrInvalidReference.
func (e *CredentialsInRefError) Unwrap() error { return ErrInvalidReference }

// userinfo splits a leading USER[:PASSWORD]@ off the first path element of
// s; ok is false when there is none. "NAME@sha256:…" is a digest, not
// userinfo.
func userinfo(s string) (user, pass string, ok bool) {
	first, _, _ := strings.Cut(strings.TrimPrefix(s, "oci:"), "/")
	info, host, found := strings.Cut(first, "@")
	if !found || info == "" || host == "" {
		return "", "", false
	}
	if _, err := digest.Parse(host); err == nil {
		return "", "", false
	}
	user, pass, _ = strings.Cut(info, ":")
	return user, pass, true
}

// Redact returns s with the password of a USER:PASSWORD@HOST/… prefix
// replaced by "***", for messages; other references are returned as they
// are.
func Redact(s string) string {
	user, pass, ok := userinfo(s)
	if !ok || pass == "" {
		return s
	}
	return strings.Replace(s, user+":"+pass+"@", user+":***@", 1)
}

func parse(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("%w: empty reference", ErrInvalidReference)
	}
	if p, ok := strings.CutPrefix(s, "oci:"); ok {
		return parseLayout(p)
	}
	first, _, hasSlash := strings.Cut(s, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r, err := registry.ParseReference(s)
		if err != nil {
			return Ref{}, fmt.Errorf("%w %q: %v", ErrInvalidReference, s, err)
		}
		ref := Ref{Kind: Remote, Registry: r.Registry, Repository: r.Repository}
		if strings.Contains(s, "@") {
			ref.Digest = r.Reference
		} else {
			ref.Tag = r.Reference
		}
		return ref, nil
	}
	// Local store: validate with the same grammar under a placeholder host.
	r, err := registry.ParseReference("localhost/" + s)
	if err != nil {
		return Ref{}, fmt.Errorf("%w %q: %v (a local name is lower-case, like falco-quickstart:0.1.0; a registry reference starts with a host, like ghcr.io/org/name:1.0.0)",
			ErrInvalidReference, s, strings.TrimPrefix(err.Error(), "invalid reference: "))
	}
	ref := Ref{Kind: Local, Repository: r.Repository}
	if strings.Contains(s, "@") {
		ref.Digest = r.Reference
	} else {
		ref.Tag = r.Reference
	}
	if !hasSlash && looksLikeHost(ref.Repository, ref.Tag) {
		host := ref.Repository
		if ref.Tag != "" && isPort(ref.Tag) {
			host += ":" + ref.Tag
		}
		return Ref{}, fmt.Errorf("%w %q: %s looks like a registry host, not a local name: add the repository, e.g. %s/ORG/NAME "+
			"(a bare NAME[:TAG] is the local store)", ErrInvalidReference, s, host, host)
	}
	return ref, nil
}

// hostTLDs are the last labels that make a bare dotted name look like a
// registry host (ghcr.io, registry.example.com, lab.internal) rather than
// a local name with a dot in it (falco.rules).
var hostTLDs = map[string]bool{
	"io": true, "com": true, "org": true, "net": true, "dev": true, "cloud": true,
	"internal": true, "local": true, "localdomain": true, "lan": true, "test": true, "example": true, "invalid": true,
}

// looksLikeHost reports whether a bare local name (no '/') is more likely
// a registry host the user forgot the repository after: localhost, an IP
// address, a dotted name with a registry-like top-level domain, or a
// dotted name whose "tag" is a port number.
func looksLikeHost(name, tag string) bool {
	if name == "localhost" || net.ParseIP(name) != nil {
		return true
	}
	if !strings.Contains(name, ".") {
		return false
	}
	return hostTLDs[name[strings.LastIndex(name, ".")+1:]] || (tag != "" && isPort(tag))
}

// isPort reports whether s is a TCP port number.
func isPort(s string) bool {
	if len(s) == 0 || len(s) > 5 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func parseLayout(p string) (Ref, error) {
	ref := Ref{Kind: Layout}
	if path, dgst, ok := strings.Cut(p, "@"); ok {
		ref.Path, ref.Digest = path, dgst
		if _, err := digest.Parse(dgst); err != nil {
			return Ref{}, fmt.Errorf("%w %q: bad digest %q", ErrInvalidReference, "oci:"+p, dgst)
		}
	} else {
		// The tag follows the last ':' that comes after the last path separator.
		i := strings.LastIndex(p, ":")
		if i > strings.LastIndexAny(p, `/\`) && i >= 0 && !(i == 1 && len(p) > 2 && (p[2] == '\\' || p[2] == '/')) {
			ref.Path, ref.Tag = p[:i], p[i+1:]
			if _, err := registry.ParseReference("localhost/x:" + ref.Tag); err != nil || ref.Tag == "" {
				return Ref{}, fmt.Errorf("%w %q: bad tag %q", ErrInvalidReference, "oci:"+p, ref.Tag)
			}
		} else {
			ref.Path = p
		}
	}
	if ref.Path == "" {
		return Ref{}, fmt.Errorf("%w %q: oci: needs a folder path, e.g. oci:./layout:1.0.0", ErrInvalidReference, "oci:"+p)
	}
	return ref, nil
}

// IsLoopback reports whether a registry host[:port] is on this machine, where
// tierpack uses plain HTTP unless told otherwise.
func IsLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
