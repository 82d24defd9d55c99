package textout

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

// On X11 the same sentence types exactly through XTest whatever the layout, the layout
// changed while Dictate runs included (as a user switching with a shortcut does): the
// target is an Xlib window that turns keys into text as toolkits do.
func TestLayoutX11(t *testing.T) {
	testenv.X(t)
	out, err := New(Config{Mode: "type", Backend: "xtest"})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for _, layout := range []string{"us", "de", "fr", "ru"} {
		t.Run(layout, func(t *testing.T) {
			if b, err := exec.Command(testenv.Tool(t, "setxkbmap"), "-layout", layout).CombinedOutput(); err != nil {
				t.Fatalf("setxkbmap %s: %v %s", layout, err, b)
			}
			file, win := testenv.TextWindow(t)
			start := time.Now()
			if err := out.Insert(context.Background(), layoutSentence); err != nil {
				t.Fatal(err)
			}
			typed := func() string { b, _ := os.ReadFile(file); return string(b) }
			if !testenv.WaitFor(10*time.Second, func() bool { return typed() == layoutSentence }) {
				t.Fatalf("%s: the window holds %q, want %q\n%s", layout, typed(), layoutSentence, win.Output())
			}
			t.Logf("%s: %d characters in %v", layout, len([]rune(layoutSentence)), time.Since(start).Round(time.Millisecond))
			// The layout's own letters type with their keys: Russian names ж Cyrillic_zhe,
			// which a search by keysym number (U+0436 as 0x1000436) missed, so every
			// Cyrillic letter took one of the few spare keys.
			kb := out.kb.(*xtestKeyboard)
			kb.mu.Lock()
			_, spare := kb.spare['ж']
			kb.mu.Unlock()
			if spare != (layout != "ru") {
				t.Errorf("%s: ж typed through a spare key: %v", layout, spare)
			}
			win.Stop()
		})
	}
}
