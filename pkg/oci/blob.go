package oci

import (
	"bytes"
	"encoding/json"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/sdk"
)

// Blob is content ready to push: a file or a byte slice, and its
// descriptor.
type Blob struct {
	// Desc describes the content; its digest and size must match it.
	Desc ocispec.Descriptor
	// Path is the file holding the content, or empty when Data holds it.
	Path string
	// Data holds the content when Path is empty.
	Data []byte
}

// Open returns the blob's content.
func (b Blob) Open() (io.ReadCloser, error) {
	if b.Path == "" {
		return io.NopCloser(bytes.NewReader(b.Data)), nil
	}
	return os.Open(b.Path)
}

// EmptyJSON returns the empty JSON blob ({}): the config of an artifact
// without one, and the one layer of an artifact without layers, as the
// image spec asks. Its descriptor embeds no data, so manifests that name it
// stay small and keep their digests.
func EmptyJSON() Blob {
	d := ocispec.DescriptorEmptyJSON
	d.Data = nil
	return Blob{Desc: d, Data: []byte("{}")}
}

// JSONBlob marshals v and describes the bytes with mediaType.
func JSONBlob(mediaType string, v any) (Blob, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Blob{}, err
	}
	return Blob{Desc: ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}, Data: data}, nil
}

// NewManifest returns an image manifest (schema 2, the OCI media type) with
// exactly the given fields: nothing is added, so the same arguments always
// give the same bytes. Layers nil is written as [], as the spec requires.
func NewManifest(artifactType string, config ocispec.Descriptor, layers []ocispec.Descriptor, annotations map[string]string) ocispec.Manifest {
	if layers == nil {
		layers = []ocispec.Descriptor{}
	}
	return ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       config,
		Layers:       layers,
		Annotations:  annotations,
	}
}

// NewIndex returns an image index (schema 2, the OCI media type) with
// exactly the given fields.
func NewIndex(artifactType string, manifests []ocispec.Descriptor, annotations map[string]string) ocispec.Index {
	return ocispec.Index{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageIndex,
		ArtifactType: artifactType,
		Manifests:    manifests,
		Annotations:  annotations,
	}
}

// ManifestBlob marshals m; the descriptor carries m's media type and
// artifactType.
func ManifestBlob(m ocispec.Manifest) (Blob, error) {
	b, err := JSONBlob(m.MediaType, m)
	b.Desc.ArtifactType = m.ArtifactType
	return b, err
}

// IndexBlob marshals idx; the descriptor carries idx's media type and
// artifactType.
func IndexBlob(idx ocispec.Index) (Blob, error) {
	b, err := JSONBlob(idx.MediaType, idx)
	b.Desc.ArtifactType = idx.ArtifactType
	return b, err
}

// IsManifest reports whether mediaType is an image manifest or index (OCI
// or Docker): content that can be tagged and must be pushed after what it
// names.
func IsManifest(mediaType string) bool {
	switch mediaType {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, sdk.MediaTypeDockerManifest, sdk.MediaTypeDockerManifestList:
		return true
	}
	return false
}

// IsIndex reports whether mediaType is an image index (OCI or Docker).
func IsIndex(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == sdk.MediaTypeDockerManifestList
}
