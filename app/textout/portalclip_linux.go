package textout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"

	"github.com/dictate-app/dictate/internal/portal"
)

const clipboardPortal = "org.freedesktop.portal.Clipboard"

// The MIME types text is offered as: Wayland's, and the X11 targets XWayland clients ask
// for.
var (
	textTypes  = []string{"text/plain;charset=utf-8", "text/plain", "UTF8_STRING", "STRING", "TEXT"}
	imageTypes = []string{"image/png"}
)

// portalClipboard is the clipboard of the RemoteDesktop session (GNOME). The desktop makes
// the session the selection's owner before SetSelection returns, so a paste key sent after
// it pastes our text. A selection set through XWayland instead reached Wayland windows only
// once the compositor had asked the X owner for its formats: with the machine busy, the
// paste key came first and pasted the old clipboard (TestLayoutPortal held nothing).
type portalClipboard struct {
	conn    *portal.Conn
	session dbus.ObjectPath

	mu      sync.Mutex
	content Content       // what the session offers while it owns the selection
	owner   bool          // the session owns the selection
	offered []string      // the MIME types of the selection, when another owner has it
	lost    chan struct{} // closed when another owner takes the selection
	granted uint64        // how often the desktop said the session owns the selection
	changed chan struct{} // closed (and replaced) at each change of owner

	done      chan struct{}
	served    sync.WaitGroup // the signal loop and transfers under way
	closeOnce sync.Once
}

// newPortalClipboard serves the session's clipboard. After Start the session makes no
// more requests, so the clipboard takes the connection's signals.
func newPortalClipboard(conn *portal.Conn, session dbus.ObjectPath) *portalClipboard {
	c := &portalClipboard{conn: conn, session: session, done: make(chan struct{}), lost: make(chan struct{}), changed: make(chan struct{})}
	close(c.lost) // nothing of ours is on the clipboard yet
	c.served.Add(1)
	go c.serve()
	return c
}

func (c *portalClipboard) call(ctx context.Context, method string, args ...any) *dbus.Call {
	return c.conn.Portal().CallWithContext(ctx, clipboardPortal+"."+method, 0, append([]any{c.session}, args...)...)
}

func (c *portalClipboard) serve() {
	defer c.served.Done()
	for {
		select {
		case <-c.done:
			return
		case sig, ok := <-c.conn.Signals:
			if !ok {
				return
			}
			if len(sig.Body) < 2 || sig.Body[0] != c.session {
				continue
			}
			switch sig.Name {
			case clipboardPortal + ".SelectionTransfer":
				mime, _ := sig.Body[1].(string)
				var serial uint32
				if len(sig.Body) > 2 {
					serial, _ = sig.Body[2].(uint32)
				}
				c.served.Add(1)
				go func() { defer c.served.Done(); c.transfer(mime, serial) }()
			case clipboardPortal + ".SelectionOwnerChanged":
				opts, _ := sig.Body[1].(map[string]dbus.Variant)
				ours, _ := opts["session_is_owner"].Value().(bool)
				types, _ := opts["mime_types"].Value().([]string)
				c.mu.Lock()
				c.offered = types
				switch {
				case ours:
					c.granted++
					if !c.owner { // a change from before our last Write came late
						c.owner, c.lost = true, make(chan struct{})
					}
				case c.owner:
					c.owner = false
					close(c.lost)
				}
				close(c.changed)
				c.changed = make(chan struct{})
				c.mu.Unlock()
			}
		}
	}
}

// transfer writes what the session offers as mime to the window pasting it.
func (c *portalClipboard) transfer(mime string, serial uint32) {
	c.mu.Lock()
	data, ok := c.content.as(mime)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := errors.New("no content of that type")
	if ok {
		err = c.write(ctx, serial, data)
	}
	c.call(ctx, "SelectionWriteDone", serial, err == nil)
}

