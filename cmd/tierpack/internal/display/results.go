package display

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.yaml.in/yaml/v3"

	"github.com/tierpack/tierpack/pkg/catalog"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk"
	"github.com/tierpack/tierpack/sdk/plugintest"
)

// Show renders a use case's result as text: the data a script reads on
// stdout, what a person reads as status lines on stderr.
func (d *Display) Show(res any) error {
	switch r := res.(type) {
	case *tierpack.InitResult:
		return d.init(r)
	case *tierpack.ValidateResult:
		d.Diagnostics(d.out, r.Diagnostics)
		if r.Valid {
			d.Statusf("%s: valid %s contribution %q (%d warning(s))\n", r.Dir, r.Type, r.Name, r.Warnings)
		}
	case *tierpack.PublishResult:
		return d.publish(r)
	case *tierpack.PullResult:
		where := r.OutputDir
		if len(r.Platforms) > 0 {
			where += " (" + strings.Join(r.Platforms, ", ") + ")"
		}
		d.Statusf("pulled %s %s %s (%s) into %s: %d file(s)\n", r.Verdict, r.Info.Type, r.Info.Reference, r.Info.Digest, where, len(r.Files))
		return d.Outf("%s\n", r.OutputDir)
	case *tierpack.SignResult:
		if r.AlreadySigned {
			d.Statusf("%s (%s) is already signed by key %s\n", r.Reference, r.Digest, r.KeyID)
		} else {
			d.Statusf("signed %s (%s) with key %s\n", r.Reference, r.Digest, r.KeyID)
		}
	case *tierpack.VerifyResult:
		d.Statusf("%s (%s): signed by trusted key %s (%s); tier %s\n", r.Reference, r.Digest, r.Verified.KeyID, r.Verified.KeySource, r.Verdict)
	case *tierpack.PromoteResult:
		if r.CoSigned && r.Record == "" {
			d.Statusf("%s (%s) is at %s, and this key had approved it already: nothing to add\n", r.Reference, short(r.Digest), r.To)
			return d.Outf("%s\n", r.Digest)
		}
		if r.CoSigned {
			d.Statusf("approved %s (%s) at %s: this key's record is added (record %s); nothing moved\n", r.Reference, short(r.Digest), r.To, short(r.Record))
			return d.Outf("%s\n", r.Digest)
		}
		verb := "promoted"
		if r.To < r.From {
			verb = "demoted"
		}
		d.Statusf("%s %s from %s to %s: %s -> %s (signed; record %s)\n", verb, r.Reference, r.From, r.To, short(r.Source), short(r.Digest), short(r.Record))
		return d.Outf("%s\n", r.Digest)
	case *tierpack.ResignResult:
		d.Statusf("signed %d tier record(s) of %s (%s) again with key %s, and the manifest\n", len(r.Records), r.Reference, short(r.Digest), r.KeyID)
		return d.Outf("%s\n", r.Digest)
	case *tierpack.CopyResult:
		d.Statusf("copied %s to %s: %d platform manifest(s), %d referrer(s), %d cosign tag(s)\n", r.Source, r.Destination, r.Children, r.Referrers, len(r.LegacyTags))
		return d.Outf("%s@%s\n", r.Destination, r.Digest)
	case *tierpack.KeyResult:
		d.Statusf("wrote %s (keep it secret) and %s (key %s)\n", r.PrivateKey, r.PublicKey, r.KeyID)
	case *tierpack.InspectResult:
		return d.inspect(r)
	case *tierpack.PluginListResult:
		return d.pluginList(r)
	case *tierpack.PluginCheckResult:
		return d.pluginCheck(r)
	case *tierpack.PluginPushResult:
		d.Statusf("pushed plugin %s %s for %s to %s: %d blob(s) uploaded, %d already present%s\n",
			r.Type, r.Version, strings.Join(r.Platforms, ", "), r.Reference, r.Uploaded, r.Skipped, map[bool]string{true: "; signed with " + r.SignedBy}[r.SignedBy != ""])
		return d.Outf("%s\n", r.Pinned)
	case *tierpack.PluginInstallResult:
		return d.pluginInstall(r)
	case *tierpack.InstallResult:
		i := r.Installation
		if r.Unchanged {
			d.Statusf("%s %s is installed already in %s\n", i.Name, i.Version, i.Destination)
			return nil
		}
		if err := d.Outf("installed %s %s (%s, verified %s; required %s) from %s into %s\n", i.Name, i.Version, short(i.Digest), i.VerifiedTier, i.RequiredTier, i.Source, i.Destination); err != nil {
			return err
		}
		for _, dep := range r.Dependencies {
			if dep.Plugin {
				d.Outf("  with plugin %s %s (%s) from %s\n", dep.Name, dep.Version, short(dep.Digest), dep.Source)
				continue
			}
			d.Outf("  with %s %s (%s, verified %s) from %s into %s\n", dep.Name, dep.Version, short(dep.Digest), dep.VerifiedTier, dep.Source, dep.Destination)
		}
		if len(r.PassedOver) > 0 {
			d.Statusf("newer versions passed over: %s\n", strings.Join(r.PassedOver, "; "))
		}
		return nil
	case *tierpack.InstalledResult:
		return d.installed(r.Installed)
	case *tierpack.UninstallResult:
		for _, dep := range r.Dependencies {
			d.Outf("uninstalled %s %s, which only it needed: removed %s\n", dep.Name, dep.Version, dep.Destination)
		}
		return d.Outf("uninstalled %s %s: removed %s\n", r.Removed.Name, r.Removed.Version, r.Removed.Destination)
	case *tierpack.UpdateResult:
		for _, u := range r.Updates {
			line := u.Name + ": " + u.Action + " " + u.From
			if u.To != "" {
				line += " -> " + u.To
			}
			if u.Why != "" {
				line += ": " + u.Why
			}
			if r.DryRun && u.Action != "unchanged" {
				line += " (dry run: nothing changed)"
			}
			d.Outf("%s\n", line)
		}
	case *tierpack.MirrorResult:
		copied := 0
		for _, v := range r.Versions {
			what := "there already"
			if v.Copied {
				what, copied = "copied", copied+1
			}
			d.Outf("%s:%s (%s, %s): %s\n", v.Repository, v.Version, short(v.Digest), v.Tier, what)
		}
		for _, s := range r.Skipped {
			d.Statusf("left out %s\n", s)
		}
		d.Statusf("mirrored %d version(s) of index %s into %s (%d copied now); the index is %s\n", len(r.Versions), r.Index, r.Dest, copied, r.IndexRef)
	case *tierpack.AuditResult:
		if err := d.installed(r.Installed); err != nil {
			return err
		}
		for _, p := range r.Plugins {
			if p.Problem != "" {
				d.Outf("plugin %s %s: FAILED: %s\n", p.Type, p.Version, p.Problem)
			}
		}
		if r.Offenders == 0 {
			d.Statusf("audit: everything installed still meets its required tier\n")
		}
	case *tierpack.PluginVerifyResult:
		for _, p := range r.Plugins {
			if p.Problem == "" {
				d.Outf("%s %s: ok, signed by %s\n", p.Type, p.Version, p.Signer)
			} else {
				d.Outf("%s %s: FAILED: %s\n", p.Type, p.Version, p.Problem)
			}
		}
	case *tierpack.PluginRemoveResult:
		if r.Pin != nil {
			return d.Outf("removed plugin %s %s (installed from %s)\n", r.Removed, r.Pin.Version, r.Pin.Source)
		}
		return d.Outf("removed plugin %s (it had no pin)\n", r.Removed)
	case *tierpack.IndexBuildResult:
		return d.indexBuild(r)
	case *tierpack.IndexPushResult:
		d.Statusf("published index %s (%d contribution(s)) as %s\n", r.File, r.Entries, r.Reference)
		return d.Outf("%s\n", r.Pinned)
	case *tierpack.IndexAddResult:
		d.Statusf("added index %s (%s %s): %d contribution(s)\n", r.Index.Name, r.Index.Kind, r.Index.Location, r.Entries)
		if len(r.SuggestedScopes) > 0 {
			return d.suggestScopes(r)
		}
	case *tierpack.IndexRemoveResult:
		d.Statusf("removed index %s (%s)\n", r.Removed.Name, r.Removed.Location)
	case *tierpack.IndexUpdateResult:
		for _, u := range r.Updated {
			if u.Error == "" {
				d.Statusf("updated index %s: %d contribution(s)\n", u.Name, u.Entries)
			}
		}
	case *tierpack.IndexListResult:
		return d.indexList(r)
	case *tierpack.TagsResult:
		return d.tags(r)
	case *tierpack.CacheInfo:
		err := d.Outf("%s: %d blob(s), %.1f MiB on disk\n", r.Dir, r.Blobs, float64(r.Bytes)/(1<<20))
		if err == nil && r.TempBytes > 0 {
			err = d.Outf("  of which %.1f MiB are temporary files: work in progress, or left by a killed command "+
				"(the next command removes those once no other tierpack runs; `tierpack cache clean` removes everything)\n",
				float64(r.TempBytes)/(1<<20))
		}
		return err
	case *tierpack.CacheCleanResult:
		d.Statusf("deleted %s\n", r.Deleted)
	case *tierpack.LoginResult:
		if r.Username == "" {
			d.Statusf("logged out of %s\n", r.Registry)
		} else {
			d.Statusf("logged in to %s as %s\n", r.Registry, r.Username)
		}
	case *tierpack.VersionInfo:
		return d.Outf("tierpack %s (sdk %s, plugin protocol %d, %s, %s)\n", r.Version, r.SDKVersion, r.PluginProtocol, r.Go, r.Platform)
	case *tierpack.SearchResult:
		return d.search(r)
	case *tierpack.StoreCheckResult:
		return d.storeCheck(r)
	case *catalog.Built:
		d.Statusf("wrote %d files (%d contributions) to %s\n", len(r.Files), r.Entries, r.Dir)
	default:
		return fmt.Errorf("display: no text form for %T", res)
	}
	return nil
}

