//go:build darwin || windows

package hotkey

import (
	"context"
	"fmt"
	"time"

	"golang.design/x/hotkey"
)

// Listen registers the hotkey with the system (Carbon on macOS, RegisterHotKey on Windows).
func Listen(ctx context.Context, spec Spec, opts Options) (<-chan Event, error) {
	mods, key, err := systemKey(spec)
	if err != nil {
		return nil, err
	}
	hk := hotkey.New(mods, key)
	if err := hk.Register(); err != nil {
		return nil, fmt.Errorf("%w: %s (%v)", ErrTaken, spec, err)
	}
	out := make(chan Event, 16)
	go func() {
		defer close(out)
		defer hk.Unregister()
		for {
			var down bool
			select {
			case <-ctx.Done():
				return
			case <-hk.Keydown():
				down = true
			case <-hk.Keyup():
			}
			if !deliver(ctx, out, Event{Down: down, At: time.Now()}) {
				return
			}
		}
	}()
	return out, nil
}
