// Package run holds what each tierpack command does once its flags are
// read: one function per command, taking typed options (the use case's
// request, or a small struct for the commands that take plain arguments)
// and an Env — the use cases, where output goes and in which form. The
// command line (cmd/tierpack) only maps flags to options (cli/cli's
// Options + runF, on urfave/cli). Tests call these functions in-process
// against a real registry (internal/registrytest), in milliseconds, with
// output in buffers.
package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/tierpack/tierpack/cmd/tierpack/internal/display"
	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/catalog"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/sdk"
)

// Env is what a command runs with.
type Env struct {
	Ctx    context.Context
	Client *tierpack.Client
	// Display renders text (stdout, stderr, escaped).
	Display *display.Display
	// JSON, when set, prints the command's one JSON document instead of
	// text (--output json).
	JSON func(v any) error
	// Progress, when set, is told about blob transfers.
	Progress oci.Progress
}

// ExitError ends a command with an exit code of its own after its output
// was shown (a contribution with errors, a damaged store): Msg is said as
// the error, unless empty.
type ExitError struct {
	Msg  string
	Code tierpack.Code
}

func (e *ExitError) Error() string { return e.Msg }

// ExitCode is the process's exit code.
func (e *ExitError) ExitCode() int { return int(e.Code) }

// show returns err, or prints res as JSON or text.
func (e *Env) show(res any, err error) error {
	if err != nil {
		return err
	}
	if e.JSON != nil {
		return e.JSON(res)
	}
	return e.Display.Show(res)
}

// showPartial prints what a use case returned beside its error (the
// indexes that updated, the checks that ran) and returns the error.
func (e *Env) showPartial(res any, err error) error {
	return errors.Join(e.show(res, nil), err)
}

// Init writes a new contribution's starter files.
func Init(e *Env, o tierpack.InitRequest) error {
	res, err := e.Client.Init(e.Ctx, o)
	if err != nil && res != nil && e.JSON == nil { // what was created before the failure
		_ = e.Display.Show(&tierpack.InitResult{Created: res.Created, Kept: res.Kept})
	}
	return e.show(res, err)
}

// Validate checks a contribution; findings with errors exit 3.
func Validate(e *Env, o tierpack.ValidateRequest) error {
	res, err := e.Client.Validate(e.Ctx, o)
	if err = e.show(res, err); err == nil && !res.Valid {
		return &ExitError{fmt.Sprintf("%s: %d error(s), %d warning(s)", res.Dir, res.Errors, res.Warnings), tierpack.CodeInvalid}
	}
	return err
}

// Publish validates, packages and pushes a contribution (push, package).
func Publish(e *Env, o tierpack.PublishRequest) error {
	o.Progress = e.Progress
	res, err := e.Client.Publish(e.Ctx, o)
	var ve *artifact.ValidationError
	if errors.As(err, &ve) && e.JSON == nil {
		e.Display.DiagnosticsErr(ve.Diagnostics)
		return &ExitError{fmt.Sprintf("%s: not pushed: %d error(s) (run `tierpack validate %s` for details)", o.Dir, sdk.Count(ve.Diagnostics, sdk.SeverityError), o.Dir), tierpack.CodeInvalid}
	}
	return e.show(res, err)
}

// Pull fetches an artifact at the tier asked for and unpacks it.
func Pull(e *Env, o tierpack.PullRequest) error {
	o.Progress = e.Progress
	res, err := e.Client.Pull(e.Ctx, o)
	return e.show(res, err)
}

// Inspect reports an artifact, its verified tier and history.
func Inspect(e *Env, o tierpack.InspectRequest) error {
	res, err := e.Client.Inspect(e.Ctx, o)
	return e.show(res, err)
}

// Tags lists a repository's tags.
func Tags(e *Env, o tierpack.TagsRequest) error {
	res, err := e.Client.Tags(e.Ctx, o)
	return e.show(res, err)
}

// Sign signs an artifact.
func Sign(e *Env, o tierpack.SignRequest) error {
	res, err := e.Client.Sign(e.Ctx, o)
	return e.show(res, err)
}

// Verify checks an artifact's signature and tier.
func Verify(e *Env, o tierpack.VerifyRequest) error {
	res, err := e.Client.Verify(e.Ctx, o)
	return e.show(res, err)
}

// Promote moves an artifact to another tier.
func Promote(e *Env, o tierpack.PromoteRequest) error {
	res, err := e.Client.Promote(e.Ctx, o)
	return e.show(res, err)
}

// Resign signs a version's tier records again with another key.
func Resign(e *Env, o tierpack.ResignRequest) error {
	res, err := e.Client.Resign(e.Ctx, o)
	return e.show(res, err)
}

// CopyOptions name what copy copies where.
type CopyOptions struct{ Src, Dst string }

