package ui

import (
	"errors"
	"fmt"
	"image"
	"os"
	"sync"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/randr"
	"github.com/jezek/xgb/shape"
	"github.com/jezek/xgb/xproto"
)

// overlayMargin is the gap between the overlay and the bottom of the screen, in pixels.
const overlayMargin = 48

// x11Overlay is an override-redirect X11 window: the window manager neither manages nor
// focuses it, and input passes through it, so the focused window keeps the keyboard. On a
// Wayland desktop it is an XWayland window, which Sway and GNOME show above the others.
type x11Overlay struct {
	conn   *xgb.Conn
	win    xproto.Window
	gc     xproto.Gcontext
	root   xproto.Window
	depth  byte
	bgrx   bool // 32 bits per pixel, blue first in memory
	maxReq int  // bytes in one request
	randr  bool // RandR answers: place on the monitor under the pointer

	mu      sync.Mutex
	pending image.Image // the frame to draw next; nil with hide set
	hide    bool
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

// NewOverlaySurface opens the overlay's own window on the X display ($DISPLAY).
func NewOverlaySurface() (OverlaySurface, error) {
	if os.Getenv("DISPLAY") == "" {
		return nil, fmt.Errorf("overlay: no X display: %w", errors.ErrUnsupported)
	}
	conn, err := xgb.NewConn()
	if err != nil {
		return nil, fmt.Errorf("overlay: %w", err)
	}
	o, err := newX11Overlay(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("overlay: %w", err)
	}
	go o.draw()
	go o.events()
	return o, nil
}

func newX11Overlay(conn *xgb.Conn) (*x11Overlay, error) {
	setup := xproto.Setup(conn)
	screen := setup.DefaultScreen(conn)
	o := &x11Overlay{conn: conn, root: screen.Root, depth: screen.RootDepth,
		maxReq: int(setup.MaximumRequestLength) * 4,
		wake:   make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	for _, f := range setup.PixmapFormats {
		if f.Depth == screen.RootDepth && f.BitsPerPixel == 32 {
			o.bgrx = setup.ImageByteOrder == xproto.ImageOrderLSBFirst
		}
	}
	var visual *xproto.VisualInfo
	for _, d := range screen.AllowedDepths {
		for i, v := range d.Visuals {
			if v.VisualId == screen.RootVisual {
				visual = &d.Visuals[i]
			}
		}
	}
	if !o.bgrx || visual == nil || visual.RedMask != 0xff0000 || visual.GreenMask != 0xff00 || visual.BlueMask != 0xff {
		return nil, fmt.Errorf("the screen's pixel format (depth %d) is not 32-bit RGB: %w", screen.RootDepth, errors.ErrUnsupported)
	}
	var err error
	if o.win, err = xproto.NewWindowId(conn); err != nil {
		return nil, err
	}
	if o.gc, err = xproto.NewGcontextId(conn); err != nil {
		return nil, err
	}
	err = xproto.CreateWindowChecked(conn, screen.RootDepth, o.win, screen.Root, 0, 0, 1, 1, 0,
		xproto.WindowClassInputOutput, screen.RootVisual,
		xproto.CwBackPixel|xproto.CwOverrideRedirect|xproto.CwEventMask,
		[]uint32{0x202020, 1, xproto.EventMaskExposure}).Check()
	if err != nil {
		return nil, err
	}
	if err := xproto.CreateGCChecked(conn, o.gc, xproto.Drawable(o.win), 0, nil).Check(); err != nil {
		return nil, err
	}
	o.randr = randr.Init(conn) == nil
	o.setProperties()
	// Clicks go through to the window below (an empty input shape), where the extension is.
	if shape.Init(conn) == nil {
		shape.Rectangles(conn, shape.SoSet, shape.SkInput, xproto.ClipOrderingUnsorted, o.win, 0, 0, nil)
	}
	return o, nil
}

// setProperties names the window and marks it as a notification that takes no input, for
// compositors and tools that look.
func (o *x11Overlay) setProperties() {
	atom := func(name string) xproto.Atom {
		r, err := xproto.InternAtom(o.conn, false, uint16(len(name)), name).Reply()
		if err != nil {
			return xproto.AtomNone
		}
		return r.Atom
	}
	change := func(prop, typ xproto.Atom, format byte, data []byte) {
		n := uint32(len(data)) / uint32(format/8)
		xproto.ChangeProperty(o.conn, xproto.PropModeReplace, o.win, prop, typ, format, n, data)
	}
	title := []byte("Dictate recording")
	change(xproto.AtomWmName, xproto.AtomString, 8, title)
	change(atom("_NET_WM_NAME"), atom("UTF8_STRING"), 8, title)
	change(xproto.AtomWmClass, xproto.AtomString, 8, []byte("dictate-overlay\x00Dictate\x00"))
	change(atom("_NET_WM_WINDOW_TYPE"), xproto.AtomAtom, 32, atoms(atom("_NET_WM_WINDOW_TYPE_NOTIFICATION")))
	// WM_HINTS: flags = InputHint, input = False.
	change(xproto.AtomWmHints, xproto.AtomWmHints, 32, words(1, 0, 0, 0, 0, 0, 0, 0, 0))
}

func atoms(a ...xproto.Atom) []byte {
	w := make([]uint32, len(a))
	for i, x := range a {
		w[i] = uint32(x)
	}
	return words(w...)
}

func words(w ...uint32) []byte {
	b := make([]byte, 4*len(w))
	for i, x := range w {
		xgb.Put32(b[4*i:], x)
	}
	return b
}

func (o *x11Overlay) Show(frame image.Image) { o.post(frame, false) }
func (o *x11Overlay) Hide()                  { o.post(nil, true) }

func (o *x11Overlay) post(frame image.Image, hide bool) {
	o.mu.Lock()
	o.pending, o.hide = frame, hide
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Close destroys the window and ends both goroutines.
func (o *x11Overlay) Close() {
	o.once.Do(func() {
		close(o.done)
		<-o.stopped
		xproto.DestroyWindow(o.conn, o.win)
		o.conn.Close()
	})
}

// draw puts each latest frame on screen, or hides the window, until Close.
func (o *x11Overlay) draw() {
	defer close(o.stopped)
	var last image.Image
	mapped := false
	width, height := 0, 0
	for {
		select {
		case <-o.done:
			return
		case <-o.wake:
		}
		o.mu.Lock()
		frame, hide := o.pending, o.hide
		o.pending = nil
		o.mu.Unlock()
		switch {
		case hide:
			if mapped {
				xproto.UnmapWindow(o.conn, o.win)
				mapped = false
			}
			last = nil
			continue
		case frame == nil: // exposed: draw the last frame again
			frame = last
			if frame == nil {
				continue
			}
		}
		b := frame.Bounds()
		if !mapped || b.Dx() != width || b.Dy() != height {
			width, height = b.Dx(), b.Dy()
			x, y := o.place(width, height)
			xproto.ConfigureWindow(o.conn, o.win,
				xproto.ConfigWindowX|xproto.ConfigWindowY|xproto.ConfigWindowWidth|xproto.ConfigWindowHeight|xproto.ConfigWindowStackMode,
				[]uint32{uint32(int32(x)), uint32(int32(y)), uint32(width), uint32(height), xproto.StackModeAbove})
		}
		if !mapped {
			xproto.MapWindow(o.conn, o.win)
			mapped = true
		}
		o.put(frame)
		last = frame
	}
}

// events redraws on Expose until the connection closes.
func (o *x11Overlay) events() {
	for {
		ev, err := o.conn.WaitForEvent()
		if ev == nil && err == nil {
			return
		}
		if e, ok := ev.(xproto.ExposeEvent); ok && e.Count == 0 {
			o.mu.Lock()
			redraw := !o.hide && o.pending == nil
			o.mu.Unlock()
			if redraw {
				select {
				case o.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

// place is the bottom centre of the monitor under the pointer (the whole screen where
// RandR cannot tell).
func (o *x11Overlay) place(width, height int) (x, y int) {
	geo, err := xproto.GetGeometry(o.conn, xproto.Drawable(o.root)).Reply()
	if err != nil {
		return 0, 0
	}
	mx, my, mw, mh := 0, 0, int(geo.Width), int(geo.Height)
	if ptr, err := xproto.QueryPointer(o.conn, o.root).Reply(); err == nil && o.randr {
		if mons, err := randr.GetMonitors(o.conn, o.root, true).Reply(); err == nil {
			px, py := int(ptr.RootX), int(ptr.RootY)
			for _, m := range mons.Monitors {
				if px >= int(m.X) && px < int(m.X)+int(m.Width) && py >= int(m.Y) && py < int(m.Y)+int(m.Height) {
					mx, my, mw, mh = int(m.X), int(m.Y), int(m.Width), int(m.Height)
					break
				}
			}
		}
	}
	return mx + (mw-width)/2, my + max(0, mh-height-overlayMargin)
}

// put sends the frame as ZPixmap bands that each fit in one request.
func (o *x11Overlay) put(frame image.Image) {
	b := frame.Bounds()
	stride := 4 * b.Dx()
	rows := max(1, (o.maxReq-64)/stride)
	for y0 := b.Min.Y; y0 < b.Max.Y; y0 += rows {
		y1 := min(b.Max.Y, y0+rows)
		data := make([]byte, 0, stride*(y1-y0))
		for y := y0; y < y1; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := frame.At(x, y).RGBA()
				data = append(data, byte(bl>>8), byte(g>>8), byte(r>>8), 0)
			}
		}
		xproto.PutImage(o.conn, xproto.ImageFormatZPixmap, xproto.Drawable(o.win), o.gc,
			uint16(b.Dx()), uint16(y1-y0), 0, int16(y0-b.Min.Y), 0, o.depth, data)
	}
}
