// Package hotkey delivers a global hotkey's key-down and key-up events: X11 key grabs,
// the xdg-desktop-portal GlobalShortcuts API on Wayland, and the system APIs on macOS and
// Windows.
package hotkey

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Modifiers of a hotkey.
type Modifiers uint8

const (
	Ctrl Modifiers = 1 << iota
	Shift
	Alt
	Super
)

// Spec is a parsed hotkey: modifiers plus one key, or a single key such as RightCtrl.
type Spec struct {
	Mods Modifiers
	Key  string // canonical name: "a", "5", "f9", "space", "rightctrl", …
}

// Event is a key-down (Down) or key-up of the hotkey.
type Event struct {
	Down bool
	At   time.Time
}

// deliver hands e to the listener's channel, or gives up when ctx ends (reported false).
func deliver(ctx context.Context, out chan<- Event, e Event) bool {
	select {
	case out <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

// ErrTaken is returned when another program already holds the hotkey.
var ErrTaken = errors.New("hotkey is already taken by another program")

// ErrUnavailable: this session offers no way to grab a global hotkey (a Wayland desktop
// without the GlobalShortcuts portal, such as Sway). Dictation then runs on `dictate ctl`,
// bound to a key in the compositor's own settings.
var ErrUnavailable = errors.New("no global hotkey in this session")

var modNames = map[string]Modifiers{
	"ctrl": Ctrl, "control": Ctrl, "shift": Shift, "alt": Alt, "option": Alt, "opt": Alt,
	"super": Super, "win": Super, "meta": Super, "cmd": Super, "command": Super,
}

// keyAliases maps accepted spellings to canonical names.
var keyAliases = map[string]string{
	"space": "space", "spacebar": "space", "enter": "enter", "return": "enter", "tab": "tab",
	"esc": "escape", "escape": "escape", "insert": "insert", "ins": "insert", "home": "home", "end": "end",
	"pageup": "pageup", "pagedown": "pagedown", "pause": "pause", "scrolllock": "scrolllock",
	"menu": "menu", "backspace": "backspace", "delete": "delete", "del": "delete",
	"up": "up", "down": "down", "left": "left", "right": "right",
	"rightctrl": "rightctrl", "rctrl": "rightctrl", "leftctrl": "leftctrl", "lctrl": "leftctrl",
	"rightalt": "rightalt", "ralt": "rightalt", "altgr": "rightalt", "leftalt": "leftalt", "lalt": "leftalt",
	"rightshift": "rightshift", "rshift": "rightshift", "leftshift": "leftshift", "lshift": "leftshift",
	"rightsuper": "rightsuper", "rightcmd": "rightsuper", "leftsuper": "leftsuper", "leftcmd": "leftsuper",
}

// BlocksTypingWhileHeld: keys typed while this hotkey is held would not reach the focused
// window as typed. A modifier in it turns them into shortcuts, and an X11 grab (backend
// "x11") takes every key until the hotkey comes up.
func (s Spec) BlocksTypingWhileHeld(backend string) bool {
	return s.Mods != 0 || s.IsModifierKey() || ResolveBackend(backend) == "x11"
}

// IsModifierKey reports a key that is itself a modifier (usable alone, as "RightCtrl").
func (s Spec) IsModifierKey() bool {
	return strings.HasPrefix(s.Key, "right") && s.Key != "right" || strings.HasPrefix(s.Key, "left") && s.Key != "left"
}

// Parse reads "ctrl+shift+space", "Super+Alt+D", "F9" or "RightCtrl" ('-' also separates).
func Parse(s string) (Spec, error) {
	parts := strings.FieldsFunc(strings.ToLower(strings.TrimSpace(s)), func(r rune) bool { return r == '+' || r == '-' || r == ' ' })
	if len(parts) == 0 {
		return Spec{}, errors.New("empty hotkey")
	}
	var spec Spec
	for i, p := range parts {
		if m, ok := modNames[p]; ok && i < len(parts)-1 {
			if spec.Mods&m != 0 {
				return Spec{}, fmt.Errorf("hotkey %q names %s twice", s, p)
			}
			spec.Mods |= m
			continue
		}
		if i != len(parts)-1 {
			return Spec{}, fmt.Errorf("hotkey %q: %q is not a modifier (ctrl, shift, alt, super)", s, p)
		}
		key, ok := canonicalKey(p)
		if !ok {
			return Spec{}, fmt.Errorf("hotkey %q: unknown key %q", s, p)
		}
		spec.Key = key
	}
	if spec.Mods == 0 && !spec.IsModifierKey() && !strings.HasPrefix(spec.Key, "f") && !slices.Contains([]string{"pause", "scrolllock", "insert", "menu"}, spec.Key) {
		return Spec{}, fmt.Errorf("hotkey %q would swallow a key you type; add a modifier (ctrl+…) or use F1–F24, Pause, Insert, Menu or a right-hand modifier", s)
	}
	return spec, nil
}

func canonicalKey(p string) (string, bool) {
	if k, ok := keyAliases[p]; ok {
		return k, true
	}
	if len(p) == 1 && (p[0] >= 'a' && p[0] <= 'z' || p[0] >= '0' && p[0] <= '9') {
		return p, true
	}
	if len(p) >= 2 && p[0] == 'f' {
		var n int
		if _, err := fmt.Sscanf(p[1:], "%d", &n); err == nil && n >= 1 && n <= 24 && fmt.Sprint(n) == p[1:] {
			return p, true
		}
	}
	return "", false
}

// String prints the spec canonically, e.g. "Ctrl+Shift+Space".
func (s Spec) String() string {
	var parts []string
	for _, m := range []struct {
		bit  Modifiers
		name string
	}{{Ctrl, "Ctrl"}, {Shift, "Shift"}, {Alt, "Alt"}, {Super, "Super"}} {
		if s.Mods&m.bit != 0 {
			parts = append(parts, m.name)
		}
	}
	return strings.Join(append(parts, displayKey(s.Key)), "+")
}

func displayKey(k string) string {
	names := map[string]string{"rightctrl": "RightCtrl", "leftctrl": "LeftCtrl", "rightalt": "RightAlt", "leftalt": "LeftAlt",
		"rightshift": "RightShift", "leftshift": "LeftShift", "rightsuper": "RightSuper", "leftsuper": "LeftSuper",
		"pageup": "PageUp", "pagedown": "PageDown", "scrolllock": "ScrollLock"}
	if n, ok := names[k]; ok {
		return n
	}
	if len(k) > 1 && k[0] == 'f' && k[1] >= '0' && k[1] <= '9' {
		return strings.ToUpper(k)
	}
	return strings.ToUpper(k[:1]) + k[1:]
}

// Options choose the backend.
type Options struct {
	// Backend: "" picks by session (portal on Wayland, X11 where DISPLAY is set), or
	// "x11", "portal", or "none" (no grab: dictate ctl only).
	Backend string
}
