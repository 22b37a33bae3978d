package tierpack

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/tierpack/tierpack/pkg/artifact"
	"github.com/tierpack/tierpack/pkg/oci"
	"github.com/tierpack/tierpack/pkg/plugin"
	"github.com/tierpack/tierpack/pkg/promotion"
	"github.com/tierpack/tierpack/pkg/sign"
	"github.com/tierpack/tierpack/sdk/host"
	"github.com/tierpack/tierpack/sdk/tier"
)

// TestCodeOf checks the classes scripts see as exit codes, through the
// wrapping the use cases add.
func TestCodeOf(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("pulling x: %w", err) }
	for _, tc := range []struct {
		err  error
		want Code
	}{
		{nil, CodeOK},
		{fmt.Errorf("boom"), CodeError},
		{wrap(context.Canceled), CodeInterrupted},
		{wrap(usagef("bad")), CodeUsage},
		{wrap(artifact.ErrRefusedContent), CodeRefusedContent},
		{wrap(artifact.ErrValidation), CodeInvalid},
		{wrap(tier.ErrBelow), CodeTierRefused},
		{wrap(sign.ErrUntrusted), CodeTierRefused},
		{wrap(&VerificationError{Err: fmt.Errorf("x")}), CodeTierRefused},
		{wrap(errdef.ErrNotFound), CodeNotFound},
		{wrap(host.ErrNotFound), CodeNotFound},
		{wrap(&errcode.ErrorResponse{StatusCode: http.StatusUnauthorized}), CodeAuth},
		{wrap(&errcode.ErrorResponse{StatusCode: http.StatusForbidden}), CodeAuth},
		{wrap(&errcode.ErrorResponse{StatusCode: http.StatusNotFound}), CodeNotFound},
		{wrap(fmt.Errorf("basic credential not found")), CodeAuth},
		{wrap(oci.ErrTooManyReferrers), CodeTierRefused},
		{wrap(promotion.ErrTooManyRecords), CodeTierRefused},
		{wrap(host.ErrCrashed), CodePlugin},
		{wrap(plugin.ErrTampered), CodePlugin},
	} {
		if got := CodeOf(tc.err); got != tc.want {
			t.Errorf("CodeOf(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