// Diagnostics writes one FILE:LINE: SEVERITY: MESSAGE (HINT) line per
// finding (stdout for validate, stderr as warnings for push).
func (d *Display) Diagnostics(w io.Writer, ds []sdk.Diagnostic) {
	for _, dg := range ds {
		Fprintf(w, "%s\n", dg)
	}
}

// DiagnosticsErr writes findings on stderr.
func (d *Display) DiagnosticsErr(ds []sdk.Diagnostic) { d.Diagnostics(d.warn, ds) }

func (d *Display) init(r *tierpack.InitResult) error {
	for _, p := range r.Created {
		d.Statusf("created %s\n", p)
	}
	for _, p := range r.Kept {
		d.Statusf("kept %s (it was there already)\n", p)
	}
	for _, n := range r.Notes {
		d.Statusf("note: %s\n", n)
	}
	if len(r.Next) > 0 {
		d.Statusf("next:\n")
	}
	for _, n := range r.Next {
		d.Statusf("  %s\n", n)
	}
	return nil
}

func (d *Display) publish(r *tierpack.PublishResult) error {
	d.Diagnostics(d.warn, r.Diagnostics)
	if r.Local {
		// A step on this machine: nothing went over a network.
		d.Statusf("stored %s %s contribution %s in the local store: %d blob(s) written, %d already there\n", r.Tier, r.Type, r.Reference, r.Uploaded, r.Skipped)
	} else if r.Unchanged {
		d.Statusf("pushed %s %s contribution %s: unchanged, published with this digest already (%d blob(s) uploaded, %d already present; nothing signed again, no tag moved)\n", r.Tier, r.Type, r.Reference, r.Uploaded, r.Skipped)
	} else {
		d.Statusf("pushed %s %s contribution %s: %d blob(s) uploaded, %d already present\n", r.Tier, r.Type, r.Reference, r.Uploaded, r.Skipped)
	}
	return d.Outf("%s\n", r.Pinned)
}

