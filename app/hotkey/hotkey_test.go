package hotkey

import (
	"strings"
	"testing"
)

var parseCases = []struct {
	in, want, err string
}{
	{"ctrl+shift+space", "Ctrl+Shift+Space", ""},
	{"Super+Alt+D", "Alt+Super+D", ""},
	{"control-alt-f12", "Ctrl+Alt+F12", ""},
	{"F9", "F9", ""},
	{"RightCtrl", "RightCtrl", ""},
	{"altgr", "RightAlt", ""},
	{"cmd+shift+9", "Shift+Super+9", ""},
	{"pause", "Pause", ""},
	{"", "", "empty"},
	{"a", "", "swallow"},
	{"space", "", "swallow"},
	{"ctrl+ctrl+a", "", "twice"},
	{"ctrl+hyper+a", "", "not a modifier"},
	{"ctrl+f25", "", "unknown key"},
	{"ctrl+", "", "unknown key"},
	{"shift+ctrl", "", "unknown key"},
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		got, err := Parse(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want error with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got.String() != c.want {
			t.Errorf("%q: %v %v, want %s", c.in, got, err, c.want)
		}
		// The printed form parses back to the same spec.
		if again, err := Parse(got.String()); err != nil || again != got {
			t.Errorf("%q round trip: %v %v", got, again, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(spec.String())
		if err != nil || again != spec {
			t.Fatalf("%q → %v → %v (%v)", s, spec, again, err)
		}
	})
}

func TestBlocksTypingWhileHeld(t *testing.T) {
	for _, c := range []struct {
		spec, backend string
		want          bool
	}{
		{"F9", "portal", false},
		{"F9", "system", false},
		{"F9", "x11", true}, // the grab takes every key (TestX11GrabTakesKeysTypedWhileHeld)
		{"ctrl+shift+space", "portal", true},
		{"RightCtrl", "portal", true},
		{"super+d", "none", true},
		{"pause", "none", false},
	} {
		spec, err := Parse(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := spec.BlocksTypingWhileHeld(c.backend); got != c.want {
			t.Errorf("%s on %s: %v, want %v", c.spec, c.backend, got, c.want)
		}
	}
}
