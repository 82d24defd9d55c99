package ui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/internal/testenv"
	"github.com/dictate-app/dictate/internal/testmodel"
	"github.com/dictate-app/dictate/internal/wer"
)

// findOverlay returns the overlay's window among the root's children, if it exists.
func findOverlay(t *testing.T, conn *xgb.Conn) (xproto.Window, bool) {
	t.Helper()
	root := xproto.Setup(conn).DefaultScreen(conn).Root
	tree, err := xproto.QueryTree(conn, root).Reply()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range tree.Children {
		prop, err := xproto.GetProperty(conn, false, w, xproto.AtomWmName, xproto.AtomString, 0, 64).Reply()
		if err == nil && string(prop.Value) == "Dictate recording" {
			return w, true
		}
	}
	return 0, false
}

func viewable(conn *xgb.Conn, w xproto.Window) bool {
	a, err := xproto.GetWindowAttributes(conn, w).Reply()
	return err == nil && a.MapState == xproto.MapStateViewable
}

// A real take in the real app (dictate gui on Xvfb with PulseAudio and the trained model):
// while the key is held the overlay shows at the bottom centre of the screen, above the
// others, drawn, with live text once passes commit; the text window keeps the focus and
// gets the words at release; then the overlay goes.
func TestE2EOverlayDuringATake(t *testing.T) {
	testenv.X(t)
	pulse := testenv.PulseAudio(t)
	kb := testenv.NewKeyboard(t)
	dir := t.TempDir()

	// About 12 s of held-out sentences: long enough for live passes on this CPU (from 6 s).
	var pcm []float32
	var said []string
	for i, s := range testenv.HeldOut(t) {
		if s.Voice != "en" {
			continue
		}
		clip, err := audio.DecodeFile(context.Background(), testenv.SpeakSentence(t, dir, i, s))
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(pcm, testmodel.TrimSilence(clip)...)
		pcm = append(pcm, make([]float32, 7*audio.TargetRate/10)...)
		said = append(said, s.Text)
		if len(pcm) > 12*audio.TargetRate {
			break
		}
	}
	wav := filepath.Join(dir, "take.wav")
	// Led by quiet: a null sink's monitor loses the first tens of ms a stream plays.
	if err := audio.WriteWAVFile(wav, append(make([]float32, 2*audio.TargetRate/5), pcm...), audio.TargetRate); err != nil {
		t.Fatal(err)
	}

	history := filepath.Join(dir, "h.jsonl")
	gui := testenv.Start(t, testenv.Build(t, "."), "gui", "--model", testenv.WordsModel(t, testmodel.Teacher), "--hotkey", "F9",
		"--language", "en", "--sounds=false", "--live-prompt=false",
		"--history", history, "--recordings", filepath.Join(dir, "rec"))
	xdotool := testenv.Tool(t, "xdotool")
	if !testenv.WaitFor(60*time.Second, func() bool {
		out, _ := exec.Command(xdotool, "search", "--name", "^Dictate$").Output()
		return strings.TrimSpace(string(out)) != ""
	}) {
		t.Fatalf("no window titled Dictate; the app said:\n%s", gui.Output())
	}
	// The text window maps after the app's window and takes the focus.
	winText, _ := testenv.TextWindow(t)
	conn, err := xgb.NewConn()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	focus := func() xproto.Window {
		r, err := xproto.GetInputFocus(conn).Reply()
		if err != nil {
			t.Fatal(err)
		}
		return r.Focus
	}
	var textWin xproto.Window
	if !testenv.WaitFor(5*time.Second, func() bool { textWin = focus(); return textWin > 1 }) {
		t.Fatal("the text window has no focus")
	}
	if w, ok := findOverlay(t, conn); ok && viewable(conn, w) {
		t.Fatal("overlay shown before any take")
	}

	kb.Down(t, "F9")
	played := make(chan struct{})
	go func() {
		defer close(played)
		pulse.Play(t, wav)
	}()
	var overlay xproto.Window
	if !testenv.WaitFor(10*time.Second, func() bool {
		w, ok := findOverlay(t, conn)
		overlay = w
		return ok && viewable(conn, w)
	}) {
		kb.Up(t, "F9")
		t.Fatalf("no overlay while the key is held; the app said:\n%s", gui.Output())
	}
	attrs, err := xproto.GetWindowAttributes(conn, overlay).Reply()
	if err != nil || !attrs.OverrideRedirect {
		t.Errorf("overlay attributes %+v, %v: it must be override-redirect (never managed, never focused)", attrs, err)
	}
	geo, err := xproto.GetGeometry(conn, xproto.Drawable(overlay)).Reply()
	screen := xproto.Setup(conn).DefaultScreen(conn)
	if err != nil {
		t.Fatal(err)
	}
	centre := int(geo.X) + int(geo.Width)/2
	if d := centre - int(screen.WidthInPixels)/2; d < -2 || d > 2 || int(geo.Y)+int(geo.Height) != int(screen.HeightInPixels)-overlayMargin {
		t.Errorf("overlay at %d,%d size %dx%d on a %dx%d screen: want it at the bottom centre", geo.X, geo.Y, geo.Width, geo.Height,
			screen.WidthInPixels, screen.HeightInPixels)
	}
	if f := focus(); f != textWin {
		t.Errorf("focus moved to %#x when the overlay showed (the text window is %#x)", f, textWin)
	}
	// Drawn, and live text shows in its lower part before the key is released.
	shot := filepath.Join(dir, "overlay.png")
	first := screenshot(t, fmt.Sprintf("%#x", overlay), shot)
	if n := distinctColors(first); n < 4 {
		t.Errorf("the overlay has %d colours: not drawn", n)
	}
	liveShown := false
	for !liveShown {
		select {
		case <-played:
		default:
			liveShown = inkBelow(screenshot(t, fmt.Sprintf("%#x", overlay), shot), 0.6) > 100
			continue
		}
		break
	}
	<-played
	if f := focus(); f != textWin {
		t.Errorf("focus moved to %#x during the take", f)
	}
	kb.Up(t, "F9")
	if !liveShown {
		t.Errorf("no live text in the overlay during a %.0f s take", float64(len(pcm))/audio.TargetRate)
	}
	// The take's record says what was inserted; the window holds it once typed.
	var inserted string
	if !testenv.WaitFor(30*time.Second, func() bool {
		h, err := app.OpenHistory(history)
		if err != nil {
			return false
		}
		recs, _, _ := h.Load(0)
		if len(recs) > 0 {
			inserted = recs[0].Inserted
		}
		return len(recs) > 0
	}) {
		t.Fatalf("no take in the history; the app said:\n%s", gui.Output())
	}
	ref := strings.Join(said, " ")
	if !testenv.WaitFor(10*time.Second, func() bool {
		b, _ := os.ReadFile(winText)
		return slices.Equal(wer.Words(string(b)), wer.Words(inserted))
	}) {
		b, _ := os.ReadFile(winText)
		t.Fatalf("window holds %q, the take inserted %q; the app said:\n%s", b, inserted, gui.Output())
	}
	if s, ty := wer.Words(ref), wer.Words(inserted); 100*wer.Errors(s, ty) > 20*len(s) {
		t.Errorf("said %q, typed %q", ref, inserted)
	}
	if !testenv.WaitFor(10*time.Second, func() bool { return !viewable(conn, overlay) }) {
		t.Error("the overlay is still shown after the take")
	}
	if out := os.Getenv("DICTATE_SCREENSHOT_OVERLAY"); out != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(out, data, 0o644)
	}
}
