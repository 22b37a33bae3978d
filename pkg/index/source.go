package index

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/sdk"
)

// SourceKind says where a configured index comes from.
type SourceKind string

// Source kinds.
const (
	// FileSource is an index file on this machine, read afresh every time.
	FileSource SourceKind = "file"
	// HTTPSource is an http or https URL.
	HTTPSource SourceKind = "http"
	// OCISource is an index published as an OCI artifact (see Push).
	OCISource SourceKind = "oci"
)

// Source is a configured index.
type Source struct {
	// Name is what the user calls it; results name it.
	Name string `yaml:"name" json:"name"`
	// Kind says how Location is read.
	Kind SourceKind `yaml:"kind" json:"kind"`
	// Location is an absolute file path, a URL, or a tierpack reference.
	Location string `yaml:"location" json:"location"`
	// PlainHTTP reaches an OCI source's registry over plain HTTP (loopback
	// registries use it anyway).
	PlainHTTP bool `yaml:"plainHTTP,omitempty" json:"plainHTTP,omitempty"`
}

// ParseSource makes a Source of what the user typed:
//
//	http://… or https://…                 HTTPSource
//	file://PATH, or a path that exists,
//	or ends in .yaml/.yml, or starts
//	with / ./ ../ or ~/                   FileSource (made absolute)
//	anything else                         OCISource: a tierpack reference
//	                                      (HOST/REPO[:TAG], oci:PATH[:TAG], NAME[:TAG])
//
// An OCI reference without a tag gets "latest", as `index push` does.
func ParseSource(name, location string) (Source, error) {
	if err := checkName(name); err != nil {
		return Source{}, err
	}
	src := Source{Name: name}
	lower := strings.ToLower(location)
	switch {
	case location == "":
		return Source{}, fmt.Errorf("index %q: empty location: give a file, an http(s) URL or an OCI reference", name)
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		src.Kind, src.Location = HTTPSource, location
		return src, nil
	case strings.HasPrefix(lower, "file://"):
		location = strings.TrimPrefix(location[len("file://"):], "localhost")
		return fileSource(src, location)
	case isPathLike(location):
		return fileSource(src, location)
	}
	ref, err := target.Parse(location)
	if err != nil {
		return Source{}, fmt.Errorf("index %q: %q is not a file, an http(s) URL or an OCI reference: %w", name, location, err)
	}
	if ref.Reference() == "" {
		ref = ref.WithTag(DefaultTag)
	}
	src.Kind, src.Location = OCISource, ref.String()
	return src, nil
}

func isPathLike(s string) bool {
	if st, err := os.Stat(s); err == nil && !st.IsDir() {
		return true
	}
	lower := strings.ToLower(s)
	return strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml") || filepath.IsAbs(s) ||
		strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~/")
}

func fileSource(src Source, p string) (Source, error) {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return Source{}, err
		}
		p = filepath.Join(home, rest)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return Source{}, err
	}
	src.Kind, src.Location = FileSource, abs
	return src, nil
}

// checkName accepts index names that are safe as file names and easy to
// type: lower-case letters, digits, '.', '_' and '-', starting with a
// letter or digit.
func checkName(name string) error {
	if name == "" {
		return errors.New("an index needs a name, like falcosecurity")
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '_' || r == '-')
		if !ok || len(name) > 64 {
			return fmt.Errorf("index name %q: use up to 64 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit", name)
		}
	}
	return nil
}

// FetchOptions say how to reach remote sources. The zero value uses a
// client with DefaultHTTPTimeout and target's default options.
type FetchOptions struct {
	// HTTPClient fetches HTTPSource indexes; nil means a client with
	// DefaultHTTPTimeout.
	HTTPClient *http.Client
	// Target opens OCISource references (credentials, plain HTTP). Its
	// PlainHTTP is also set for sources that ask for it.
	Target target.Options
	// UserAgent is sent with HTTP requests when set.
	UserAgent string
}

// DefaultHTTPTimeout bounds one HTTP fetch of an index.
const DefaultHTTPTimeout = 60 * time.Second

// Fetch reads src's index now, from its file, URL or registry, and returns
// it with the bytes it was parsed from.
func Fetch(ctx context.Context, src Source, opts FetchOptions) (*Index, []byte, error) {
	var data []byte
	var err error
	switch src.Kind {
	case FileSource:
		data, err = readFile(src.Location)
	case HTTPSource:
		data, err = fetchHTTP(ctx, src.Location, opts)
	case OCISource:
		data, err = fetchOCI(ctx, src, opts)
	default:
		err = fmt.Errorf("index %q has unknown kind %q (edit or remove it with `tierpack index remove %s`)", src.Name, src.Kind, src.Name)
	}
	if err != nil {
		return nil, nil, err
	}
	ix, err := Parse(src.Location, data)
	if err != nil {
		return nil, nil, err
	}
	return ix, data, nil
}

