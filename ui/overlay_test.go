package ui

import (
	"image"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/dictate-app/dictate/app"
)

// fakeSurface records what the overlay shows; the X11 surface is tested on Xvfb.
type fakeSurface struct {
	mu     sync.Mutex
	frames []image.Image
	hides  int
	closed bool
	shown  chan struct{} // a token per frame
}

func newFakeSurface() *fakeSurface { return &fakeSurface{shown: make(chan struct{}, 1000)} }

func (f *fakeSurface) Show(frame image.Image) {
	f.mu.Lock()
	f.frames = append(f.frames, frame)
	f.mu.Unlock()
	if f.shown != nil {
		f.shown <- struct{}{}
	}
}

func (f *fakeSurface) Hide()  { f.mu.Lock(); f.hides++; f.mu.Unlock() }
func (f *fakeSurface) Close() { f.mu.Lock(); f.closed = true; f.mu.Unlock() }

func (f *fakeSurface) state() (frames int, last image.Image, hides int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.frames) > 0 {
		last = f.frames[len(f.frames)-1]
	}
	return len(f.frames), last, f.hides
}

// nextFrame waits for the overlay's next frame (its ticker draws them).
func (f *fakeSurface) nextFrame(t *testing.T) {
	t.Helper()
	select {
	case <-f.shown:
	case <-time.After(10 * time.Second):
		t.Fatal("no frame drawn")
	}
}

