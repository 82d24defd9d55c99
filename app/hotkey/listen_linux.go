package hotkey

import (
	"context"
	"fmt"
	"os"
)

// Listen grabs the hotkey and delivers its events until ctx ends (then the channel closes).
func Listen(ctx context.Context, spec Spec, opts Options) (<-chan Event, error) {
	backend := ResolveBackend(opts.Backend)
	switch backend {
	case "x11":
		return listenX11(ctx, spec)
	case "portal":
		keys, err := listenPortal(ctx, spec)
		if err != nil && opts.Backend == "" {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return keys, err
	case "none":
		return nil, fmt.Errorf("%w: hotkey backend none", ErrUnavailable)
	}
	return nil, fmt.Errorf("unknown hotkey backend %q (want x11, portal or none)", backend)
}

// ResolveBackend is the backend Listen uses for the one asked for ("" picks by session).
func ResolveBackend(backend string) string {
	if backend != "" {
		return backend
	}
	// A Wayland session (or a Wayland display with no X server beside it): X11 grabs
	// would only see XWayland windows.
	if os.Getenv("WAYLAND_DISPLAY") != "" && (os.Getenv("XDG_SESSION_TYPE") == "wayland" || os.Getenv("DISPLAY") == "") {
		return "portal"
	}
	return "x11"
}
