package hotkey

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func nextEvent(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return e
	case <-time.After(3 * time.Second):
		t.Fatal("no hotkey event")
	}
	return Event{}
}

// Key presses sent through XTest reach the grab: combos, a lone F-key, a right-hand
// modifier; a held key's auto-repeat gives one down and one up.
func TestX11Hotkeys(t *testing.T) {
	testenv.X(t)
	kb := testenv.NewKeyboard(t)
	for _, c := range []struct {
		spec  string
		press []string
	}{
		{"ctrl+shift+space", []string{"Control_L", "Shift_L", "space"}},
		{"F9", []string{"F9"}},
		{"RightCtrl", []string{"Control_R"}},
		{"super+alt+d", []string{"Super_L", "Alt_L", "d"}},
	} {
		t.Run(c.spec, func(t *testing.T) {
			spec, _ := Parse(c.spec)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events, err := Listen(ctx, spec, Options{Backend: "x11"})
			if err != nil {
				t.Fatal(err)
			}
			kb.Down(t, c.press...)
			if e := nextEvent(t, events); !e.Down {
				t.Fatal("first event is not a key-down")
			}
			time.Sleep(700 * time.Millisecond) // past the auto-repeat delay
			kb.Up(t, c.press...)
			if e := nextEvent(t, events); e.Down {
				t.Fatal("auto-repeat leaked a second key-down")
			}
			select {
			case e := <-events:
				t.Fatalf("extra event %+v", e)
			case <-time.After(100 * time.Millisecond):
			}
			// Unrelated keys are not reported.
			kb.Tap(t, "Control_L", "a")
			select {
			case e := <-events:
				t.Fatalf("unrelated key gave %+v", e)
			case <-time.After(100 * time.Millisecond):
			}
		})
	}
}

func TestX11HotkeyAlreadyTaken(t *testing.T) {
	testenv.X(t)
	spec, _ := Parse("ctrl+alt+f5")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := Listen(ctx, spec, Options{Backend: "x11"}); err != nil {
		t.Fatal(err)
	}
	_, err := Listen(ctx, spec, Options{Backend: "x11"})
	if !errors.Is(err, ErrTaken) {
		t.Fatalf("second grab: %v, want ErrTaken", err)
	}
}

// While a grabbed key is held, X11 sends every key to the grab: a key typed then never
// reaches the focused window. This is why typing live waits for release on X11
// (Spec.BlocksTypingWhileHeld); should a server ever let it through, this fails.
func TestX11GrabTakesKeysTypedWhileHeld(t *testing.T) {
	testenv.X(t)
	kb := testenv.NewKeyboard(t)
	out, _ := testenv.TextWindow(t)
	spec, _ := Parse("F9")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := Listen(ctx, spec, Options{Backend: "x11"})
	if err != nil {
		t.Fatal(err)
	}
	kb.Down(t, "F9")
	if e := nextEvent(t, events); !e.Down {
		t.Fatal("first event is not a key-down")
	}
	kb.Tap(t, "a")
	kb.Up(t, "F9")
	if e := nextEvent(t, events); e.Down {
		t.Fatal("no key-up")
	}
	kb.Tap(t, "b")
	text := ""
	if !testenv.WaitFor(5*time.Second, func() bool {
		b, _ := os.ReadFile(out)
		text = string(b)
		return strings.HasSuffix(text, "b")
	}) {
		t.Fatalf("window holds %q: b typed after the release did not arrive", text)
	}
	if text != "b" {
		t.Errorf("window holds %q: the key typed while the hotkey was held arrived", text)
	}
}
