package textout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/dictate-app/dictate/internal/wayland"
)

// open picks the session's keyboard and clipboard: on Wayland a virtual keyboard where the
// compositor offers one (wlroots desktops), else the RemoteDesktop portal (GNOME, KDE
// Plasma), else nothing types and text goes to the clipboard; on X11, XTest.
func open(cfg Config) (Backend, keyboard, clipboard, error) {
	onWayland := os.Getenv("WAYLAND_DISPLAY") != ""
	backend := cfg.Backend
	if backend == "auto" {
		backend = "xtest"
		if onWayland {
			backend = "wayland"
		}
	}
	switch backend {
	case "xtest":
		if os.Getenv("DISPLAY") == "" {
			return Backend{}, nil, nil, errors.New("no X server (DISPLAY is not set) for XTest")
		}
		b := Backend{Name: "xtest", Keyboard: "XTest", Clipboard: "X11"}
		kb, err := newXTestKeyboard()
		if err != nil {
			return Backend{}, nil, nil, err
		}
		clip, err := openSystemClipboard()
		if err != nil {
			b.Clipboard = ""
			return b, kb, nil, nil
		}
		return b, kb, clip, nil
	case "wayland":
		conn, err := wayland.Dial()
		if err != nil {
			return Backend{}, nil, nil, err
		}
		kb, err := wayland.NewKeyboard(conn)
		if errors.Is(err, wayland.ErrNoVirtualKeyboard) && cfg.Backend == "auto" {
			conn.Close()
			return openWithoutVirtualKeyboard(cfg)
		}
		if err != nil {
			conn.Close()
			return Backend{}, nil, nil, err
		}
		b := Backend{Name: "wayland", Keyboard: "Wayland virtual keyboard (" + wayland.VirtualKeyboardManager + ")"}
		clip, cname := waylandClipboard(conn)
		b.Clipboard = cname
		return b, &waylandKeyboard{kb: kb, conn: conn}, clip, nil
	case "portal":
		return openPortal(cfg)
	case "clipboard":
		clip, cname, err := openClipboard()
		if err != nil {
			return Backend{}, nil, nil, err
		}
		return Backend{Name: "clipboard", Keyboard: "none", Clipboard: cname, Why: "chosen in the settings: paste the text yourself"}, nil, clip, nil
	}
	return Backend{}, nil, nil, fmt.Errorf("unknown text output %q", backend)
}

// openWithoutVirtualKeyboard is the Wayland desktop that keeps virtual keyboards to
// itself (GNOME, KDE Plasma): the RemoteDesktop portal types, after the user consents once;
// without it, the text goes to the clipboard.
func openWithoutVirtualKeyboard(cfg Config) (Backend, keyboard, clipboard, error) {
	b, kb, clip, err := openPortal(cfg)
	if err == nil {
		return b, kb, clip, nil
	}
	clip, cname, cerr := openClipboard()
	if cerr != nil {
		return Backend{}, nil, nil, fmt.Errorf("nothing can insert text here: no virtual keyboard, the RemoteDesktop portal failed (%v), and no clipboard (%v)", err, cerr)
	}
	return Backend{Name: "clipboard", Keyboard: "none", Clipboard: cname,
		Why: "this compositor offers no virtual keyboard and the RemoteDesktop portal is not available (" + err.Error() + ")"}, nil, clip, nil
}

// waylandClipboard is the data-control clipboard on conn, else the X11 one where XWayland
// shares it with Wayland applications (GNOME), else none.
func waylandClipboard(conn *wayland.Conn) (clipboard, string) {
	if c, ok := waylandDataControl(conn); ok {
		c.conn = nil // conn belongs to the keyboard
		return c, c.name()
	}
	if os.Getenv("DISPLAY") != "" {
		if c, err := openSystemClipboard(); err == nil {
			return c, "X11 (shared with Wayland applications through XWayland)"
		}
	}
	return nil, ""
}

// openClipboard opens the session's clipboard on a connection of its own (the caller
// closes it): data-control on Wayland, else the X11 one.
func openClipboard() (clipboard, string, error) {
	if os.Getenv("WAYLAND_DISPLAY") != "" {
		conn, err := wayland.Dial()
		if err == nil {
			if c, ok := waylandDataControl(conn); ok {
				return c, c.name(), nil
			}
			conn.Close()
		}
	}
	c, err := openSystemClipboard()
	if err != nil {
		return nil, "", err
	}
	return c, "X11", nil
}

// waylandDataControl is the data-control clipboard on conn, which it then owns.
func waylandDataControl(conn *wayland.Conn) (waylandClip, bool) {
	c, err := wayland.NewClipboard(conn)
	if err != nil {
		return waylandClip{}, false
	}
	return waylandClip{c: c, conn: conn}, true
}

// shared is the process's clipboard for Copy: a Wayland clipboard is served by the
// connection that set it, so it stays open for the process.
var shared struct {
	once sync.Once
	clip clipboard
	name string
	err  error
}

func sharedClipboard() (clipboard, string, error) {
	shared.once.Do(func() { shared.clip, shared.name, shared.err = openClipboard() })
	return shared.clip, shared.name, shared.err
}

// waylandKeyboard adapts wayland.Keyboard, and owns the connection.
type waylandKeyboard struct {
	kb   *wayland.Keyboard
	conn *wayland.Conn
}

func (w *waylandKeyboard) Type(ctx context.Context, text string) error { return w.kb.Type(ctx, text) }
func (w *waylandKeyboard) Chord(ctx context.Context, key string, mods ...string) error {
	return w.kb.Chord(key, mods...)
}
func (w *waylandKeyboard) Close() error { w.kb.Close(); return w.conn.Close() }

// waylandClip adapts wayland.Clipboard (text only); conn, when set, is its own connection.
type waylandClip struct {
	c    *wayland.Clipboard
	conn *wayland.Conn
}

func (w waylandClip) name() string { return "Wayland (" + w.c.Protocol + ")" }

func (w waylandClip) Close() error {
	if w.conn == nil {
		return nil
	}
	return w.conn.Close()
}

func (w waylandClip) Read(ctx context.Context) (Content, error) {
	text, err := w.c.Read(ctx)
	return Content{Text: text}, err
}

func (w waylandClip) Write(ctx context.Context, c Content) (<-chan struct{}, error) {
	return w.c.Write(c.Text)
}

// focusedWindowClasses names the focused window's application where the backend can
// tell: its WM_CLASS on X11, its app_id on Sway.
func focusedWindowClasses(backend string) []string {
	switch backend {
	case "xtest":
		return FocusedWindowClasses()
	case "wayland":
		if app := swayFocusedApp(); app != "" {
			return []string{app}
		}
	}
	return nil
}
