package tierpack

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// WriteText renders the result for a person at a terminal: the artifact,
// its tier as the gate found it, its annotations, platforms, signatures,
// tier history and layers.
func (r *InspectResult) WriteText(w io.Writer) error {
	info, gov := r.Info, r.Report
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, kv := range [][2]string{{"Reference", info.Reference}, {"Digest", info.Digest}, {"Media type", info.MediaType},
		{"Artifact type", info.ArtifactType}, {"Tier", r.Verdict.String()}, {"Type", info.Type}, {"Name", info.Name}, {"Version", info.Version}} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
		}
	}
	tw.Flush()
	if len(info.Annotations) > 0 {
		fmt.Fprintln(w, "Annotations:")
		for _, k := range slices.Sorted(maps.Keys(info.Annotations)) {
			fmt.Fprintf(w, "  %s: %s\n", k, info.Annotations[k])
		}
	}
	if len(info.Manifests) > 0 {
		fmt.Fprintln(w, "Platforms:")
		for _, m := range info.Manifests {
			p := "(none)"
			if m.Platform != nil {
				p = m.Platform.OS + "/" + m.Platform.Architecture
			}
			fmt.Fprintf(w, "  %s  %s  %d bytes\n", p, m.Digest, m.Size)
		}
	}
	if len(gov.Signatures) > 0 {
		fmt.Fprintln(w, "Signatures:")
		for _, sg := range gov.Signatures {
			trust := "not by a trusted key"
			if sg.TrustedKey != "" {
				trust = "trusted key " + sg.TrustedKey
			}
			fmt.Fprintf(w, "  %s  %s\n", sg.Identity, trust)
		}
	} else {
		fmt.Fprintln(w, "Signatures: none")
	}
	if len(gov.Promotions) > 0 {
		fmt.Fprintln(w, "Promotion history:")
		for _, r := range gov.Promotions {
			line := fmt.Sprintf("  %s  %s -> %s  by %s (key %s)", r.Time.Format("2006-01-02 15:04:05Z"), r.From, r.To, r.By, r.KeyID)
			if r.Reason != "" {
				line += ": " + r.Reason
			}
			fmt.Fprintln(w, line+"  ["+short(r.Source)+" -> "+short(r.Subject)+"]")
		}
	}
	if len(info.Layers) > 0 {
		fmt.Fprintln(w, "Layers:")
		for _, l := range info.Layers {
			fmt.Fprintf(w, "  %s  %s  %d bytes  %s\n", l.Digest, l.MediaType, l.Size, l.Annotations[ocispec.AnnotationTitle])
		}
	}
	return nil
}

// short cuts a digest to algorithm:12 hex digits.
func short(d string) string {
	if i := strings.IndexByte(d, ':'); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
