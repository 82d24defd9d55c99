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

// ResolveBackend is the backend Listen uses for the one asked for: the system's.
func ResolveBackend(backend string) string {
	if backend == "" {
		return "system"
	}
	return backend
}