// inspect renders the artifact, its tier as the gate found it, its
// annotations, platforms, signatures, tier history and layers.
func (d *Display) inspect(r *tierpack.InspectResult) error {
	w, info, gov := d.out, r.Info, r.Report
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, kv := range [][2]string{{"Reference", info.Reference}, {"Digest", info.Digest}, {"Media type", info.MediaType},
		{"Artifact type", info.ArtifactType}, {"Tier", r.Verdict.String()}, {"Type", info.Type}, {"Name", info.Name}, {"Version", info.Version}} {
		if kv[1] != "" {
			Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
		}
	}
	tw.Flush()
	if len(info.Annotations) > 0 {
		fmt.Fprintln(w, "Annotations:")
		for _, k := range slices.Sorted(maps.Keys(info.Annotations)) {
			Fprintf(w, "  %s: %s\n", k, info.Annotations[k])
		}
	}
	if len(info.Manifests) > 0 {
		fmt.Fprintln(w, "Platforms:")
		for _, m := range info.Manifests {
			p := "(none)"
			if m.Platform != nil {
				p = m.Platform.OS + "/" + m.Platform.Architecture
			}
			Fprintf(w, "  %s  %s  %d bytes\n", p, m.Digest, m.Size)
		}
	}
	if len(gov.Signatures) > 0 {
		fmt.Fprintln(w, "Signatures:")
		for _, sg := range gov.Signatures {
			trust := "not by a trusted key"
			switch {
			case sg.ForAnotherDigest && sg.TrustedKey != "":
				trust = "by trusted key " + sg.TrustedKey + ", but signed for another digest, " + short(sg.Digest) + ": replayed here, it proves nothing"
			case sg.ForAnotherDigest:
				trust = "signed for another digest, " + short(sg.Digest)
			case sg.TrustedKey != "":
				trust = "trusted key " + sg.TrustedKey
			case sg.TrustedIdentity != "":
				trust = "trusted identity " + sg.TrustedIdentity
			}
			Fprintf(w, "  %s  %s  (%s)\n", sg.Identity, trust, sg.Format)
		}
	} else {
		fmt.Fprintln(w, "Signatures: none")
	}
	if len(gov.Promotions) > 0 {
		fmt.Fprintln(w, "Promotion history:")
		for _, p := range gov.Promotions {
			Fprintf(w, "  %s  %s -> %s  by %s (key %s)", p.Time.Format("2006-01-02 15:04:05Z"), p.From, p.To, p.By, p.KeyID)
			if why := p.Why(); why != "" {
				Fprintf(w, ": %s", why)
			}
			if p.Remembered {
				fmt.Fprint(w, "  (kept by this client: the registry no longer lists it)")
			}
			Fprintf(w, "  [%s -> %s]\n", short(p.Source), short(p.Subject))
		}
	}
	if len(info.Layers) > 0 {
		fmt.Fprintln(w, "Layers:")
		for _, l := range info.Layers {
			Fprintf(w, "  %s  %s  %d bytes  %s\n", l.Digest, l.MediaType, l.Size, l.Annotations[ocispec.AnnotationTitle])
		}
	}
	return nil
}