func fetchHTTP(ctx context.Context, url string, opts FetchOptions) ([]byte, error) {
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	req.Header.Set("Accept", MediaType+", application/yaml, text/yaml, */*;q=0.5")
	if opts.UserAgent != "" {
		req.Header.Set("User-Agent", opts.UserAgent)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %w (check the URL and your network; `tierpack index update` retries)", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, notFoundf("%s answered %s (check the URL)", url, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetching %s: the server answered %s", url, resp.Status)
	}
	return readLimited(url, resp.Body)
}

func fetchOCI(ctx context.Context, src Source, opts FetchOptions) ([]byte, error) {
	ref, err := target.Parse(src.Location)
	if err != nil {
		return nil, err
	}
	topts := opts.Target
	topts.PlainHTTP = topts.PlainHTTP || src.PlainHTTP
	topts.ReadOnly = true
	t, err := target.Open(ctx, ref, topts)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	info, err := oci.Resolve(ctx, t, nil)
	if err != nil {
		return nil, err
	}
	if info.ArtifactType != MediaType {
		return nil, fmt.Errorf("%w: %s has artifactType %q, not a tierpack index (%s); publish one with `tierpack index push index.yaml %s`",
			ErrInvalid, ref, info.ArtifactType, MediaType, ref)
	}
	for _, l := range info.Layers {
		if l.MediaType != MediaType {
			continue
		}
		if l.Size > MaxSize {
			return nil, fmt.Errorf("%w: %s: the index is %d bytes, more than the %d tierpack reads", ErrInvalid, ref, l.Size, MaxSize)
		}
		data, err := oci.FetchAll(ctx, t.Store, l, MaxSize)
		if err != nil {
			return nil, fmt.Errorf("%s: fetching the index layer %s: %w", ref, l.Digest, err)
		}
		return data, nil
	}
	return nil, fmt.Errorf("%w: %s has no %s layer", ErrInvalid, ref, MediaType)
}

// readLimited reads at most MaxSize bytes.
func readLimited(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %s is larger than the %d bytes tierpack reads", ErrInvalid, name, MaxSize)
	}
	return data, nil
}

// DefaultTag is the tag Push writes and OCI sources read when the
// reference names none.
const DefaultTag = "latest"

// PushOptions tune Push. The zero value is ready to use.
type PushOptions struct {
	// Created stamps org.opencontainers.image.created; zero leaves it out,
	// so the same index always gives the same digest.
	Created time.Time
}

// Push publishes an index document (the bytes of an index file, checked
// with Parse first) as an OCI artifact at t: artifactType MediaType, the
// empty config, one layer holding the document. The reference's tag, or
// DefaultTag, is written last. It returns the manifest's descriptor.
func Push(ctx context.Context, t *target.Target, data []byte, opts PushOptions) (ocispec.Descriptor, error) {
	ix, err := Parse("the index", data)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if t.Ref.Digest != "" {
		return ocispec.Descriptor{}, fmt.Errorf("%s names a digest: push an index to a tag (REF:TAG), default %s", t.Ref, DefaultTag)
	}
	tag := t.Ref.Tag
	if tag == "" {
		tag = DefaultTag
	}
	blobs, err := packIndex(ix, data, opts)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, err := oci.PushBlobs(ctx, t.Store, blobs, tag, oci.PushOptions{}); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("pushing the index to %s: %w", t.Ref.WithTag(tag), err)
	}
	return blobs[len(blobs)-1].Desc, nil
}

// packIndex builds the blobs of a published index: the empty config, the
// document, and the manifest last.
func packIndex(ix *Index, data []byte, opts PushOptions) ([]oci.Blob, error) {
	layer := oci.Blob{Data: data, Desc: ocispec.Descriptor{
		MediaType:   MediaType,
		Digest:      digest.FromBytes(data),
		Size:        int64(len(data)),
		Annotations: map[string]string{ocispec.AnnotationTitle: "index.yaml"},
	}}
	cfg := oci.EmptyJSON()
	ann := map[string]string{
		ocispec.AnnotationTitle:       "index.yaml",
		ocispec.AnnotationDescription: fmt.Sprintf("tierpack index of %d contribution(s)", len(ix.Entries)),
		sdk.AnnotationIndexAPIVersion: ix.APIVersion,
	}
	if !opts.Created.IsZero() {
		ann[ocispec.AnnotationCreated] = opts.Created.UTC().Format(time.RFC3339)
	}
	man, err := oci.ManifestBlob(oci.NewManifest(MediaType, cfg.Desc, []ocispec.Descriptor{layer.Desc}, ann))
	if err != nil {
		return nil, err
	}
	return []oci.Blob{cfg, layer, man}, nil
}
