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

	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/plugintest"
)

// Text is where a result's text form goes, as the command line prints it.
// Out gets the data a script reads (stdout): a digest reference, a folder,
// a table. Status gets the lines a person reads (stderr; io.Discard with
// --quiet). Warn gets warnings, which --quiet keeps (stderr). Terminal
// says Out is a terminal, where long table cells are shortened.
//
// Every result renders itself here, so each use case's text lives beside
// its JSON form and front ends only choose between the two.
type Text struct {
	Out, Status, Warn io.Writer
	Terminal          bool
}

// Texter is a result with a text form.
type Texter interface {
	WriteText(Text) error
}

func (t Text) status(format string, args ...any) { fmt.Fprintf(t.Status, format, args...) }

// line writes s and a newline to Out, returning the write's error (the
// data a script reads must not be lost silently).
func (t Text) line(s string) error {
	_, err := fmt.Fprintln(t.Out, s)
	return err
}

// WriteDiagnostics writes one FILE:LINE: SEVERITY: MESSAGE (HINT) line
// per finding.
func WriteDiagnostics(w io.Writer, ds []sdk.Diagnostic) {
	for _, d := range ds {
		fmt.Fprintln(w, d.String())
	}
}

// WriteText lists what init created and kept, the notes, and what to run
// next.
func (r *InitResult) WriteText(t Text) error {
	for _, p := range r.Created {
		t.status("created %s\n", p)
	}
	for _, p := range r.Kept {
		t.status("kept %s (it was there already)\n", p)
	}
	for _, n := range r.Notes {
		t.status("note: %s\n", n)
	}
	if len(r.Next) > 0 {
		t.status("next:\n")
	}
	for _, n := range r.Next {
		t.status("  %s\n", n)
	}
	return nil
}

// WriteText prints the findings on Out, and a line when the contribution
// is valid.
func (r *ValidateResult) WriteText(t Text) error {
	WriteDiagnostics(t.Out, r.Diagnostics)
	if r.Valid {
		t.status("%s: valid %s contribution %q (%d warning(s))\n", r.Dir, r.Type, r.Name, r.Warnings)
	}
	return nil
}

// WriteText warns of the findings, says what was pushed, and prints the
// digest reference on Out.
func (r *PublishResult) WriteText(t Text) error {
	WriteDiagnostics(t.Warn, r.Diagnostics)
	where := r.Reference
	if r.Local {
		where += " (local store)"
	}
	t.status("pushed %s %s contribution %s: %d blob(s) uploaded, %d already present\n", r.Tier, r.Type, where, r.Uploaded, r.Skipped)
	return t.line(r.Pinned)
}

// WriteText says what was pulled, and prints the folder on Out.
func (r *PullResult) WriteText(t Text) error {
	where := r.OutputDir
	if len(r.Platforms) > 0 {
		where += " (" + strings.Join(r.Platforms, ", ") + ")"
	}
	t.status("pulled %s %s %s (%s) into %s: %d file(s)\n", r.Verdict, r.Info.Type, r.Info.Reference, r.Info.Digest, where, len(r.Files))
	return t.line(r.OutputDir)
}

// WriteText says what was signed.
func (r *SignResult) WriteText(t Text) error {
	if r.AlreadySigned {
		t.status("%s (%s) is already signed by key %s\n", r.Reference, r.Digest, r.KeyID)
	} else {
		t.status("signed %s (%s) with key %s\n", r.Reference, r.Digest, r.KeyID)
	}
	return nil
}

// WriteText says which trusted key signed it, and the tier.
func (r *VerifyResult) WriteText(t Text) error {
	t.status("%s (%s): signed by trusted key %s (%s); tier %s\n", r.Reference, r.Digest, r.Verified.KeyID, r.Verified.KeySource, r.Verdict)
	return nil
}

// WriteText says what moved where, and prints the new digest on Out.
func (r *PromoteResult) WriteText(t Text) error {
	verb := "promoted"
	if r.To < r.From {
		verb = "demoted"
	}
	t.status("%s %s from %s to %s: %s -> %s (signed; record %s)\n", verb, r.Reference, r.From, r.To, short(r.Source), short(r.Digest), short(r.Record))
	return t.line(r.Digest)
}

