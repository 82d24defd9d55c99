package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dictate-app/dictate/internal/wayland"
)

// Witness is a plain Wayland window that tells when it has the keyboard focus: a window
// that appears (a consent dialog, a target application) takes the focus from it, and
// one that closes gives it back. Tests wait on it instead of on the clock.
type Witness struct {
	conn    *wayland.Conn
	mu      sync.Mutex
	focused bool
	changed chan struct{} // closed and replaced at each focus change
}

// NewWitness opens the window on the compositor at socket and waits for it to be focused.
func NewWitness(t testing.TB, socket string) *Witness {
	t.Helper()
	c, err := wayland.DialPath(socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &Witness{conn: c, changed: make(chan struct{})}
	bind := func(iface string, version uint32, handler func(wayland.Event)) uint32 {
		g, ok := c.Find(iface)
		if !ok {
			t.Fatalf("the compositor has no %s", iface)
		}
		id, err := c.Bind(g, version, handler)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// Handlers name their object by e.Object: an event can arrive before Bind returns the id.
	wmBase := bind("xdg_wm_base", 1, func(e wayland.Event) {
		if e.Opcode == 0 { // ping(serial)
			c.Request(e.Object, 3, wayland.Uint(e.Uint())) // pong
		}
	})
	compositor := bind("wl_compositor", 4, nil)
	shm := bind("wl_shm", 1, nil)
	keyboardEvents := func(e wayland.Event) {
		switch e.Opcode {
		case 0: // keymap(format, fd, size): not read
			e.Uint()
			if fd := e.FD(); fd >= 0 {
				unix.Close(fd)
			}
		case 1: // enter
			w.setFocus(true)
		case 2: // leave
			w.setFocus(false)
		}
	}
	// The keyboard is asked for once the seat has one (headless compositors have none
	// until a virtual keyboard exists; asking before is a protocol error to mutter).
	var once sync.Once
	bind("wl_seat", 1, func(e wayland.Event) {
		if e.Opcode == 0 && e.Uint()&2 != 0 { // capabilities: keyboard
			once.Do(func() { c.Create(keyboardEvents, e.Object, 1, wayland.NewObject) }) // get_keyboard
		}
	})
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	surface, err := c.Create(nil, compositor, 0, wayland.NewObject) // create_surface
	must(err)
	configured := make(chan uint32, 1)
	id, err := c.Create(func(e wayland.Event) {
		if e.Opcode == 0 { // configure(serial): the first is waited for, the rest (focus changes) acked here
			serial := e.Uint()
			select {
			case configured <- serial:
			default:
				c.Request(e.Object, 4, wayland.Uint(serial)) // ack_configure
			}
		}
	}, wmBase, 2, wayland.NewObject, wayland.Uint(surface)) // get_xdg_surface
	must(err)
	toplevel, err := c.Create(nil, id, 1, wayland.NewObject) // get_toplevel
	must(err)
	must(c.Request(toplevel, 2, wayland.String("dictate test witness"))) // set_title
	must(c.Request(surface, 6))                                          // commit: ask for a configure
	var serial uint32
	select {
	case serial = <-configured:
	case <-time.After(10 * time.Second):
		t.Fatalf("the witness window was never configured (connection: %v)", c.Err())
	}
	must(c.Request(id, 4, wayland.Uint(serial))) // ack_configure
	// A 64×64 white buffer in shared memory.
	const width, height = 64, 64
	size := width * height * 4
	fd, err := unix.MemfdCreate("witness", unix.MFD_CLOEXEC)
	must(err)
	f := os.NewFile(uintptr(fd), "witness")
	defer f.Close()
	pixels := make([]byte, size)
	for i := range pixels {
		pixels[i] = 0xff
	}
	_, err = f.Write(pixels)
	must(err)
	pool, err := c.Create(nil, shm, 0, wayland.NewObject, wayland.FD(fd), wayland.Int(int32(size))) // create_pool
	must(err)
	buffer, err := c.Create(nil, pool, 0, wayland.NewObject, wayland.Int(0), wayland.Int(width), wayland.Int(height),
		wayland.Int(width*4), wayland.Uint(0)) // create_buffer, ARGB8888
	must(err)
	must(c.Request(surface, 1, wayland.Uint(buffer), wayland.Int(0), wayland.Int(0)))                    // attach
	must(c.Request(surface, 2, wayland.Int(0), wayland.Int(0), wayland.Int(width), wayland.Int(height))) // damage
	must(c.Request(surface, 6))                                                                          // commit
	must(c.Roundtrip())
	w.WaitFocus(t, true)
	return w
}

func (w *Witness) setFocus(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.focused != on {
		w.focused = on
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

// Focused reports whether the witness has the keyboard focus.
func (w *Witness) Focused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.focused
}

// WaitFocus waits until the witness has (on) or has lost (!on) the keyboard focus.
func (w *Witness) WaitFocus(t testing.TB, on bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		w.mu.Lock()
		focused, changed := w.focused, w.changed
		w.mu.Unlock()
		if focused == on {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal(fmt.Sprintf("the witness window never %s the focus", map[bool]string{true: "got", false: "lost"}[on]))
		}
	}
}
