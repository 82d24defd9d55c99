package hotkey

import (
	"context"
	"fmt"
	"os"
)

// Listen grabs the hotkey and delivers its events until ctx ends (then the channel closes).
func Listen(ctx context.Context, spec Spec, opts Options) (<-chan Event, error) {
	backend := opts.Backend
	if backend == "" {
		backend = "x11"
		if os.Getenv("XDG_SESSION_TYPE") == "wayland" && os.Getenv("WAYLAND_DISPLAY") != "" {
			backend = "portal"
		}
	}
	switch backend {
	case "x11":
		return listenX11(ctx, spec)
	case "portal":
		return listenPortal(ctx, spec)
	}
	return nil, fmt.Errorf("unknown hotkey backend %q (want x11 or portal)", backend)
}
