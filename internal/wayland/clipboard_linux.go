package wayland

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"
)

// The data-control protocols let a client without a focused window read and set the
// clipboard: ext_data_control_v1 (the standard one) and zwlr_data_control_v1 (wlroots'
// older one). They have the same requests and events.
var dataControlManagers = []string{"ext_data_control_manager_v1", "zwlr_data_control_manager_v1"}

// ErrNoDataControl: the compositor offers no data-control protocol (GNOME does not).
var ErrNoDataControl = errors.New("the compositor offers no clipboard access (ext_data_control_v1, zwlr_data_control_v1)")

// textTypes are the MIME types text is offered and read as, most preferred first.
var textTypes = []string{"text/plain;charset=utf-8", "text/plain", "UTF8_STRING", "STRING", "TEXT"}

// Clipboard reads and sets the selection (the Ctrl+C/Ctrl+V clipboard).
type Clipboard struct {
	c        *Conn
	Protocol string // the manager in use
	manager  uint32
	device   uint32

	mu       sync.Mutex
	offers   map[uint32][]string // offers announced, with their MIME types
	current  uint32              // the selection's offer, 0 when empty
	finished bool                // the device is gone (its seat was removed)
}

// NewClipboard binds the first data-control protocol the compositor has.
func NewClipboard(c *Conn) (*Clipboard, error) {
	var mg Global
	found := false
	for _, name := range dataControlManagers {
		if mg, found = c.Find(name); found {
			break
		}
	}
	if !found {
		return nil, ErrNoDataControl
	}
	cb := &Clipboard{c: c, Protocol: mg.Interface, offers: map[uint32][]string{}}
	manager, seat, err := c.bindWithSeat(mg)
	if err != nil {
		return nil, err
	}
	cb.manager = manager
	if cb.device, err = c.Create(cb.onDevice, cb.manager, 1, NewObject, Uint(seat)); err != nil { // get_data_device(id, seat)
		return nil, err
	}
	// The device announces the current selection right away.
	return cb, c.Roundtrip()
}

func (cb *Clipboard) onDevice(e Event) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	switch e.Opcode {
	case 0: // data_offer(id): its MIME types follow as offer events
		id := e.Uint()
		cb.offers[id] = nil
		cb.c.mu.Lock()
		cb.c.handlers[id] = func(e Event) {
			if e.Opcode == 0 { // offer(mime_type)
				mime := e.String()
				cb.mu.Lock()
				cb.offers[id] = append(cb.offers[id], mime)
				cb.mu.Unlock()
			}
		}
		cb.c.mu.Unlock()
	case 1: // selection(id or null): the previous selection's offer is finished with
		id := e.Uint()
		if cb.current != 0 && cb.current != id {
			cb.destroyOffer(cb.current)
		}
		cb.current = id
	case 3: // primary_selection(id): not ours to track
		if id := e.Uint(); id != 0 && id != cb.current {
			cb.destroyOffer(id)
		}
	case 2: // finished
		cb.finished = true
	}
}

// destroyOffer lets an offer go (cb.mu held).
func (cb *Clipboard) destroyOffer(id uint32) {
	delete(cb.offers, id)
	cb.c.Request(id, 1) // destroy
	cb.c.Forget(id)
}

// Read returns the clipboard's text ("" when it is empty or holds no text).
func (cb *Clipboard) Read(ctx context.Context) (string, error) {
	if err := cb.c.Roundtrip(); err != nil { // the latest selection
		return "", err
	}
	cb.mu.Lock()
	offer, types, finished := cb.current, cb.offers[cb.current], cb.finished
	cb.mu.Unlock()
	if finished {
		return "", errors.New("the clipboard's seat is gone")
	}
	mime := ""
	for _, t := range textTypes {
		if slices.Contains(types, t) {
			mime = t
			break
		}
	}
	if offer == 0 || mime == "" {
		return "", nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer r.Close()
	err = cb.c.Request(offer, 0, String(mime), FD(int(w.Fd()))) // receive(mime_type, fd)
	w.Close()                                                   // the owner holds the other copy
	if err != nil {
		return "", err
	}
	if err := cb.c.Roundtrip(); err != nil {
		return "", err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(5 * time.Second)
	}
	r.SetReadDeadline(deadline)
	data, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return "", fmt.Errorf("reading the clipboard: %w", err)
	}
	return string(data), nil
}

// Write makes text the clipboard's content; it is served from this connection until
// something else is copied, when the returned channel closes.
func (cb *Clipboard) Write(text string) (<-chan struct{}, error) {
	replaced := make(chan struct{})
	var once sync.Once
	var source uint32
	var sourceMu sync.Mutex // source is set after Create returns; its handler reads it
	sourceMu.Lock()
	source, err := cb.c.Create(func(e Event) {
		sourceMu.Lock()
		id := source
		sourceMu.Unlock()
		switch e.Opcode {
		case 0: // send(mime_type, fd): write the text and close
			_ = e.String() // every type offered is text
			fd := e.FD()
			if fd < 0 {
				return
			}
			f := os.NewFile(uintptr(fd), "clipboard")
			go func() { // a slow reader must not hold up this connection's events
				defer f.Close()
				f.SetWriteDeadline(time.Now().Add(5 * time.Second))
				io.WriteString(f, text)
			}()
		case 1: // cancelled: another client's selection replaced this one
			once.Do(func() { close(replaced) })
			cb.c.Request(id, 1) // destroy
			cb.c.Forget(id)
		}
	}, cb.manager, 0, NewObject) // create_data_source
	sourceMu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, t := range textTypes {
		if err := cb.c.Request(source, 0, String(t)); err != nil { // offer
			return nil, err
		}
	}
	if err := cb.c.Request(cb.device, 0, Uint(source)); err != nil { // set_selection
		return nil, err
	}
	return replaced, cb.c.Roundtrip()
}