// short cuts a digest to algorithm:12 hex digits.
func short(dg string) string {
	if i := strings.IndexByte(dg, ':'); i >= 0 && len(dg) > i+13 {
		return dg[:i+13]
	}
	return dg
}

func (d *Display) pluginList(r *tierpack.PluginListResult) error {
	if r.SandboxOff {
		d.Statusf("plugin sandbox: off (TIERPACK_PLUGIN_SANDBOX=off): plugins run unconfined\n")
	} else {
		d.Statusf("plugin sandbox: %s\n", r.Sandbox)
	}
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tVERSION\tPROTOCOL\tSOURCE\tPIN\tSIGNER\tDESCRIPTION")
	for _, p := range r.Plugins {
		src, pin, signer := p.Path, "unpinned", "-"
		switch {
		case p.Builtin:
			src, pin, signer = "built-in", "-", "tierpack"
		case p.Pin != nil:
			src, pin, signer = p.Pin.Source, "sha256:"+p.Pin.SHA256[:min(12, len(p.Pin.SHA256))], cmp.Or(p.Pin.Signer, "unsigned")
		}
		if p.Error != "" {
			Fprintf(tw, "%s\t-\t-\t%s\t%s\t%s\tERROR: %s\n", p.Type, src, pin, signer, p.Error)
			continue
		}
		Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", p.Type, p.Description.Version, p.Protocol, src, pin, signer, p.Description.Description)
		for _, s := range p.Shadowed {
			Fprintf(tw, "\t\t\t  (shadows %s)\t\t\t\n", s)
		}
	}
	return tw.Flush()
}

