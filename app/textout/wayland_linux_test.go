package textout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

// layoutSentence holds what peers garble on layouts other than US: accents, ß, Cyrillic,
// €, an emoji, quotes (Shift+2 on German keyboards) and a line break.
const layoutSentence = "Grüße: é ß ж € ü 🙂 \"quotes\"\nzy second line"

// On Sway the virtual keyboard types the sentence exactly whatever the keyboard layout:
// its keymap is made for the text, so the layout plays no part.
func TestLayoutWayland(t *testing.T) {
	for _, layout := range []string{"us", "de", "fr", "ru"} {
		t.Run(layout, func(t *testing.T) {
			sway := testenv.StartSway(t, layout)
			sway.Use(t)
			out, err := New(Config{Mode: "type"})
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			if b := out.Backend(); b.Name != "wayland" || !strings.Contains(b.Clipboard, "data_control") {
				t.Fatalf("backend %v", b)
			}
			start := time.Now()
			if err := out.Insert(context.Background(), layoutSentence); err != nil {
				t.Fatal(err)
			}
			shown := sway.WaitTyped(t, layoutSentence)
			t.Logf("%s: %d characters in %v", layout, len([]rune(layoutSentence)), shown.Sub(start).Round(time.Millisecond))
		})
	}
}

// 200 characters of dictation reach a native Wayland window, typed; the time is printed.
func TestE2EWaylandTypes(t *testing.T) {
	sway := testenv.StartSway(t, "us")
	sway.Use(t)
	out, err := New(Config{Mode: "type"})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	text := strings.Repeat("Dictated text reaches native Wayland windows. ", 5)[:200]
	start := time.Now()
	if err := out.Insert(context.Background(), text); err != nil {
		t.Fatal(err)
	}
	inserted := time.Since(start)
	shown := sway.WaitTyped(t, text)
	t.Logf("200 characters typed through the virtual keyboard: Insert returned after %v, on screen after %v",
		inserted.Round(time.Microsecond), shown.Sub(start).Round(time.Millisecond))
}

// Paste mode on Sway: the clipboard through data-control, Ctrl+Shift+V for foot (a
// terminal, found through Sway's IPC), and the user's clipboard put back afterwards.
func TestE2EWaylandPasteRestoresClipboard(t *testing.T) {
	sway := testenv.StartSway(t, "de")
	sway.Use(t)
	sway.Copy(t, "OLD CLIPBOARD")
	out, err := New(Config{Mode: "paste", RestoreDelay: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	text := strings.Repeat("Pasted into a Wayland terminal, é ж 🙂. ", 5)[:200]
	start := time.Now()
	if err := out.Insert(context.Background(), text); err != nil {
		t.Fatal(err)
	}
	shown := sway.WaitTyped(t, text)
	t.Logf("200 characters pasted: on screen after %v", shown.Sub(start).Round(time.Millisecond))
	out.Wait()
	if got := sway.Run(t, "", "wl-paste", "--no-newline"); got != "OLD CLIPBOARD" {
		t.Fatalf("clipboard holds %q after the paste, want the old content back", got)
	}
}

// Where nothing may type (the clipboard backend; auto picks it on a compositor with no
// virtual keyboard and no portal), the text is put on the clipboard and Insert says so.
func TestE2EWaylandCopyOnly(t *testing.T) {
	sway := testenv.StartSway(t, "us")
	sway.Use(t)
	out, err := New(Config{Mode: "type", Backend: "clipboard"})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	err = out.Insert(context.Background(), "Only copied.")
	if !errors.Is(err, ErrCopiedOnly) {
		t.Fatalf("Insert: %v", err)
	}
	if got := sway.Run(t, "", "wl-paste", "--no-newline"); got != "Only copied." {
		t.Fatalf("clipboard holds %q", got)
	}
	if sway.Typed() != "" {
		t.Fatalf("foot was typed %q", sway.Typed())
	}
}
