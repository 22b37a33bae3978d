package sdk

import (
	"context"
	"errors"
)

// Initializer is the optional interface a Packager implements to scaffold
// new contributions of its type for `tierpack init`: the starter files and
// the type's `spec` section of tierpack.yaml, which validate as they are
// (or say what to do first, in InitResult.Next). Serve wires it into the
// Init call of the plugin protocol when the Packager implements it.
//
// # Versioning
//
// Init was added to protocol version 1 as an optional call instead of
// bumping the protocol to 2: a new protocol version would make every
// existing plugin unusable with a host that dropped version 1, and serving
// both versions side by side would duplicate the whole service for one
// optional call. A plugin built with an sdk older than Init, or one whose
// Packager does not implement Initializer, answers the call with gRPC's
// UNIMPLEMENTED; the host then gets ErrInitUnsupported, writes tierpack.yaml
// alone and tells the user the type has no starter files. An older host
// never calls Init, which changes nothing for it.
//
// Init must not write anything: it returns the files, and the host creates
// them in the folder, skipping every file that already exists.
type Initializer interface {
	// Init returns what a new contribution of the plugin's type needs.
	// Problems the user can fix (a --binary that is not an executable)
	// are errors that say what to do.
	Init(ctx context.Context, req InitRequest) (InitResult, error)
}

// ErrInitUnsupported is returned by a host's Init for a plugin that does
// not scaffold contributions (it answered UNIMPLEMENTED).
var ErrInitUnsupported = errors.New("the plugin does not scaffold contributions")

// InitRequest asks a plugin to scaffold a contribution.
type InitRequest struct {
	// Dir is the absolute path of the contribution folder. It may not exist
	// yet, or may hold content to adopt (a Helm chart). Read it, never
	// write to it.
	Dir string
	// Name and Version are what the user asked for, or the host's defaults
	// (the folder's name, 0.1.0).
	Name, Version string
	// Tier is the tier the contribution declares.
	Tier string
	// Options are the type-specific command line options, in order; a key
	// may repeat (binary=PATH for the exporter type).
	Options []InitOption
}

// Option returns the values of the options named key, in order.
func (r InitRequest) Option(key string) []string {
	var vs []string
	for _, o := range r.Options {
		if o.Key == key {
			vs = append(vs, o.Value)
		}
	}
	return vs
}

// InitOption is one type-specific option of `tierpack init`.
type InitOption struct {
	Key, Value string
}

// InitResult is what a new contribution needs.
type InitResult struct {
	// Files to create, relative to the folder; the host skips those that
	// already exist.
	Files []InitFile
	// SpecYAML is tierpack.yaml's `spec` section, a YAML mapping without
	// the "spec:" key and unindented; empty for none.
	SpecYAML string
	// Name and Version replace the request's when the plugin took them from
	// existing content (a Chart.yaml); empty keeps the request's.
	Name, Version string
	// Description replaces the host's placeholder description when set.
	Description string
	// ManifestFiles becomes tierpack.yaml's files: list; empty leaves it
	// out, so every non-hidden file of the folder is packaged.
	ManifestFiles []string
	// Notes are sentences the user should read (how to build, what was
	// adopted).
	Notes []string
	// Next lists the commands to run before `tierpack validate`, in order,
	// in the contribution folder (the host prefixes them with a cd).
	Next []string
}

// InitFile is one file to create.
type InitFile struct {
	// Path is slash-separated, relative to the contribution folder.
	Path string
	// Content is the file's bytes, unless CopyFrom is set.
	Content []byte
	// Mode holds the permission bits; 0 means 0644.
	Mode uint32
	// CopyFrom is the absolute path of a file the host copies instead of
	// Content: a binary too large for a message.
	CopyFrom string
}