func (d *Display) pluginCheck(r *tierpack.PluginCheckResult) error {
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tTIME\tDETAIL")
	passed := 0
	for _, res := range r.Checks {
		dur := "-"
		if res.Duration > 0 {
			dur = res.Duration.Round(time.Millisecond).String()
		}
		if res.Status == plugintest.Pass {
			passed++
		}
		Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Name, strings.ToUpper(string(res.Status)), dur, res.Message)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Failed()) == 0 {
		d.Statusf("plugin check: %s passed %d of %d checks (%d skipped)\n", r.Binary, passed, len(r.Checks), len(r.Checks)-passed)
	}
	return nil
}

func (d *Display) pluginInstall(r *tierpack.PluginInstallResult) error {
	in, pin := r.Installed, r.Installed.Pin
	if in.Replaced != nil {
		d.Statusf("replaced plugin %s %s (from %s)\n", in.Replaced.Type, in.Replaced.Version, in.Replaced.Source)
	}
	protocols := strings.Trim(strings.ReplaceAll(fmt.Sprint(pin.Protocols), " ", ","), "[]")
	// The source may already end in the digest it was installed by.
	from := pin.Source
	if !strings.HasSuffix(from, "@"+pin.Digest) {
		from += "@" + pin.Digest
	}
	if err := d.Outf("installed plugin %s %s (%s, protocol %s) from %s, signed by %s\n  %s\n  pinned sha256:%s in %s\n",
		pin.Type, pin.Version, pin.Platform, protocols, from, cmp.Or(pin.Signer, "nobody trusted (unsigned)"), in.Path, pin.SHA256, r.LockFile); err != nil {
		return err
	}
	if r.ShadowedBy != "" {
		d.Statusf("note: %s (from $%s) is used instead until you remove it\n", r.ShadowedBy, plugin.DirEnv)
	}
	return nil
}

func (d *Display) indexBuild(r *tierpack.IndexBuildResult) error {
	what := "indexed"
	if r.File != "" {
		what = "wrote " + r.File + ":"
	} else {
		data, err := r.Index.Marshal()
		if err != nil {
			return err
		}
		// YAML is data in a format of its own: exact.
		if _, err := d.rawOut.Write(data); err != nil {
			return err
		}
	}
	d.Statusf("%s %d contribution(s), %d version(s) from %d repository reference(s)\n", what, len(r.Index.Entries), r.Versions(), r.Repos)
	return nil
}

func (d *Display) indexList(r *tierpack.IndexListResult) error {
	if len(r.Indexes) == 0 {
		d.Statusf("no index is configured; add one with `tierpack index add NAME FILE|URL|REF`\n")
		return nil
	}
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tENTRIES\tUPDATED\tLOCATION")
	for _, x := range r.Indexes {
		entries, updated := fmt.Sprint(x.Entries), "never"
		if x.Error != "" {
			entries = "error"
		}
		if x.Updated != nil {
			updated = x.Updated.Format("2006-01-02 15:04:05Z")
		}
		Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", x.Name, x.Kind, entries, updated, x.Location)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, x := range r.Indexes {
		if x.Error != "" {
			d.Warnf("%s", x.Error)
		}
	}
	return nil
}

