package exporter

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/archive"
)

// mediaTypeImageConfig is the standard OCI image config media type: what
// makes each platform manifest a runnable image.
const mediaTypeImageConfig = ocispec.MediaTypeImageConfig

// Image config labels besides the org.opencontainers.image.* ones. The
// dev.tierpack.{tier,type,name} keys are those the host puts in manifest
// annotations, so `docker inspect` shows the tier too.
const (
	// LabelTier is the contribution's tier when it was packaged.
	LabelTier = sdk.AnnotationTier
	// LabelType is always "exporter".
	LabelType = sdk.AnnotationType
	// LabelName is the contribution's name.
	LabelName = sdk.AnnotationName
	// LabelPort is spec.port, the TCP port the exporter listens on.
	LabelPort = sdk.AnnotationExporterPort
	// LabelMetricsPath is spec.metricsPath.
	LabelMetricsPath = sdk.AnnotationExporterMetricsPath
)

// RunInfoFile is the file Unpack writes beside the binary.
const RunInfoFile = "exporter.json"

// maxConfigSize bounds the image config Unpack reads.
const maxConfigSize = 4 << 20

// maxBinarySize bounds the binary Unpack installs whatever the host's
// limits: 1 GiB, sdk/archive's default per-file limit.
const maxBinarySize = archive.DefaultMaxFileSize

// defaultPath is the PATH of Linux images, as Docker sets it.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// RunInfo is exporter.json, which Unpack writes beside the installed
// binary: how to run the exporter without a container runtime. Run it from
// the folder as ./BINARY ARGS…; it then serves MetricsURL.
type RunInfo struct {
	// Name, Version and Tier identify the contribution; the tier is the
	// one the pulled manifest carries.
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	Tier    string `json:"tier,omitempty"`
	// Platform is os/arch[/variant] of the binary.
	Platform string `json:"platform"`
	// Binary is the installed file, relative to the folder.
	Binary string `json:"binary"`
	// Args are the default arguments (the image's Cmd).
	Args []string `json:"args,omitempty"`
	// Port and MetricsPath are where it serves metrics with Args.
	Port        int    `json:"port,omitempty"`
	MetricsPath string `json:"metricsPath,omitempty"`
	// MetricsURL is where the metrics are when it runs with Args here.
	MetricsURL string `json:"metricsURL,omitempty"`
}

// meta is the part of tierpack.yaml that sdk.Contribution does not carry.
type meta struct {
	Source struct {
		URL      string `yaml:"url"`
		Revision string `yaml:"revision"`
	} `yaml:"source"`
	Authors  []string `yaml:"authors"`
	Homepage string   `yaml:"homepage"`
}

// Package implements sdk.Packager: one runnable image per platform.
func (Plugin) Package(ctx context.Context, req sdk.PackageRequest) (sdk.PackageResult, error) {
	d, diags := decode(req.Contribution)
	if sdk.Count(diags, sdk.SeverityError) > 0 {
		return sdk.PackageResult{Diagnostics: diags}, nil
	}
	var m meta
	_ = yaml.Unmarshal(req.Contribution.ManifestYAML, &m) // the host parsed it already
	root, err := os.OpenRoot(req.Dir)
	if err != nil {
		return sdk.PackageResult{}, err
	}
	defer root.Close()
	var res sdk.PackageResult
	for _, t := range d.targets {
		if err := ctx.Err(); err != nil {
			return sdk.PackageResult{}, err
		}
		pm, err := packagePlatform(root, req, d, m, t)
		if err != nil {
			return sdk.PackageResult{}, fmt.Errorf("exporter %q: %s: %w", req.Contribution.Name, t.platform, err)
		}
		res.Manifests = append(res.Manifests, pm)
	}
	return res, nil
}

