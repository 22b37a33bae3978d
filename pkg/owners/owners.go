// Package owners reads Kubernetes-style OWNERS files: who approves and
// reviews changes to a contribution, and so who supports it at the
// repository tier.
//
//	approvers: [alice, bob]
//	reviewers: [carol]
//	emeritus_approvers: [dave]
//
// tierpack records the parsed file in the artifact (annotation sdk.AnnotationOwners)
// so that whoever pulls it sees who supports it.
package owners

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/sdk"
)

// File is a parsed OWNERS file. Fields other than the ones below
// (filters, options, labels) are accepted and ignored.
type File struct {
	Approvers         []string `yaml:"approvers" json:"approvers"`
	Reviewers         []string `yaml:"reviewers,omitempty" json:"reviewers,omitempty"`
	EmeritusApprovers []string `yaml:"emeritus_approvers,omitempty" json:"emeritus_approvers,omitempty"`
}

// ErrInvalid is wrapped by every parse error.
var ErrInvalid = errors.New("invalid OWNERS file")

var handleRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$`) })

// Parse reads OWNERS content. name is used in errors.
func Parse(name string, b []byte) (*File, error) {
	var f File
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: %s is empty: list at least one approver (approvers: [github-handle])", ErrInvalid, name)
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	for _, list := range []struct {
		field string
		names []string
	}{{"approvers", f.Approvers}, {"reviewers", f.Reviewers}, {"emeritus_approvers", f.EmeritusApprovers}} {
		for _, n := range list.names {
			if !handleRE().MatchString(n) {
				return nil, fmt.Errorf("%w: %s: %s: %q is not a user or team handle", ErrInvalid, name, list.field, n)
			}
		}
	}
	return &f, nil
}

// Load reads an OWNERS file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// LoadIn reads the OWNERS file at rel, a slash-separated path inside the
// contribution folder dir, and refuses one that is not inside it: a symlink
// (or a path through one) that leads outside the folder would have tierpack
// record approvers from a file the contribution does not hold. The error
// wraps ErrInvalid then.
func LoadIn(dir, rel string) (*File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	name := filepath.FromSlash(rel)
	// os.Root follows symlinks only while they stay below dir.
	b, err := root.ReadFile(name)
	if err != nil {
		if fi, lerr := root.Lstat(name); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 || strings.Contains(err.Error(), "escapes") {
			return nil, fmt.Errorf("%w: %s is a symlink that leads outside the contribution folder; tierpack reads approvers only from a file inside it (replace the link with the file)", ErrInvalid, strconv.Quote(rel))
		}
		return nil, err
	}
	return Parse(rel, b)
}

// JSON returns the compact JSON recorded in the artifact annotation.
func (f *File) JSON() string {
	b, _ := json.Marshal(f)
	return string(b)
}

// FromAnnotations returns the OWNERS record of an artifact, nil if it has
// none.
func FromAnnotations(a map[string]string) (*File, error) {
	v, ok := a[sdk.AnnotationOwners]
	if !ok || v == "" {
		return nil, nil
	}
	var f File
	if err := json.Unmarshal([]byte(v), &f); err != nil {
		return nil, fmt.Errorf("annotation %s is not valid JSON: %w", sdk.AnnotationOwners, err)
	}
	return &f, nil
}