// Copy copies an artifact with its trust chain.
func Copy(e *Env, o CopyOptions) error {
	res, err := e.Client.Copy(e.Ctx, o.Src, o.Dst)
	return e.show(res, err)
}

// KeyGenerate writes a cosign key pair.
func KeyGenerate(e *Env, o tierpack.KeyRequest) error {
	res, err := e.Client.GenerateKey(o)
	return e.show(res, err)
}

// IndexBuild indexes repositories; skipped tags are status lines.
func IndexBuild(e *Env, o tierpack.IndexBuildRequest) error {
	if e.JSON == nil && o.Skipped == nil {
		o.Skipped = func(ref, reason string) { e.Display.Statusf("skipped %s: %s\n", ref, reason) }
	}
	res, err := e.Client.IndexBuild(e.Ctx, o)
	return e.show(res, err)
}

// IndexPushOptions name the index file and where it goes.
type IndexPushOptions struct{ File, Ref string }

// IndexPush publishes an index as an OCI artifact.
func IndexPush(e *Env, o IndexPushOptions) error {
	res, err := e.Client.IndexPush(e.Ctx, o.File, o.Ref)
	return e.show(res, err)
}

// IndexAddOptions name an index and where it is.
type IndexAddOptions struct{ Name, Location string }

// IndexAdd configures an index.
func IndexAdd(e *Env, o IndexAddOptions) error {
	res, err := e.Client.IndexAdd(e.Ctx, o.Name, o.Location)
	return e.show(res, err)
}

// IndexList shows the configured indexes.
func IndexList(e *Env) error {
	res, err := e.Client.IndexList()
	return e.show(res, err)
}

// IndexRemove forgets a configured index.
func IndexRemove(e *Env, name string) error {
	res, err := e.Client.IndexRemove(name)
	return e.show(res, err)
}

// IndexUpdate fetches configured indexes again; those that failed are the
// error, after the others are shown.
func IndexUpdate(e *Env, names []string) error {
	res, err := e.Client.IndexUpdate(e.Ctx, names)
	if res == nil {
		return err
	}
	return e.showPartial(res, err)
}

// Search finds contributions in the configured indexes (search, list).
func Search(e *Env, o tierpack.SearchRequest) error {
	res, err := e.Client.Search(e.Ctx, o)
	if res != nil {
		for _, w := range res.Warnings { // in either format
			e.Display.Warnf("%v", w)
		}
	}
	return e.show(res, err)
}

// PluginList lists the plugins this machine has.
func PluginList(e *Env) error {
	res, err := e.Client.PluginList(e.Ctx)
	return e.show(res, err)
}

// PluginCheck runs the conformance checks; the failed ones are the error,
// after the report.
func PluginCheck(e *Env, o tierpack.PluginCheckRequest) error {
	res, err := e.Client.PluginCheck(e.Ctx, o)
	if res == nil {
		return err
	}
	return e.showPartial(res, err)
}

// PluginPush publishes plugin binaries.
func PluginPush(e *Env, o tierpack.PluginPushRequest) error {
	o.Progress = e.Progress
	res, err := e.Client.PluginPush(e.Ctx, o)
	return e.show(res, err)
}

// PluginInstall installs and pins a published plugin.
func PluginInstall(e *Env, o tierpack.PluginInstallRequest) error {
	res, err := e.Client.PluginInstall(e.Ctx, o)
	return e.show(res, err)
}

// PluginVerify re-checks the installed plugins.
func PluginVerify(e *Env, keyFiles []string) error {
	res, err := e.Client.PluginVerify(e.Ctx, keyFiles)
	if res == nil {
		return err
	}
	return e.showPartial(res, err)
}

// PluginRemove removes an installed plugin.
func PluginRemove(e *Env, typ string) error {
	res, err := e.Client.PluginRemove(typ)
	return e.show(res, err)
}

// CacheInfo says where the cache is and what it holds.
func CacheInfo(e *Env) error {
	res, err := e.Client.CacheInfo()
	return e.show(res, err)
}

// CacheClean deletes the cache.
func CacheClean(e *Env) error {
	res, err := e.Client.CacheClean()
	return e.show(res, err)
}

// LoginOptions are checked, then saved, credentials for a registry.
type LoginOptions struct {
	Host       string
	Credential auth.Credential
}

// Login checks and saves credentials.
func Login(e *Env, o LoginOptions) error {
	res, err := e.Client.Login(e.Ctx, o.Host, o.Credential)
	return e.show(res, err)
}

// Logout forgets a registry's credentials.
func Logout(e *Env, host string) error {
	res, err := e.Client.Logout(e.Ctx, host)
	return e.show(res, err)
}