func (c *portalClipboard) write(ctx context.Context, serial uint32, data []byte) error {
	var fd dbus.UnixFD
	if err := c.call(ctx, "SelectionWrite", serial).Store(&fd); err != nil {
		return err
	}
	f, err := pipeFile(fd, "selection")
	if err != nil {
		return err
	}
	defer f.Close()
	if dl, ok := ctx.Deadline(); ok {
		f.SetWriteDeadline(dl)
	}
	_, err = f.Write(data)
	return err
}

// as returns the content as the MIME type asked for.
func (c Content) as(mime string) ([]byte, bool) {
	switch {
	case c.Text != "" && slices.Contains(textTypes, mime):
		return []byte(c.Text), true
	case c.Text == "" && len(c.Image) > 0 && slices.Contains(imageTypes, mime):
		return c.Image, true
	}
	return nil, false
}

// pipeFile makes a received descriptor a file that honours deadlines.
func pipeFile(fd dbus.UnixFD, name string) (*os.File, error) {
	if err := unix.SetNonblock(int(fd), true); err != nil {
		unix.Close(int(fd))
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// Write makes c the selection, and returns once the desktop says the session owns it (or
// after a second without word): a window that asks for the clipboard before then may be
// sent to the owner being replaced, whose transfer fails (measured: an X11 read right
// after a SetSelection got nothing). The channel closes when another owner takes it.
func (c *portalClipboard) Write(ctx context.Context, content Content) (<-chan struct{}, error) {
	types := textTypes
	if content.Text == "" && len(content.Image) > 0 {
		types = imageTypes
	}
	c.mu.Lock()
	granted := c.granted
	c.content = content
	if !c.owner {
		c.owner, c.lost = true, make(chan struct{})
	}
	lost := c.lost
	c.mu.Unlock()
	if err := c.call(ctx, "SetSelection", map[string]dbus.Variant{"mime_types": dbus.MakeVariant(types)}).Err; err != nil {
		c.mu.Lock()
		if c.owner && c.lost == lost {
			c.owner = false
			close(c.lost)
		}
		c.mu.Unlock()
		return nil, fmt.Errorf("RemoteDesktop portal clipboard: %w", err)
	}
	word := time.NewTimer(time.Second)
	defer word.Stop()
	for {
		c.mu.Lock()
		done, changed := c.granted > granted, c.changed
		c.mu.Unlock()
		if done {
			return lost, nil
		}
		select {
		case <-changed:
		case <-word.C:
			return lost, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Read returns the selection: ours as we offer it, another owner's through the portal
// (text, else a PNG image).
func (c *portalClipboard) Read(ctx context.Context) (Content, error) {
	c.mu.Lock()
	owner, content, offered := c.owner, c.content, c.offered
	c.mu.Unlock()
	if owner {
		return content, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Before the first owner change the types are not known: ask for text, then an image.
	want := func(types []string) string {
		if offered == nil {
			return types[0]
		}
		for _, t := range types {
			if slices.Contains(offered, t) {
				return t
			}
		}
		return ""
	}
	var err error
	if mime := want(textTypes); mime != "" {
		var b []byte
		if b, err = c.read(ctx, mime); err == nil && len(b) > 0 {
			return Content{Text: string(b)}, nil
		}
	}
	if mime := want(imageTypes); mime != "" {
		var b []byte
		if b, err = c.read(ctx, mime); err == nil && len(b) > 0 {
			return Content{Image: b}, nil
		}
	}
	if err != nil {
		return Content{}, fmt.Errorf("reading the clipboard through the RemoteDesktop portal (it offers %q): %w", offered, err)
	}
	return Content{}, nil
}

func (c *portalClipboard) read(ctx context.Context, mime string) ([]byte, error) {
	var fd dbus.UnixFD
	if err := c.call(ctx, "SelectionRead", mime).Store(&fd); err != nil {
		return nil, err
	}
	f, err := pipeFile(fd, "selection")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if dl, ok := ctx.Deadline(); ok {
		f.SetReadDeadline(dl)
	}
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

// Close stops serving the selection; the session's end takes it from the desktop.
func (c *portalClipboard) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	c.served.Wait()
	return nil
}