// packagePlatform writes one platform's layer and image config into
// StagingDir/OS-ARCH/.
func packagePlatform(root *os.Root, req sdk.PackageRequest, d decoded, m meta, t target) (sdk.Manifest, error) {
	dir := t.dirName()
	stage := filepath.Join(req.StagingDir, dir)
	rootfs := filepath.Join(stage, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return sdk.Manifest{}, err
	}
	name := d.installedName(t.platform)
	src, err := root.Open(filepath.FromSlash(t.path))
	if err != nil {
		return sdk.Manifest{}, err
	}
	// A copy, so the binary is stored under its installed name whatever
	// the contribution calls it.
	_, err = copyFile(src, filepath.Join(rootfs, name), 0o755)
	src.Close()
	if err != nil {
		return sdk.Manifest{}, fmt.Errorf("copying %s: %w", t.path, err)
	}

	layerPath := dir + "/layer.tar.gz"
	f, err := os.Create(filepath.Join(stage, "layer.tar.gz"))
	if err != nil {
		return sdk.Manifest{}, err
	}
	layer, err := archive.WriteTarGz(f, rootfs, []string{name}, archive.WriteOptions{
		Prefix:  strings.TrimPrefix(BinDir, "/"),
		ModTime: time.Unix(req.SourceDateEpoch, 0),
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return sdk.Manifest{}, fmt.Errorf("writing the layer: %w", err)
	}
	if err := os.RemoveAll(rootfs); err != nil {
		return sdk.Manifest{}, err
	}

	cfg, err := json.Marshal(imageConfig(req, d, m, t, name, layer.DiffID))
	if err != nil {
		return sdk.Manifest{}, err
	}
	configPath := dir + "/config.json"
	if err := os.WriteFile(filepath.Join(stage, "config.json"), cfg, 0o644); err != nil {
		return sdk.Manifest{}, err
	}
	c := req.Contribution
	p := t.platform
	return sdk.Manifest{
		Platform: &p,
		Config:   &sdk.Blob{MediaType: mediaTypeImageConfig, Path: configPath},
		Layers: []sdk.Blob{{
			MediaType:   sdk.MediaTypeLayerTarGzip,
			Path:        layerPath,
			Annotations: map[string]string{sdk.AnnotationTitle: fmt.Sprintf("%s-%s-%s.tar.gz", c.Name, c.Version, dir)},
		}},
		// A plain, runnable container image.
		ArtifactType: "-",
	}, nil
}

// imageConfig builds a platform's OCI image config. It is deterministic:
// created is set only from SOURCE_DATE_EPOCH, and encoding/json sorts the
// maps.
func imageConfig(req sdk.PackageRequest, d decoded, m meta, t target, name string, diffID digest.Digest) ocispec.Image {
	var created *time.Time
	if req.SourceDateEpoch != 0 {
		ts := time.Unix(req.SourceDateEpoch, 0).UTC()
		created = &ts
	}
	c := req.Contribution
	labels := map[string]string{
		LabelTier:                     c.Tier,
		LabelType:                     Type,
		LabelName:                     c.Name,
		LabelPort:                     strconv.Itoa(d.Port),
		LabelMetricsPath:              d.MetricsPath,
		ocispec.AnnotationTitle:       c.Name,
		ocispec.AnnotationVersion:     c.Version,
		ocispec.AnnotationDescription: c.Description,
		ocispec.AnnotationLicenses:    c.License,
		ocispec.AnnotationSource:      m.Source.URL,
		ocispec.AnnotationRevision:    m.Source.Revision,
		ocispec.AnnotationURL:         m.Homepage,
		ocispec.AnnotationAuthors:     strings.Join(m.Authors, ", "),
	}
	if created != nil {
		labels[ocispec.AnnotationCreated] = created.Format(time.RFC3339)
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}
	entrypoint := path.Join(BinDir, name)
	img := ocispec.Image{
		Created:  created,
		Platform: ocispec.Platform{OS: t.platform.OS, Architecture: t.platform.Architecture, Variant: t.platform.Variant},
		Config: ocispec.ImageConfig{
			User:         d.User,
			ExposedPorts: map[string]struct{}{strconv.Itoa(d.Port) + "/tcp": {}},
			Entrypoint:   []string{entrypoint},
			Cmd:          d.Args,
			Labels:       labels,
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History: []ocispec.History{{
			Created:   created,
			CreatedBy: fmt.Sprintf("tierpack exporter plugin %s: %s from %s", Version, entrypoint, t.path),
		}},
	}
	if t.platform.OS != "windows" {
		img.Config.Env = []string{defaultPath}
	}
	return img
}

// Unpack implements sdk.Packager: it installs the image's entrypoint binary
// and writes RunInfoFile beside it.
func (Plugin) Unpack(ctx context.Context, req sdk.UnpackRequest) (sdk.UnpackResult, error) {
	if req.Config == nil || req.Config.MediaType != mediaTypeImageConfig {
		return sdk.UnpackResult{}, errors.New("the artifact has no OCI image config, so it is not an exporter image (fetch it with `oras pull` instead)")
	}
	img, err := readConfig(filepath.Join(req.BlobsDir, filepath.FromSlash(req.Config.Path)))
	if err != nil {
		return sdk.UnpackResult{}, fmt.Errorf("image config %s: %w", req.Config.Digest, err)
	}
	if p := req.Config.Platform; p != nil && (img.OS != p.OS || img.Architecture != p.Architecture) {
		return sdk.UnpackResult{}, fmt.Errorf("image config %s is for %s/%s, but the index lists it as %s: the artifact is inconsistent", req.Config.Digest, img.OS, img.Architecture, p)
	}
	if len(img.Config.Entrypoint) == 0 || !path.IsAbs(img.Config.Entrypoint[0]) {
		return sdk.UnpackResult{}, fmt.Errorf("the image has no absolute entrypoint (%q), so tierpack cannot tell which file is the exporter", img.Config.Entrypoint)
	}
	entry := path.Clean(img.Config.Entrypoint[0])
	name := path.Base(entry)
	if !binaryRE.MatchString(name) || name == RunInfoFile {
		return sdk.UnpackResult{}, fmt.Errorf("the image's entrypoint %q is not a file name tierpack installs", entry)
	}
	dst := filepath.Join(req.OutputDir, name)
	budget := sdk.UnpackBudget(req, archive.Limits{MaxFileSize: maxBinarySize})
	if err := extractEntry(ctx, req, strings.TrimPrefix(entry, "/"), dst, img.OS != "windows", budget); err != nil {
		return sdk.UnpackResult{}, err
	}
	if err := checkInstalled(dst, img.Platform); err != nil {
		return sdk.UnpackResult{}, err
	}
	info := runInfo(req, img, name)
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return sdk.UnpackResult{}, err
	}
	if err := os.WriteFile(filepath.Join(req.OutputDir, RunInfoFile), append(data, '\n'), 0o644); err != nil {
		return sdk.UnpackResult{}, err
	}
	files := []string{name, RunInfoFile}
	sort.Strings(files)
	return sdk.UnpackResult{Files: files}, nil
}

func readConfig(p string) (ocispec.Image, error) {
	f, err := os.Open(p)
	if err != nil {
		return ocispec.Image{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return ocispec.Image{}, err
	}
	if len(data) > maxConfigSize {
		return ocispec.Image{}, fmt.Errorf("larger than %d bytes", maxConfigSize)
	}
	var img ocispec.Image
	if err := json.Unmarshal(data, &img); err != nil {
		return ocispec.Image{}, fmt.Errorf("malformed: %w", err)
	}
	return img, nil
}

// checkInstalled re-reads the installed binary's header: what a registry
// served must be what its config says, whoever pushed it.
func checkInstalled(p string, plat ocispec.Platform) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := inspectBinary(f)
	if err != nil {
		return fmt.Errorf("the image's %s %v", path.Base(p), err)
	}
	if len(info.Arches) > 0 && !slices.Contains(info.Arches, plat.Architecture) {
		return fmt.Errorf("the image's %s holds %s code for %s, but its config says %s/%s: the artifact is inconsistent", path.Base(p), info.Format, info.Machine, plat.OS, plat.Architecture)
	}
	return nil
}

// extractEntry copies the file at want (a clean slash path without a
// leading slash) from the image's layers to dst. The topmost layer holding
// it wins, as in a container's root filesystem; a whiteout above it means
// the image deleted it.
//
// Every entry read counts against budget's entry limit, and the file
// installed against its size limits.
func extractEntry(ctx context.Context, req sdk.UnpackRequest, want, dst string, needExec bool, budget *archive.Budget) error {
	for i := len(req.Layers) - 1; i >= 0; i-- {
		l := req.Layers[i]
		found, deleted, err := fromLayer(ctx, filepath.Join(req.BlobsDir, filepath.FromSlash(l.Path)), l.MediaType, want, dst, needExec, budget)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
		if found {
			return nil
		}
		if deleted {
			return fmt.Errorf("layer %s deletes /%s, the image's entrypoint", l.Digest, want)
		}
	}
	return fmt.Errorf("no layer of the image holds /%s, its entrypoint", want)
}

// fromLayer looks for want in one layer and copies it to dst when found.
func fromLayer(ctx context.Context, blob, mediaType, want, dst string, needExec bool, budget *archive.Budget) (found, deleted bool, err error) {
	f, err := os.Open(blob)
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	var r io.Reader = f
	switch mediaType {
	case sdk.MediaTypeLayerTarGzip, sdk.MediaTypeDockerLayerTarGzip:
		zr, err := gzip.NewReader(f)
		if err != nil {
			return false, false, fmt.Errorf("%w: the media type says gzip: %v", archive.ErrCorrupt, err)
		}
		defer zr.Close()
		r = zr
	case ocispec.MediaTypeImageLayer:
	default:
		return false, false, fmt.Errorf("media type %q is not a tar or tar+gzip layer, which is all tierpack reads", mediaType)
	}
	dir, base := path.Split(want)
	whiteouts := map[string]bool{path.Join(dir, ".wh."+base): true}
	for d := path.Dir(want); ; d = path.Dir(d) {
		whiteouts[path.Join(d, ".wh..wh..opq")] = true
		if d == "." {
			break
		}
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return false, false, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false, deleted, nil
		}
		if err != nil {
			return false, false, fmt.Errorf("%w: reading tar: %v", archive.ErrCorrupt, err)
		}
		limits := budget.Limits.WithDefaults()
		if budget.Entries >= limits.MaxEntries {
			return false, false, fmt.Errorf("%w: more than %d entries, the limit on entries; raise it if you trust this image (tierpack pull --max-entries, TIERPACK_MAX_ENTRIES)", archive.ErrTooLarge, limits.MaxEntries)
		}
		budget.Entries++
		name := path.Clean(strings.TrimPrefix(hdr.Name, "/"))
		if whiteouts[name] {
			deleted = true
			continue
		}
		if name != want {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return false, false, fmt.Errorf("/%s, the image's entrypoint, is not a regular file (tar type %q); tierpack installs only regular files", want, hdr.Typeflag)
		}
		for k := range hdr.PAXRecords {
			if strings.HasPrefix(k, "GNU.sparse.") {
				return false, false, fmt.Errorf("%w /%s: it is a PAX sparse file (record %s), which tierpack does not install", archive.ErrUnsafeEntry, want, k)
			}
		}
		if hdr.Size > limits.MaxFileSize {
			return false, false, fmt.Errorf("%w: /%s is %s, more than the %s limit on one file; raise it if you trust this image (tierpack pull --max-file-size, TIERPACK_MAX_FILE_SIZE)",
				archive.ErrTooLarge, want, archive.FormatSize(hdr.Size), archive.FormatSize(limits.MaxFileSize))
		}
		if hdr.Size > limits.MaxTotalSize-budget.Size {
			return false, false, fmt.Errorf("%w: /%s (%s) takes the pull past the %s limit on the total size (%s already unpacked); raise it if you trust this image (tierpack pull --max-size, TIERPACK_MAX_SIZE)",
				archive.ErrTooLarge, want, archive.FormatSize(hdr.Size), archive.FormatSize(limits.MaxTotalSize), archive.FormatSize(budget.Size))
		}
		mode := fs.FileMode(hdr.Mode) & 0o777
		if needExec && mode&0o111 == 0 {
			return false, false, fmt.Errorf("/%s, the image's entrypoint, is not executable (mode %s)", want, mode)
		}
		// Created with the image's mode less group and world write; the
		// umask applies on top, as for any file this process creates.
		n, err := copyFile(io.LimitReader(tr, hdr.Size), dst, mode&^0o022)
		budget.Size += n
		if err != nil {
			return false, false, err
		}
		if n != hdr.Size {
			return false, false, fmt.Errorf("%w: /%s: read %d bytes but its header declares %d", archive.ErrCorrupt, want, n, hdr.Size)
		}
		return true, false, nil
	}
}