// StoreCheck checks (and repairs) the local store or an OCI layout; damage
// left unrepaired exits 1 after the report.
func StoreCheck(e *Env, o tierpack.StoreCheckRequest) error {
	res, err := e.Client.StoreCheck(e.Ctx, o)
	if err = e.show(res, err); err == nil && res.Damaged() != nil {
		return &ExitError{Code: tierpack.CodeError}
	}
	return err
}

// Catalog reads the catalog's contributions (the configured indexes, and
// repositories indexed on the fly), warning of what could not be read.
func Catalog(e *Env, o tierpack.CatalogRequest) (*catalog.Catalog, error) {
	res, err := e.Client.Catalog(e.Ctx, o)
	if err != nil {
		return nil, err
	}
	for _, w := range res.Warnings {
		e.Display.Warnf("%v", w)
	}
	return catalog.New(res, time.Now()), nil
}

// CatalogBuildOptions say what the static catalog holds and where it goes.
type CatalogBuildOptions struct {
	tierpack.CatalogRequest
	Dir string
}

// CatalogBuild writes the catalog as static files.
func CatalogBuild(e *Env, o CatalogBuildOptions) error {
	cat, err := Catalog(e, o.CatalogRequest)
	if err != nil {
		return err
	}
	files, err := cat.Build(o.Dir)
	return e.show(&catalog.Built{Dir: o.Dir, Files: files, Entries: len(cat.Entries)}, err)
}

// CatalogServe serves the catalog on ln until ctx ends.
func CatalogServe(e *Env, o tierpack.CatalogRequest, ln net.Listener) error {
	cat, err := Catalog(e, o)
	if err != nil {
		ln.Close()
		return err
	}
	e.Display.Outf("serving the catalog (%d contributions) on http://%s/\n", len(cat.Entries), ln.Addr())
	return cat.Serve(e.Ctx, ln)
}

// Version prints tierpack's versions.
func Version(e *Env) error { return e.show(tierpack.Versions(), nil) }

// Install installs a contribution and records it.
func Install(e *Env, o tierpack.InstallRequest) error {
	res, err := e.Client.Install(e.Ctx, o)
	return e.show(res, err)
}

// Installed lists what is installed.
func Installed(e *Env, state string, keyFiles []string) error {
	res, err := e.Client.Installed(e.Ctx, state, keyFiles)
	return e.show(res, err)
}

// Uninstall removes an installation.
func Uninstall(e *Env, name, state string) error {
	res, err := e.Client.Uninstall(e.Ctx, name, state)
	return e.show(res, err)
}

// Update moves installations forward, or back from a demotion.
func Update(e *Env, o tierpack.UpdateRequest) error {
	res, err := e.Client.Update(e.Ctx, o)
	if res == nil {
		return err
	}
	return e.showPartial(res, err)
}

// Audit re-verifies what is installed.
func Audit(e *Env, state string, keyFiles []string) error {
	res, err := e.Client.Audit(e.Ctx, state, keyFiles)
	if res == nil {
		return err
	}
	return e.showPartial(res, err)
}

// FollowCheck is one check of follow, as a JSON line.
type FollowCheck struct {
	Time    time.Time              `json:"time"`
	Changed bool                   `json:"changed"`
	Result  *tierpack.UpdateResult `json:"result,omitempty"`
	Error   string                 `json:"error,omitempty"`
}

// Mirror copies an index's contributions at a tier for air-gapped use.
func Mirror(e *Env, o tierpack.MirrorRequest) error {
	res, err := e.Client.Mirror(e.Ctx, o)
	return e.show(res, err)
}

// Follow runs update in a loop, printing each check (one JSON line each
// with --output json) and running execCmd (with sh -c) after a change.
func Follow(e *Env, o tierpack.FollowRequest, execCmd string) error {
	o.Checked = func(res *tierpack.UpdateResult, err error) {
		c := FollowCheck{Time: time.Now().UTC().Truncate(time.Second), Result: res}
		if err != nil {
			c.Error = err.Error()
		}
		if res != nil {
			c.Changed = slices.ContainsFunc(res.Updates, func(u tierpack.UpdateRow) bool { return u.Action != "unchanged" && u.Action != "failed" })
		}
		if e.JSON != nil { // one JSON line per check
			_ = json.NewEncoder(e.Display.Out()).Encode(c)
			return
		}
		if res != nil {
			_ = e.Display.Show(res)
		}
		if err != nil {
			e.Display.Warnf("check failed: %s", err)
		}
	}
	if execCmd != "" {
		o.Changed = func(ctx context.Context, _ *tierpack.UpdateResult) error {
			cmd := exec.CommandContext(ctx, "sh", "-c", execCmd)
			cmd.Stdout, cmd.Stderr = e.Display.Err(), e.Display.Err()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("--exec %q: %w", execCmd, err)
			}
			return nil
		}
	}
	return e.Client.Follow(e.Ctx, o)
}
