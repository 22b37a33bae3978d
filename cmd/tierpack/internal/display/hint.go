package display

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/cache"
	"github.com/tierpack/tierpack/pkg/catalog"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/plugin/dist"
	"github.com/tierpack/tierpack/pkg/policy"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/pkg/target"
	"github.com/tierpack/tierpack/pkg/tierpack"
	"github.com/tierpack/tierpack/pkg/trust"
	"github.com/tierpack/tierpack/sdk/archive"
	"github.com/tierpack/tierpack/sdk/contrib"
	"github.com/tierpack/tierpack/sdk/host"
	"github.com/tierpack/tierpack/sdk/tier"
)

// Hint says what to do about err in this command line's words — its flags
// and commands — for the library errors that name the problem and leave
// the remedy to the front end: a tier below the one asked for, a registry
// that wants credentials, TLS, plain HTTP, a CA or a client certificate.
// It returns the text to append to the error's message, separator
// included, or "" for any other error.
func Hint(err error) string {
	var (
		re   *trust.RefusedError
		be   *tier.BelowError
		cred *target.CredentialsRequiredError
		tls  *target.TLSRequiredError
		http *target.PlainHTTPRequiredError
		cert *target.CertificateError
		cc   *target.ClientCertError
		ex   *artifact.ExistsError
		cu   *cache.UnusableError
		up   *dist.UnpinnedError
		dmg  *target.DamagedError
		cir  *target.CredentialsInRefError
		le   *archive.LimitError
		pe   *oci.PlatformError
		cte  *host.CallTimeoutError
		pol  *policy.RefusalError
		nm   *contrib.NoManifestError
		nf   *oci.NotFoundError
		tnf  *plugin.TypeNotFoundError
		tam  *plugin.TamperedError
	)
	const settings = "$TIERPACK_HOME/registries.yaml"
	switch {
	case errors.Is(err, tierpack.ErrUnsignedPlugin):
		return "\n  trust the publisher's public key with --key PUB.pub, or for good under keys.plugins in the policy;\n  plugin install --allow-unsigned installs it unverified (pinned by sha256 only)"
	case errors.As(err, &re):
		v := re.Verdict
		if v.Undecided {
			return undecidedHint
		}
		if v.Demoted {
			return fmt.Sprintf("\n  a demoted version is not taken at --tier %s: use another version (`tierpack tags REPO --long` shows each one's tier), or drop --tier to take it at your own risk", re.Want)
		}
		if s := v.SupersededBy; s != nil && s.To >= re.Want {
			return "\n  pull the version's tag again (it names the promoted manifest now), or that manifest by its digest"
		}
		if v.Claimed < re.Want {
			return belowHint(v.Claimed, re.Want)
		}
		return fmt.Sprintf("\n  --tier %s takes a tier a trusted key verified: pass the key with --key, or see `tierpack verify --help`", re.Want)
	case errors.As(err, &be):
		return belowHint(be.Have, be.Want)
	case errors.As(err, &cred):
		return fmt.Sprintf(": log in with `tierpack login %s -u USER`, or give them to this command with -u USER --password-stdin", cred.Host)
	case errors.As(err, &tls):
		return fmt.Sprintf(": pass --ca-file CA.pem (or --insecure), or set it in registries.yaml (%s: `registries: {%q: {ca-file: CA.pem}}`)", settings, tls.Host)
	case errors.As(err, &http):
		return ": pass --plain-http, or set `plain-http: true` for it in " + settings
	case errors.As(err, &cert):
		return fmt.Sprintf(": pass --ca-file with the CA that signed it, or set ca-file for %s in %s (--insecure skips the check, for tests only)", cert.Host, settings)
	case errors.As(err, &cc):
		return fmt.Sprintf(": pass --cert-file and --key-file, or set cert-file and key-file for %s in %s", cc.Host, settings)
	case errors.As(err, &ex) && ex.File:
		return "; choose another with -o"
	case errors.As(err, &ex):
		return "; pass --force to replace it, or choose another folder with -o"
	case errors.As(err, &cu):
		return " (set TIERPACK_HOME, or pass --no-cache)"
	case errors.As(err, &dmg) && dmg.Local:
		return "; run `tierpack store check --repair` to rebuild its index from its blobs"
	case errors.As(err, &dmg):
		return "; run `tierpack store check --repair oci:" + dmg.Dir + "` to rebuild its index from its blobs"
	case errors.Is(err, tierpack.ErrDamaged):
		return "; `tierpack store check --repair` rebuilds its index"
	case errors.As(err, &up):
		return "; move it to $" + plugin.DirEnv + ", or pass --force to replace it"
	case errors.Is(err, sign.ErrNoTrustedKeys):
		return " (pass --key PUB, or put .pub files in the trusted-keys folder)"
	case errors.As(err, &le):
		if f, ok := limitFlags[le.Limit]; ok {
			return " (" + f + ")"
		}
	case errors.As(err, &nf):
		return " (check the name and tag: `tierpack tags REPO` lists what exists)"
	case errors.As(err, &tnf):
		return ". Install one with `tierpack plugin install REF`, or put the binary in $" + plugin.DirEnv
	case errors.As(err, &tam) && tam.Reinstall != "":
		return fmt.Sprintf(": reinstall it with `tierpack plugin install %s`, or remove it with `tierpack plugin remove %s`", tam.Reinstall, tam.Type)
	case errors.As(err, &tam):
		return ": install plugins with `tierpack plugin install REF`; move a plugin you built yourself to $" + plugin.DirEnv + " instead"
	case errors.Is(err, sign.ErrBadKey):
		return " (`tierpack key generate` makes a cosign key pair)"
	case errors.As(err, &nm):
		return ": create one with `tierpack init --type TYPE " + nm.Dir + "`"
	case errors.Is(err, catalog.ErrNotLoopback):
		return "; add --public if that is what you want"
	case errors.Is(err, trust.ErrUndecided):
		return undecidedHint
	case errors.As(err, &pol):
		return policyHint(pol)
	case errors.As(err, &cte):
		return "\n  if the contribution is just large, raise --plugin-timeout"
	case errors.Is(err, host.ErrCrashed):
		return "\n  (run with --log-level debug to see the plugin's log)"
	case errors.As(err, &pe):
		return " (choose one with --platform)"
	case errors.As(err, &cir):
		return ": log in with `tierpack login HOST -u USER --password-stdin`"
	case errors.Is(err, tierpack.ErrNoIndex):
		return ": add one with `tierpack index add NAME FILE|URL|REF` (build one with `tierpack index build`), or search a file with --file"
	case errors.Is(err, sign.ErrNoSignature):
		return "; a maintainer signs it with `tierpack sign REF --key KEY`"
	}
	return ""
}

