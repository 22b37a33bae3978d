package tierpack

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/tierpack/tierpack/sdk/plugintest"
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
			fmt.Fprintf(w, "  %s  %s  (%s)\n", sg.Identity, trust, sg.Format)
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

// WriteText renders the plugin list as a table.
func (r *PluginListResult) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tVERSION\tPROTOCOL\tSOURCE\tPIN\tDESCRIPTION")
	for _, p := range r.Plugins {
		src, pin := p.Path, "unpinned"
		switch {
		case p.Builtin:
			src, pin = "built-in", "-"
		case p.Pin != nil:
			src, pin = p.Pin.Source, "sha256:"+p.Pin.SHA256[:min(12, len(p.Pin.SHA256))]
		}
		if p.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t%s\t%s\tERROR: %s\n", p.Type, src, pin, p.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", p.Type, p.Description.Version, p.Protocol, src, pin, p.Description.Description)
		for _, s := range p.Shadowed {
			fmt.Fprintf(tw, "\t\t\t  (shadows %s)\t\t\n", s)
		}
	}
	return tw.Flush()
}

// WriteCheckReport renders a conformance report as a table.
func WriteCheckReport(w io.Writer, r *plugintest.Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tTIME\tDETAIL")
	for _, res := range r.Checks {
		d := "-"
		if res.Duration > 0 {
			d = res.Duration.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Name, strings.ToUpper(string(res.Status)), d, res.Message)
	}
	return tw.Flush()
}

// Passed counts the checks of r that passed.
func Passed(r *plugintest.Report) int {
	n := 0
	for _, res := range r.Checks {
		if res.Status == plugintest.Pass {
			n++
		}
	}
	return n
}

// WriteIndexList renders the configured indexes as a table.
func WriteIndexList(w io.Writer, rows []IndexRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tENTRIES\tUPDATED\tLOCATION")
	for _, r := range rows {
		entries, updated := fmt.Sprint(r.Entries), "never"
		if r.Error != "" {
			entries = "error"
		}
		if r.Updated != nil {
			updated = r.Updated.Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, entries, updated, r.Location)
	}
	return tw.Flush()
}

// WriteText renders search hits as a table; descriptions are cut to
// maxDesc runes (0: whole), for terminals.
func (r *SearchResult) WriteText(w io.Writer, maxDesc int) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tTIER\tVERSION\tINDEX\tREFERENCE\tDESCRIPTION")
	for _, h := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Type, h.TierText(), h.Version.Version, h.Index, h.Reference, shorten(h.Description, maxDesc))
	}
	return tw.Flush()
}

// shorten cuts s to max runes with an ellipsis; max 0 means no limit.
func shorten(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:max-1])) + "…"
}