func (d *Display) tags(r *tierpack.TagsResult) error {
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	for _, row := range r.Tags {
		switch {
		case !r.Long:
			Fprintf(tw, "%s\n", row.Tag)
		case row.Error != "":
			Fprintf(tw, "%s\t-\t-\tERROR: %s\n", row.Tag, row.Error)
		default:
			Fprintf(tw, "%s\t%s\t%s\t%s\n", row.Tag, short(row.Digest), row.Type, row.Tier)
		}
	}
	return tw.Flush()
}

// search renders hits as a table; on a terminal descriptions are cut to
// 50 runes (piped, the whole line is data).
func (d *Display) search(r *tierpack.SearchResult) error {
	if len(r.Results) == 0 {
		d.Statusf("nothing matches in %d index(es) (%d contribution(s) in all)\n", r.Indexes, r.Entries)
		return nil
	}
	maxDesc := 0
	if d.Terminal {
		maxDesc = 50
	}
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tTIER\tVERSION\tINDEX\tREFERENCE\tDESCRIPTION")
	for _, h := range r.Results {
		Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Type, h.TierText(), h.Version.Version, h.Index, h.Reference, shorten(Escape(h.Description), maxDesc))
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

// storeCheck says whether the store is sound, what a repair restored (or
// would), and what it could not.
func (d *Display) storeCheck(r *tierpack.StoreCheckResult) error {
	switch {
	case r.Sound:
		d.Statusf("%s is sound: %d tag(s), %d manifest(s) and %d referrer(s) among %d blob(s)\n", r.Store, len(r.Tags), r.Manifests, r.Referrers, r.Blobs)
	case r.Repaired:
		d.Statusf("%s: repaired index.json (it was damaged: %s)\n", r.Store, r.Problem)
	default:
		d.Statusf("%s is damaged: %s\n", r.Store, r.Problem)
	}
	if !r.Sound {
		verb := "would restore"
		if r.Repaired {
			verb = "restored"
		}
		d.Statusf("%s %d tag(s); %d manifest(s) and %d referrer(s) (tier records, signatures) listed from %d blob(s)\n",
			verb, len(r.Tags), r.Manifests, r.Referrers, r.Blobs)
	}
	for _, tg := range r.Tags {
		if err := d.Outf("%s\t%s\t%s\n", tg.Ref, tg.Digest, tg.From); err != nil {
			return err
		}
	}
	for _, tg := range r.Unrestored {
		d.Warnf("not restored: %s: %s", tg.Ref, tg.Reason)
	}
	if !r.Sound {
		for _, u := range r.Untagged {
			d.Statusf("kept untagged (no evidence of its tag): %s\n", u)
		}
	}
	for _, b := range r.Corrupt {
		d.Warnf("blob %s does not match its digest: remove it and push or pull that content again", b)
	}
	return nil
}

// suggestScopes prints the policy scopes that would trust the signers an
// index names, ready to paste into the policy.
func (d *Display) suggestScopes(r *tierpack.IndexAddResult) error {
	b, err := yaml.Marshal(map[string]any{"scopes": r.SuggestedScopes})
	if err != nil {
		return err
	}
	d.Statusf("the index names %d keyless signer(s) your policy does not trust for their repositories; an index's word is not trust.\n"+
		"To count their signatures at repository, add these scopes to your policy (with trustedRoot: a trusted_root.json); make it official: where the signer is the project's core release:\n", len(r.SuggestedScopes))
	_, err = d.out.Write(b)
	return err
}

// installed prints installations with their tier now.
func (d *Display) installed(rows []tierpack.InstalledRow) error {
	if len(rows) == 0 {
		d.Statusf("nothing is installed (tierpack install NAME --tier T)\n")
		return nil
	}
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tREQUIRED\tNOW\tFOLDER\tSOURCE")
	for _, r := range rows {
		now := r.Verdict
		if !r.Admitted {
			now = "BELOW: " + cmp.Or(r.Problem, r.Verdict)
		}
		Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Version, r.RequiredTier, now, r.Destination, r.Source)
	}
	return tw.Flush()
}
