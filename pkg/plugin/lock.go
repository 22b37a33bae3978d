package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/tierpack/tierpack/pkg/home"
	"github.com/tierpack/tierpack/sdk/host"
)

// LockFileName is the lock file of a managed plugin folder: one Pin per
// installed plugin.
const LockFileName = "lock.json"

// LockVersion is the lock file format this package reads and writes.
const LockVersion = 1

// Pin records what `tierpack plugin install` installed: where the plugin came
// from and the sha256 of the executable it wrote. A Manager refuses to start
// a binary in its managed folder whose sha256 no longer matches.
type Pin struct {
	// Type is the contribution type; the executable is
	// tierpack-plugin-<Type> in the managed folder.
	Type string `json:"type"`
	// Version is the plugin's version, as its Describe reported it.
	Version string `json:"version"`
	// Source is the reference it was installed from, as the user wrote it.
	Source string `json:"source"`
	// Digest is what Source resolved to (the plugin's image index), so
	// `tierpack plugin install SOURCE@DIGEST` installs the same plugin again.
	Digest string `json:"digest"`
	// Manifest is the digest of the platform manifest the binary came from.
	Manifest string `json:"manifest,omitempty"`
	// Platform is os/arch[/variant] of the binary.
	Platform string `json:"platform,omitempty"`
	// SHA256 is the hex sha256 of the installed executable.
	SHA256 string `json:"sha256"`
	// Protocols lists the tierpack plugin protocol versions it speaks.
	Protocols []int `json:"protocols,omitempty"`
	// SDKVersion is the version of the tierpack sdk it was built with.
	SDKVersion string `json:"sdkVersion,omitempty"`
	// Installed is when it was installed.
	Installed time.Time `json:"installed"`
	// Signer names the key that signed the plugin's index when it was
	// installed ("key 3f2a…"); empty for one installed unsigned
	// (--allow-unsigned).
	Signer string `json:"signer,omitempty"`
	// StandardUnpack is the plugin's declaration, when it was installed
	// and run to probe it, that its Unpack is the standard extraction
	// (sdk.Description): kept with the binary's sha256 it was made by, so
	// pull extracts in the host without starting this binary.
	StandardUnpack bool `json:"standardUnpack,omitempty"`
	// InstallDir is the plugin's Describe answer, when it was probed at
	// install, for where `tierpack install` puts its type's artifacts
	// (sdk.Description): read from here, so install starts no plugin to
	// learn it.
	InstallDir string `json:"installDir,omitempty"`
}

// Lock is the content of a managed plugin folder's lock file.
type Lock struct {
	// Version is the file format, LockVersion.
	Version int `json:"version"`
	// Plugins maps a type to its pin.
	Plugins map[string]Pin `json:"plugins"`
}

// Types returns the pinned types in order.
func (l *Lock) Types() []string {
	out := make([]string, 0, len(l.Plugins))
	for t := range l.Plugins {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ReadLock reads dir's lock file. A folder without one has an empty lock.
func ReadLock(dir string) (*Lock, error) {
	path := filepath.Join(dir, LockFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Lock{Version: LockVersion, Plugins: map[string]Pin{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var l Lock
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v (restore it, or delete it and reinstall the plugins in that folder)", path, err)
	}
	if l.Version != LockVersion {
		return nil, fmt.Errorf("%s has format version %d, but this tierpack reads version %d: upgrade tierpack", path, l.Version, LockVersion)
	}
	if l.Plugins == nil {
		l.Plugins = map[string]Pin{}
	}
	for t, p := range l.Plugins {
		if p.Type != t {
			return nil, fmt.Errorf("%s: the entry for %q says type %q (restore the file, or delete it and reinstall the plugins in that folder)", path, t, p.Type)
		}
	}
	return &l, nil
}

// UpdateLock reads dir's lock file, lets fn change it, and writes it back
// atomically (home.WriteFileAtomic). Concurrent updates of the same folder
// take turns under home.Lock (on systems with flock), each waiting at most
// home.DefaultLockWait for the others. If fn returns an error, the file is
// left as it was.
func UpdateLock(dir string, fn func(*Lock) error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := home.Lock(context.Background(), filepath.Join(dir, "."+LockFileName+".lock"),
		home.LockOptions{What: "the plugin folder " + dir})
	if err != nil {
		return err
	}
	defer unlock.Close()
	// What an install killed mid-write left behind.
	home.RemoveStale(dir, "")
	l, err := ReadLock(dir)
	if err != nil {
		return err
	}
	if err := fn(l); err != nil {
		return err
	}
	l.Version = LockVersion
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return home.WriteFileAtomic(filepath.Join(dir, LockFileName), append(b, '\n'), 0o644)
}

// FileSHA256 returns the hex sha256 of the file at path.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// BinaryName returns the executable name of a plugin for typ on this
// system: tierpack-plugin-<typ>, with .exe on Windows.
func BinaryName(typ string) string { return host.BinaryName(typ) }