// The overlay follows a take: shown when recording starts (if enabled), its timer, level
// and live text drawn, committed words solid and tentative ones dimmed, the end of a long
// text, "Transcribing…" after release, hidden when the take is done.
func TestOverlayFollowsATake(t *testing.T) {
	newTestApp(t)
	surface := newFakeSurface()
	enabled := false
	o := NewOverlay(surface, func() bool { return enabled })
	apply := func(e app.Event) {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		fyne.Do(func() { o.Apply(e) })
	}
	onUI := func(f func()) { fyne.Do(f) }

	apply(app.Event{Kind: app.EventState, State: app.Recording})
	apply(app.Event{Kind: app.EventLive, Live: &app.LiveText{Committed: "hello"}})
	apply(app.Event{Kind: app.EventState, State: app.Idle})
	if n, _, hides := surface.state(); n != 0 || hides != 0 {
		t.Fatalf("switched off, the overlay drew %d frames and hid %d times", n, hides)
	}

	enabled = true
	// Started 59.5 s ago, so the ticker must turn the timer over to 1:00 on its own.
	apply(app.Event{Kind: app.EventState, State: app.Recording, Time: time.Now().Add(-59500 * time.Millisecond)})
	n, first, _ := surface.state()
	if n != 1 {
		t.Fatalf("%d frames when the take started", n)
	}
	onUI(func() {
		if !o.Meter.Visible() || !o.Dot.Visible() {
			t.Error("no level meter or recording dot while recording")
		}
	})
	for title := ""; title != "Recording 1:00"; {
		surface.nextFrame(t)
		onUI(func() { title = o.Title.Text })
		if !strings.HasPrefix(title, "Recording ") {
			t.Fatalf("title %q while recording", title)
		}
	}

	apply(app.Event{Kind: app.EventLevel, Level: 0.1})
	apply(app.Event{Kind: app.EventLive, Live: &app.LiveText{Committed: "the cat sat", Tentative: "on a", Elapsed: 61 * time.Second}})
	surface.nextFrame(t) // may be one the ticker queued before; the next is drawn after both
	surface.nextFrame(t)
	_, withText, _ := surface.state()
	onUI(func() {
		if v := o.Meter.Value; v < 0.6 || v > 0.7 {
			t.Errorf("meter %.2f for an RMS of 0.1 (-20 dBFS)", v)
		}
		if got := o.Text.String(); got != "the cat sat on a" {
			t.Errorf("live text %q", got)
		}
		segs := o.Text.Segments
		if len(segs) != 2 {
			t.Fatalf("%d segments", len(segs))
		}
		committed, tentative := segs[0].(*widget.TextSegment), segs[1].(*widget.TextSegment)
		if committed.Style.ColorName == theme.ColorNamePlaceHolder || tentative.Style.ColorName != theme.ColorNamePlaceHolder || !tentative.Style.TextStyle.Italic {
			t.Errorf("committed %+v, tentative %+v: only the tentative words are dimmed", committed.Style, tentative.Style)
		}
	})
	if before, after := inkBelow(first, 0.6), inkBelow(withText, 0.6); after < 100 || before > after/10 {
		t.Errorf("the text line has %d drawn pixels with text, %d without", after, before)
	}
	if colours := distinctColors(withText); colours < 4 {
		t.Errorf("the frame with text has %d colours: nothing drawn", colours)
	}

	// A long take shows the end of its text.
	long := strings.Repeat("word ", 80) + "last committed"
	apply(app.Event{Kind: app.EventLive, Live: &app.LiveText{Committed: long, Tentative: "maybe this", Elapsed: 90 * time.Second}})
	onUI(func() {
		got := o.Text.String()
		if !strings.HasPrefix(got, "…") || !strings.HasSuffix(got, "last committed maybe this") || utf8.RuneCountInString(got) > overlayTextRunes+1 {
			t.Errorf("long text shown as %q (%d runes)", got, utf8.RuneCountInString(got))
		}
	})

	apply(app.Event{Kind: app.EventState, State: app.Transcribing})
	onUI(func() {
		if o.Title.Text != "Transcribing…" || o.Meter.Visible() || o.Dot.Visible() {
			t.Errorf("after release: title %q, meter shown %v", o.Title.Text, o.Meter.Visible())
		}
	})
	apply(app.Event{Kind: app.EventState, State: app.Inserting})
	apply(app.Event{Kind: app.EventState, State: app.Idle})
	if _, _, hides := surface.state(); hides != 1 {
		t.Fatalf("hidden %d times when the take ended", hides)
	}
	onUI(func() {
		if o.visible || o.stop != nil {
			t.Error("still visible or ticking after the take")
		}
	})

	// The next take starts clean.
	apply(app.Event{Kind: app.EventState, State: app.Recording})
	onUI(func() {
		if o.Text.String() != "" || o.Meter.Value != 0 || !o.Meter.Visible() {
			t.Errorf("next take starts with text %q, meter %.2f", o.Text.String(), o.Meter.Value)
		}
	})
	o.Close()
	if _, _, hides := surface.state(); hides != 2 || !surface.closed {
		t.Errorf("closing: hidden %d times, surface closed %v", hides, surface.closed)
	}
}

// inkBelow counts the pixels below the given fraction of the height that differ from the
// frame's corner (its background).
func inkBelow(img image.Image, from float64) int {
	b := img.Bounds()
	bg := img.At(b.Min.X, b.Max.Y-1)
	n := 0
	for y := b.Min.Y + int(from*float64(b.Dy())); y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if img.At(x, y) != bg {
				n++
			}
		}
	}
	return n
}

// BenchmarkOverlayFrame: one overlay frame (layout and software rendering, on the UI
// thread) with two lines of live text; the overlay draws up to ten a second.
func BenchmarkOverlayFrame(b *testing.B) {
	newTestApp(b)
	o := NewOverlay(&fakeSurface{}, func() bool { return true })
	fyne.Do(func() {
		o.Apply(app.Event{Kind: app.EventState, State: app.Recording, Time: time.Now()})
		o.setText(app.LiveText{Committed: "The quick brown fox jumps over the lazy dog, and then it runs into the forest where", Tentative: "nobody can see it"})
		b.ResetTimer()
		for i := range b.N {
			o.Meter.SetValue(float64(i%10) / 10)
			o.paint(time.Now())
		}
		b.StopTimer()
	})
	o.Close()
}