// undecidedHint is what to do about a tier left undecided because only a
// registry's mirror answered.
const undecidedHint = "\n  try again when the registry answers, or pass --trust-mirror to accept the mirror's tier records"

// policyCommands are the commands that meet a tier policy's rules.
var policyCommands = map[string]string{
	"tier-signature": "tierpack push DIR REF --key KEY, or tierpack promote REF --to repository --key KEY (pullers trust the key with --key, $TIERPACK_HOME/trusted-keys or the policy's keys.repository)",
	"warnings":       "tierpack validate --strict DIR lists the warnings",
	"signature":      "tierpack promote REF --to official --key KEY, or tierpack sign REF --key KEY",
	"promotion":      "tierpack promote REF --to official --key KEY",
}

// policyHint lists the commands that meet the unmet rules, once each.
func policyHint(e *policy.RefusalError) string {
	var b strings.Builder
	if e.Foreign {
		b.WriteString("\n  an artifact tierpack did not push gets them with the promotion: --owner HANDLE, --source-url URL, --source-revision REV, --license SPDX")
	}
	seen := map[string]bool{}
	for _, u := range e.Unmet {
		if c, ok := policyCommands[u.Rule]; ok && !seen[c] {
			seen[c] = true
			fmt.Fprintf(&b, "\n  %s: %s", u.Rule, c)
		}
	}
	return b.String()
}

// limitFlags are the settings that raise each of archive.Limits.
var limitFlags = map[string]string{
	"MaxEntries":   "--max-entries, TIERPACK_MAX_ENTRIES",
	"MaxFileSize":  "--max-file-size, TIERPACK_MAX_FILE_SIZE",
	"MaxTotalSize": "--max-size, TIERPACK_MAX_SIZE",
}

func belowHint(have, want tier.Tier) string {
	if have == tier.None {
		return fmt.Sprintf("\n  --tier %s refuses an untiered artifact: pull without --tier to accept it as untiered", want)
	}
	return fmt.Sprintf("\n  --tier %s: drop --tier, or ask a maintainer to promote it", want)
}

// Message is err's message in this command line's words: the request
// fields a *tierpack.UsageError names are said as their flags, and the
// Hint is appended.
func Message(err error) string {
	msg := err.Error()
	var ue *tierpack.UsageError
	if errors.As(err, &ue) {
		msg = strings.Replace(msg, ue.Error(), ue.Render(Flag), 1)
	}
	return msg + Hint(err)
}

// flagNames are the request fields whose flag is not the field's name in
// kebab case.
var flagNames = map[string]string{
	"Files":    "--file",
	"Indexes":  "--index",
	"Username": "-u/--username",
	"Key":      "--key KEY",
	"Owners":   "--owner",
	// install's
	"OutputDir":  "-o DIR",
	"Range":      "--version RANGE",
	"Tier":       "--tier",
	"State":      "--state FILE",
	"OnDemotion": "--on-demotion",
}

// Flag is the flag that sets a request field ("AllPlatforms" is
// --all-platforms, "CAFile" is --ca-file).
func Flag(field string) string {
	if f, ok := flagNames[field]; ok {
		return f
	}
	var b strings.Builder
	r := []rune(field)
	for i, c := range r {
		upper := unicode.IsUpper(c)
		if i > 0 && upper && (unicode.IsLower(r[i-1]) || i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return "--" + b.String()
}
