package sdk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tierpack/tierpack/sdk/archive"
)

// AnnotationTitle is the OCI annotation naming a layer's file; `oras pull`
// uses it as the file name to write.
const AnnotationTitle = "org.opencontainers.image.title"

// PackageFiles packages the given files of the contribution (relative to
// req.Dir) as one deterministic tar layer in req.StagingDir, compressed as
// req.Compression asks (gzip unless the host asked for zstd): the common
// case for a type whose artifact is "these files". The layer is titled
// <name>-<version>.tar.gz, or .tar.zst.
func PackageFiles(ctx context.Context, req PackageRequest, files []string) (PackageResult, error) {
	if err := ctx.Err(); err != nil {
		return PackageResult{}, err
	}
	layerPath, mediaType, ext := "layer.tar.gz", MediaTypeLayerTarGzip, ".tar.gz"
	switch req.Compression {
	case archive.Gzip:
	case archive.Zstd:
		layerPath, mediaType, ext = "layer.tar.zst", MediaTypeLayerTarZstd, ".tar.zst"
	default:
		return PackageResult{}, fmt.Errorf("packaging %s: the host asked for %q compression, which this plugin's SDK does not know", req.Contribution.Name, string(req.Compression))
	}
	f, err := os.Create(filepath.Join(req.StagingDir, layerPath))
	if err != nil {
		return PackageResult{}, err
	}
	_, err = archive.Write(f, req.Dir, files, archive.WriteOptions{ModTime: time.Unix(req.SourceDateEpoch, 0), Compression: req.Compression})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return PackageResult{}, fmt.Errorf("packaging %s: %w", req.Contribution.Name, err)
	}
	title := req.Contribution.Name + "-" + req.Contribution.Version + ext
	return PackageResult{Manifests: []Manifest{{
		Layers: []Blob{{
			MediaType:   mediaType,
			Path:        layerPath,
			Annotations: map[string]string{AnnotationTitle: title},
		}},
	}}}, nil
}

// UnpackLayers extracts every tar, tar+gzip or tar+zstd layer of req into
// req.OutputDir with archive.ExtractWith's checks, spending req.Budget, the
// host's budget for the whole pull, across all of them: a layer whose media
// type says gzip must be gzip, and one that says zstd must be zstd. limits
// are the plugin's own: a non-zero field tightens the host's limit, never
// raises it. It lists the files
// written. Layers of other media types are refused: a plugin should not
// silently drop content it does not understand.
func UnpackLayers(ctx context.Context, req UnpackRequest, limits archive.Limits) (UnpackResult, error) {
	return UnpackLayersOf(ctx, req, limits, StandardFormats)
}

// StandardFormats are the layer media types UnpackLayers extracts, with
// the archive format of each.
var StandardFormats = map[string]archive.Format{
	MediaTypeLayerTarGzip: archive.FormatGzip,
	MediaTypeLayerTarZstd: archive.FormatZstd,
	MediaTypeLayerTar:     archive.FormatTar,
}

// UnpackLayersOf is UnpackLayers for layers of the media types formats
// lists, each extracted as the archive format it maps to (a plugin whose
// format has media types of its own, such as falcoctl's).
func UnpackLayersOf(ctx context.Context, req UnpackRequest, limits archive.Limits, formats map[string]archive.Format) (UnpackResult, error) {
	budget := UnpackBudget(req, limits)
	for _, l := range req.Layers {
		format, ok := formats[l.MediaType]
		if !ok {
			return UnpackResult{}, fmt.Errorf("layer %s has media type %q, which this plugin cannot unpack", l.Digest, l.MediaType)
		}
		opts := archive.ExtractOptions{Budget: budget, Format: format}
		if err := extractFile(ctx, filepath.Join(req.BlobsDir, filepath.FromSlash(l.Path)), req.OutputDir, opts); err != nil {
			return UnpackResult{}, fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	files, err := ListFiles(req.OutputDir)
	return UnpackResult{Files: files}, err
}

// UnpackBudget returns the budget an Unpack spends: the host's, from req,
// with each non-zero field of the plugin's own limits applied where it is
// tighter.
func UnpackBudget(req UnpackRequest, limits archive.Limits) *archive.Budget {
	b := req.Budget
	host := b.Limits.WithDefaults()
	if limits.MaxFileSize > 0 && limits.MaxFileSize < host.MaxFileSize {
		host.MaxFileSize = limits.MaxFileSize
	}
	if limits.MaxTotalSize > 0 && limits.MaxTotalSize < host.MaxTotalSize {
		host.MaxTotalSize = limits.MaxTotalSize
	}
	if limits.MaxEntries > 0 && limits.MaxEntries < host.MaxEntries {
		host.MaxEntries = limits.MaxEntries
	}
	b.Limits = host
	return &b
}

func extractFile(ctx context.Context, path, dest string, opts archive.ExtractOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return archive.ExtractWith(ctx, f, dest, opts)
}

// ListFiles returns the regular files and symlinks below dir, slash-separated
// and relative to it, in lexical order.
func ListFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	return files, err
}

// ExpandFiles lists the files a contribution's file list names: each of
// paths (slash-separated, relative to dir, as Contribution.Files holds them)
// is a file, listed as it is, or a folder, walked. The result is
// slash-separated, relative to dir, sorted and without duplicates, and holds
// regular files and symlinks — what sdk/archive packages. A symlink is
// listed, not followed: a plugin that reads contents should skip symlinks,
// whose targets inside the contribution are listed on their own. Folders,
// and devices, pipes and sockets, are not listed. A path that does not
// exist is skipped: the host has already reported it against tierpack.yaml.
func ExpandFiles(dir string, paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		root := filepath.Join(dir, filepath.FromSlash(p))
		if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(root, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if t := d.Type(); !t.IsRegular() && t&fs.ModeSymlink == 0 {
				return nil
			}
			rel, err := filepath.Rel(dir, fp)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
