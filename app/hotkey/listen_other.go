//go:build !linux && !darwin && !windows

package hotkey

import (
	"context"
	"errors"
)

// Listen is not available on this system.
func Listen(ctx context.Context, spec Spec, opts Options) (<-chan Event, error) {
	return nil, errors.ErrUnsupported
}
