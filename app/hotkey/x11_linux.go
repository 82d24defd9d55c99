package hotkey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

var x11Keysyms = map[string]xproto.Keysym{
	"space": 0x20, "enter": 0xff0d, "tab": 0xff09, "escape": 0xff1b, "insert": 0xff63, "home": 0xff50,
	"end": 0xff57, "pageup": 0xff55, "pagedown": 0xff56, "pause": 0xff13, "scrolllock": 0xff14, "menu": 0xff67,
	"backspace": 0xff08, "delete": 0xffff, "left": 0xff51, "up": 0xff52, "right": 0xff53, "down": 0xff54,
	"leftshift": 0xffe1, "rightshift": 0xffe2, "leftctrl": 0xffe3, "rightctrl": 0xffe4,
	"leftalt": 0xffe9, "rightalt": 0xffea, "leftsuper": 0xffeb, "rightsuper": 0xffec,
}

func x11Keysym(key string) (xproto.Keysym, bool) {
	if ks, ok := x11Keysyms[key]; ok {
		return ks, true
	}
	if len(key) == 1 {
		return xproto.Keysym(key[0]), true
	}
	var n int
	if _, err := fmt.Sscanf(key, "f%d", &n); err == nil {
		return xproto.Keysym(0xffbe + n - 1), true
	}
	return 0, false
}

// ignoredMods are lock modifiers that must not stop the hotkey: Caps Lock, Num Lock.
var ignoredMods = []uint16{0, xproto.ModMaskLock, xproto.ModMask2, xproto.ModMaskLock | xproto.ModMask2}

func x11Mods(m Modifiers) uint16 {
	var out uint16
	if m&Ctrl != 0 {
		out |= xproto.ModMaskControl
	}
	if m&Shift != 0 {
		out |= xproto.ModMaskShift
	}
	if m&Alt != 0 {
		out |= xproto.ModMask1
	}
	if m&Super != 0 {
		out |= xproto.ModMask4
	}
	return out
}

// listenX11 grabs the key on the root window. X11 turns a held key into release/press
// pairs with equal server times (auto-repeat); such pairs are dropped, so one hold is one
// down and one up.
func listenX11(ctx context.Context, spec Spec) (<-chan Event, error) {
	conn, err := xgb.NewConn()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the X server (DISPLAY): %w", err)
	}
	setup := xproto.Setup(conn)
	root := setup.DefaultScreen(conn).Root
	keysym, ok := x11Keysym(spec.Key)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("key %q has no X11 keysym", spec.Key)
	}
	count := byte(setup.MaxKeycode - setup.MinKeycode + 1)
	mapping, err := xproto.GetKeyboardMapping(conn, setup.MinKeycode, count).Reply()
	if err != nil {
		conn.Close()
		return nil, err
	}
	per := int(mapping.KeysymsPerKeycode)
	var codes []xproto.Keycode
	for i := 0; i < int(count); i++ {
		for j := 0; j < per; j++ {
			if mapping.Keysyms[i*per+j] == keysym {
				codes = append(codes, xproto.Keycode(int(setup.MinKeycode)+i))
				break
			}
		}
	}
	if len(codes) == 0 {
		conn.Close()
		return nil, fmt.Errorf("no key on this keyboard produces %s", spec)
	}
	mods := x11Mods(spec.Mods)
	for _, code := range codes {
		for _, extra := range ignoredMods {
			err := xproto.GrabKeyChecked(conn, true, root, mods|extra, code, xproto.GrabModeAsync, xproto.GrabModeAsync).Check()
			var access xproto.AccessError
			if errors.As(err, &access) {
				conn.Close()
				return nil, fmt.Errorf("%w: %s", ErrTaken, spec)
			}
			if err != nil {
				conn.Close()
				return nil, fmt.Errorf("grabbing %s: %w", spec, err)
			}
		}
	}
	isOurs := map[xproto.Keycode]bool{}
	for _, c := range codes {
		isOurs[c] = true
	}

	raw := make(chan xgb.Event, 64)
	go func() {
		defer close(raw)
		for {
			ev, err := conn.WaitForEvent()
			if ev == nil && err == nil {
				return // connection closed
			}
			if ev != nil {
				raw <- ev
			}
		}
	}()
	out := make(chan Event, 16)
	go func() {
		defer close(out)
		defer func() {
			conn.Close()
			for range raw {
			}
		}()
		var pendingUp *xproto.KeyReleaseEvent
		var pendingAt time.Time
		var flush <-chan time.Time
		down := false
		for {
			select {
			case <-ctx.Done():
				return
			case <-flush:
				flush = nil
				// A loaded machine can hold back an auto-repeat's key-down past the wait; the
				// server's key state tells a repeat (the key still down) from a release.
				if keys, err := xproto.QueryKeymap(conn).Reply(); err == nil && keys.Keys[pendingUp.Detail/8]&(1<<(pendingUp.Detail%8)) != 0 {
					pendingUp = nil
					continue
				}
				pendingUp = nil
				down = false
				deliver(ctx, out, Event{Down: false, At: pendingAt})
			case ev, ok := <-raw:
				if !ok {
					return
				}
				switch e := ev.(type) {
				case xproto.KeyPressEvent:
					if !isOurs[e.Detail] {
						continue
					}
					if pendingUp != nil && pendingUp.Time == e.Time && pendingUp.Detail == e.Detail {
						pendingUp, flush = nil, nil // auto-repeat pair
						continue
					}
					if down {
						continue
					}
					down = true
					deliver(ctx, out, Event{Down: true, At: time.Now()})
				case xproto.KeyReleaseEvent:
					if !isOurs[e.Detail] || !down {
						continue
					}
					ev := e
					pendingUp, pendingAt = &ev, time.Now()
					flush = time.After(15 * time.Millisecond)
				}
			}
		}
	}()
	return out, nil
}