// runInfo describes how to run the installed binary. The tier and version
// come from the manifest's annotations, which promotion updates, before
// the image's labels.
func runInfo(req sdk.UnpackRequest, img ocispec.Image, name string) RunInfo {
	first := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	labels := img.Config.Labels
	info := RunInfo{
		Name:        first(req.Annotations[LabelName], labels[LabelName], strings.TrimSuffix(name, ".exe")),
		Version:     first(req.Annotations[ocispec.AnnotationVersion], labels[ocispec.AnnotationVersion]),
		Tier:        first(req.Annotations[LabelTier], labels[LabelTier]),
		Platform:    sdk.Platform{OS: img.OS, Architecture: img.Architecture, Variant: img.Variant}.String(),
		Binary:      name,
		Args:        img.Config.Cmd,
		MetricsPath: labels[LabelMetricsPath],
	}
	info.Port, _ = strconv.Atoi(labels[LabelPort])
	if info.Port == 0 {
		for _, p := range sortedKeys(img.Config.ExposedPorts) {
			if n, proto, _ := strings.Cut(p, "/"); proto == "" || proto == "tcp" {
				info.Port, _ = strconv.Atoi(n)
				break
			}
		}
	}
	if info.Port != 0 {
		info.MetricsURL = fmt.Sprintf("http://localhost:%d%s", info.Port, first(info.MetricsPath, DefaultMetricsPath))
	}
	return info
}