// WriteText says what travelled, and prints the copy's digest reference
// on Out.
func (r *CopyResult) WriteText(t Text) error {
	t.status("copied %s to %s: %d platform manifest(s), %d referrer(s), %d cosign tag(s)\n", r.Source, r.Destination, r.Children, r.Referrers, len(r.LegacyTags))
	return t.line(r.Destination + "@" + r.Digest)
}

// WriteText names the key files.
func (r *KeyResult) WriteText(t Text) error {
	t.status("wrote %s (keep it secret) and %s (key %s)\n", r.PrivateKey, r.PublicKey, r.KeyID)
	return nil
}

// WriteText renders the result for a person at a terminal: the artifact,
// its tier as the gate found it, its annotations, platforms, signatures,
// tier history and layers.
func (r *InspectResult) WriteText(t Text) error {
	w, info, gov := t.Out, r.Info, r.Report
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
			if r.Remembered {
				line += "  (kept by this client: the registry no longer lists it)"
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
func (r *PluginListResult) WriteText(t Text) error {
	tw := tabwriter.NewWriter(t.Out, 0, 0, 2, ' ', 0)
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

// WriteText renders the report as a table, and a summary when every
// check that ran passed.
func (r *PluginCheckResult) WriteText(t Text) error {
	tw := tabwriter.NewWriter(t.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tTIME\tDETAIL")
	passed := 0
	for _, res := range r.Checks {
		d := "-"
		if res.Duration > 0 {
			d = res.Duration.Round(time.Millisecond).String()
		}
		if res.Status == plugintest.Pass {
			passed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Name, strings.ToUpper(string(res.Status)), d, res.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Failed()) == 0 {
		t.status("plugin check: %s passed %d of %d checks (%d skipped)\n", r.Binary, passed, len(r.Checks), len(r.Checks)-passed)
	}
	return nil
}

// WriteText says which plugin went where, and prints the digest reference
// on Out.
func (r *PluginPushResult) WriteText(t Text) error {
	t.status("pushed plugin %s %s for %s to %s: %d blob(s) uploaded, %d already present\n",
		r.Type, r.Version, strings.Join(r.Platforms, ", "), r.Reference, r.Uploaded, r.Skipped)
	return t.line(r.Pinned)
}

// WriteText says what was installed, where, and its pin.
func (r *PluginInstallResult) WriteText(t Text) error {
	in, pin := r.Installed, r.Installed.Pin
	if in.Replaced != nil {
		t.status("replaced plugin %s %s (from %s)\n", in.Replaced.Type, in.Replaced.Version, in.Replaced.Source)
	}
	protocols := strings.Trim(strings.ReplaceAll(fmt.Sprint(pin.Protocols), " ", ","), "[]")
	if _, err := fmt.Fprintf(t.Out, "installed plugin %s %s (%s, protocol %s) from %s@%s\n  %s\n  pinned sha256:%s in %s\n",
		pin.Type, pin.Version, pin.Platform, protocols, pin.Source, pin.Digest, in.Path, pin.SHA256, r.LockFile); err != nil {
		return err
	}
	if r.ShadowedBy != "" {
		t.status("note: %s (from $%s) is used instead until you remove it\n", r.ShadowedBy, plugin.DirEnv)
	}
	return nil
}

// WriteText says which plugin was removed.
func (r *PluginRemoveResult) WriteText(t Text) error {
	if r.Pin != nil {
		return t.line(fmt.Sprintf("removed plugin %s %s (installed from %s)", r.Removed, r.Pin.Version, r.Pin.Source))
	}
	return t.line(fmt.Sprintf("removed plugin %s (it had no pin)", r.Removed))
}

// WriteText prints the index on Out (unless it went to a file) and says
// how much it holds.
func (r *IndexBuildResult) WriteText(t Text) error {
	what := "indexed"
	if r.File != "" {
		what = "wrote " + r.File + ":"
	} else {
		data, err := r.Index.Marshal()
		if err != nil {
			return err
		}
		if _, err := t.Out.Write(data); err != nil {
			return err
		}
	}
	t.status("%s %d contribution(s), %d version(s) from %d repository reference(s)\n", what, len(r.Index.Entries), r.Versions(), r.Repos)
	return nil
}

// WriteText says what was published, and prints the digest reference on
// Out.
func (r *IndexPushResult) WriteText(t Text) error {
	t.status("published index %s (%d contribution(s)) as %s\n", r.File, r.Entries, r.Reference)
	return t.line(r.Pinned)
}

// WriteText says what was added.
func (r *IndexAddResult) WriteText(t Text) error {
	t.status("added index %s (%s %s): %d contribution(s)\n", r.Index.Name, r.Index.Kind, r.Index.Location, r.Entries)
	return nil
}

// WriteText says what was removed.
func (r *IndexRemoveResult) WriteText(t Text) error {
	t.status("removed index %s (%s)\n", r.Removed.Name, r.Removed.Location)
	return nil
}

// WriteText says which indexes were updated (the failures are the error).
func (r *IndexUpdateResult) WriteText(t Text) error {
	for _, u := range r.Updated {
		if u.Error == "" {
			t.status("updated index %s: %d contribution(s)\n", u.Name, u.Entries)
		}
	}
	return nil
}

// WriteText renders the configured indexes as a table, and warns of the
// ones that cannot be read.
func (r *IndexListResult) WriteText(t Text) error {
	if len(r.Indexes) == 0 {
		t.status("no index is configured; add one with `tierpack index add NAME FILE|URL|REF`\n")
		return nil
	}
	tw := tabwriter.NewWriter(t.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tENTRIES\tUPDATED\tLOCATION")
	for _, r := range r.Indexes {
		entries, updated := fmt.Sprint(r.Entries), "never"
		if r.Error != "" {
			entries = "error"
		}
		if r.Updated != nil {
			updated = r.Updated.Format("2006-01-02 15:04:05Z")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Kind, entries, updated, r.Location)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range r.Indexes {
		if r.Error != "" {
			fmt.Fprintf(t.Warn, "tierpack: warning: %s\n", r.Error)
		}
	}
	return nil
}

// WriteText renders the tags, one a line; with Long, what each holds and
// its tier.
func (r *TagsResult) WriteText(t Text) error {
	tw := tabwriter.NewWriter(t.Out, 0, 0, 2, ' ', 0)
	for _, row := range r.Tags {
		switch {
		case !r.Long:
			fmt.Fprintln(tw, row.Tag)
		case row.Error != "":
			fmt.Fprintf(tw, "%s\t-\t-\tERROR: %s\n", row.Tag, row.Error)
		default:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Tag, short(row.Digest), row.Type, row.Tier)
		}
	}
	return tw.Flush()
}

// WriteText says where the cache is and what it holds.
func (r *CacheInfo) WriteText(t Text) error {
	_, err := fmt.Fprintf(t.Out, "%s: %d blob(s), %.1f MiB on disk\n", r.Dir, r.Blobs, float64(r.Bytes)/(1<<20))
	if err == nil && r.TempBytes > 0 {
		_, err = fmt.Fprintf(t.Out, "  of which %.1f MiB are temporary files: work in progress, or left by a killed command "+
			"(the next command removes those once no other tierpack runs; `tierpack cache clean` removes everything)\n",
			float64(r.TempBytes)/(1<<20))
	}
	return err
}

// WriteText says what was deleted.
func (r *CacheCleanResult) WriteText(t Text) error {
	t.status("deleted %s\n", r.Deleted)
	return nil
}

// WriteText says who is logged in where (or out).
func (r *LoginResult) WriteText(t Text) error {
	if r.Username == "" {
		t.status("logged out of %s\n", r.Registry)
	} else {
		t.status("logged in to %s as %s\n", r.Registry, r.Username)
	}
	return nil
}

// WriteText prints the versions on one line.
func (v *VersionInfo) WriteText(t Text) error {
	return t.line(fmt.Sprintf("tierpack %s (sdk %s, plugin protocol %d, %s, %s)", v.Version, v.SDKVersion, v.PluginProtocol, v.Go, v.Platform))
}

// WriteText renders search hits as a table; on a terminal descriptions
// are cut to 50 runes (piped, the whole line is data).
func (r *SearchResult) WriteText(t Text) error {
	if len(r.Results) == 0 {
		t.status("nothing matches in %d index(es) (%d contribution(s) in all)\n", r.Indexes, r.Entries)
		return nil
	}
	maxDesc := 0
	if t.Terminal {
		maxDesc = 50
	}
	tw := tabwriter.NewWriter(t.Out, 0, 0, 2, ' ', 0)
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
