package ui

import (
	"fmt"
	"image"
	"image/color"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/software"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/dictate-app/dictate/app"
)

// OverlaySurface shows the overlay's frames somewhere on screen without ever taking focus,
// so the text still goes to the window the user works in. Calls must not block: a surface
// draws on its own goroutine, the latest frame winning.
type OverlaySurface interface {
	Show(frame image.Image)
	Hide()
	Close()
}

// overlayWidth is the overlay's width in Fyne units; its height follows its content.
const overlayWidth = 520

// overlayTextRunes is how much of the live text the overlay shows: the end of it, as a
// caption does.
const overlayTextRunes = 180

// overlayFrameInterval is how often a visible overlay redraws (level, timer, text).
const overlayFrameInterval = 100 * time.Millisecond

// Overlay is the recording overlay: a small panel at the bottom centre of the screen while
// a take runs, with the level, the take's length and the live text (committed words
// solid, tentative ones dimmed). Fyne draws it into an image in memory, and a surface of
// the platform's shows it, because a Fyne window takes focus when it is shown. All methods
// run on the UI thread.
type Overlay struct {
	surface OverlaySurface
	enabled func() bool // read when a take starts (the Settings switch)

	canvas software.WindowlessCanvas
	Dot    *canvas.Circle
	Title  *widget.Label
	Meter  *widget.ProgressBar
	Text   *widget.RichText

	state   app.State
	started time.Time
	visible bool
	dirty   bool
	stop    chan struct{} // ends the frame ticker
	ticking sync.WaitGroup
	frames  int // drawn so far (tests)
}

// NewOverlay builds the overlay for surface; enabled says whether a take shows it.
func NewOverlay(surface OverlaySurface, enabled func() bool) *Overlay {
	o := &Overlay{surface: surface, enabled: enabled}
	o.Dot = canvas.NewCircle(color.NRGBA{R: 0xe5, G: 0x39, B: 0x35, A: 0xff})
	o.Title = widget.NewLabel("")
	o.Title.TextStyle = fyne.TextStyle{Bold: true}
	o.Meter = widget.NewProgressBar()
	o.Meter.TextFormatter = func() string { return "" }
	o.Text = widget.NewRichText()
	o.Text.Wrapping = fyne.TextWrapWord
	dot := container.New(layout.NewCenterLayout(), container.NewGridWrap(fyne.NewSquareSize(12), o.Dot))
	head := container.NewBorder(nil, nil, container.NewHBox(dot, o.Title), nil, o.Meter)
	o.canvas = software.NewCanvas()
	if s := fyne.CurrentApp().Settings().Scale(); s > 0 {
		o.canvas.SetScale(s) // the user's scale (FYNE_SCALE, fyne settings), as the window has
	}
	o.canvas.SetContent(container.NewVBox(head, o.Text))
	return o
}

// Apply follows one event of the dictation flow.
func (o *Overlay) Apply(e app.Event) {
	switch e.Kind {
	case app.EventState:
		prev := o.state
		o.state = e.State
		switch {
		case e.State == app.Recording && prev != app.Recording:
			if o.enabled != nil && !o.enabled() {
				return
			}
			o.started = e.Time
			o.Text.Segments = nil
			o.Meter.SetValue(0)
			o.Meter.Show()
			o.Dot.Show()
			o.show()
		case e.State == app.Idle:
			o.hide()
		case o.visible:
			o.Meter.Hide()
			o.Dot.Hide()
			o.dirty = true
		}
	case app.EventLevel:
		if o.visible {
			o.Meter.SetValue(levelToMeter(e.Level))
			o.dirty = true
		}
	case app.EventLive:
		if o.visible {
			o.setText(*e.Live)
			o.dirty = true
		}
	}
	if o.visible && e.Kind == app.EventState {
		o.paint(e.Time)
	}
}

// setText shows the end of the live text: committed words solid, tentative ones dimmed.
func (o *Overlay) setText(l app.LiveText) {
	committed, tentative := []rune(l.Committed), []rune(l.Tentative)
	if over := len(committed) + len(tentative) + 1 - overlayTextRunes; over > 0 {
		if over >= len(committed) {
			committed = nil
			tentative = append([]rune("…"), tentative[max(0, len(tentative)-overlayTextRunes):]...)
		} else {
			committed = append([]rune("…"), committed[over:]...)
		}
	}
	var segs []widget.RichTextSegment
	if len(committed) > 0 {
		text := string(committed)
		if len(tentative) > 0 {
			text += " "
		}
		segs = append(segs, &widget.TextSegment{Text: text, Style: widget.RichTextStyleInline})
	}
	if len(tentative) > 0 {
		segs = append(segs, &widget.TextSegment{Text: string(tentative), Style: widget.RichTextStyle{Inline: true,
			ColorName: theme.ColorNamePlaceHolder, TextStyle: fyne.TextStyle{Italic: true}}})
	}
	o.Text.Segments = segs
	o.Text.Refresh()
}

func (o *Overlay) show() {
	o.visible = true
	o.dirty = true
	if o.stop == nil {
		stop := make(chan struct{})
		o.stop = stop
		o.ticking.Add(1)
		go func() {
			defer o.ticking.Done()
			tick(stop, overlayFrameInterval, func(now time.Time) {
				fyne.Do(func() {
					select {
					case <-stop: // a frame queued before the take ended
					default:
						o.frame(now)
					}
				})
			})
		}()
	}
}

// hide stops the frames; it does not wait for the ticker, which may be queueing a frame
// for this very thread.
func (o *Overlay) hide() {
	if o.stop != nil {
		close(o.stop)
		o.stop = nil
	}
	if o.visible {
		o.visible = false
		o.surface.Hide()
	}
}

// frame redraws a visible overlay if something changed or the timer moved on.
func (o *Overlay) frame(now time.Time) {
	if !o.visible {
		return
	}
	if o.dirty || o.title(now) != o.Title.Text {
		o.paint(now)
	}
}

func (o *Overlay) title(now time.Time) string {
	switch o.state {
	case app.Recording:
		d := max(0, now.Sub(o.started))
		return fmt.Sprintf("Recording %d:%02d", int(d.Minutes()), int(d.Seconds())%60)
	case app.Transcribing:
		return "Transcribing…"
	default:
		return "Typing…"
	}
}

// paint renders the panel and hands the frame to the surface.
func (o *Overlay) paint(now time.Time) {
	o.Title.SetText(o.title(now))
	size := fyne.NewSize(overlayWidth, 0)
	size.Height = o.canvas.Content().MinSize().Height + 2*theme.Padding()
	o.canvas.Resize(size)
	o.dirty = false
	o.frames++
	o.surface.Show(o.canvas.Capture())
}

// Close hides the overlay and releases its surface. It waits for the frame ticker, so
// call it once the UI thread has stopped (after App.Run), as Run does.
func (o *Overlay) Close() {
	if o.stop != nil {
		close(o.stop)
		o.stop = nil
		o.ticking.Wait()
	}
	o.hide()
	o.surface.Close()
}

// tick calls f every interval until stop is closed.
func tick(stop <-chan struct{}, interval time.Duration, f func(time.Time)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			f(now)
		}
	}
}
