package wayland

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrNoCompositor: no Wayland display to connect to (WAYLAND_DISPLAY unset, or its
// socket absent).
var ErrNoCompositor = errors.New("no Wayland compositor")

// ErrProtocol is a wl_display.error from the compositor; the connection is dead after it.
var ErrProtocol = errors.New("Wayland protocol error")

// Global is an interface the compositor offers.
type Global struct {
	Name      uint32
	Interface string
	Version   uint32
}

// Conn is a connection to the compositor. Requests may come from any goroutine; events
// are read and handed to their objects' handlers by one goroutine of its own, in order,
// so a handler must not block on another request's answer.
type Conn struct {
	sock *net.UnixConn

	writeMu  sync.Mutex
	createMu sync.Mutex // a new id and the request that creates it go out together (Create)

	mu       sync.Mutex
	nextID   uint32
	handlers map[uint32]func(Event)
	fds      []int // received with the bytes, waiting for their events
	err      error // why the connection ended
	closed   chan struct{}

	registry uint32
	globals  []Global
}

// Event is one event as read: its object, opcode and arguments, decoded in order.
type Event struct {
	Object uint32
	Opcode uint16
	args   []byte
	conn   *Conn
}

// Dial connects to the compositor named by WAYLAND_DISPLAY (a name in XDG_RUNTIME_DIR,
// or a path) and reads its globals.
func Dial() (*Conn, error) {
	display := os.Getenv("WAYLAND_DISPLAY")
	if display == "" {
		return nil, fmt.Errorf("%w: WAYLAND_DISPLAY is not set", ErrNoCompositor)
	}
	path := display
	if !filepath.IsAbs(path) {
		dir := os.Getenv("XDG_RUNTIME_DIR")
		if dir == "" {
			return nil, fmt.Errorf("%w: XDG_RUNTIME_DIR is not set", ErrNoCompositor)
		}
		path = filepath.Join(dir, display)
	}
	return DialPath(path)
}

// DialPath connects to the compositor's socket at path.
func DialPath(path string) (*Conn, error) {
	sock, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoCompositor, err)
	}
	c := &Conn{sock: sock, nextID: 2, handlers: map[uint32]func(Event){}, closed: make(chan struct{})}
	c.handlers[displayID] = c.onDisplay
	go c.read()
	registry, err := c.Create(func(e Event) {
		if e.Opcode == 0 { // global(name, interface, version)
			g := Global{Name: e.Uint(), Interface: e.String(), Version: e.Uint()}
			c.mu.Lock()
			c.globals = append(c.globals, g)
			c.mu.Unlock()
		}
	}, displayID, 1, NewObject) // get_registry
	if err != nil {
		c.Close()
		return nil, err
	}
	c.registry = registry
	if err := c.Roundtrip(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

const displayID = 1

// Globals lists what the compositor offers.
func (c *Conn) Globals() []Global {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Global(nil), c.globals...)
}

// Find returns the global offering iface, if any.
func (c *Conn) Find(iface string) (Global, bool) {
	for _, g := range c.Globals() {
		if g.Interface == iface {
			return g, true
		}
	}
	return Global{}, false
}

// Bind makes an object of a global, at version (at most the global's), whose events go
// to handler (nil: ignored).
func (c *Conn) Bind(g Global, version uint32, handler func(Event)) (uint32, error) {
	// wl_registry.bind(name, interface, version, new_id): an untyped new_id carries its
	// interface and version.
	return c.Create(handler, c.registry, 0, Uint(g.Name), String(g.Interface), Uint(min(version, g.Version)), NewObject)
}

// bindWithSeat binds a manager global and the first seat, which the managers that act for a
// seat (virtual keyboards, data control) are asked for objects on.
func (c *Conn) bindWithSeat(manager Global) (managerID, seat uint32, err error) {
	sg, ok := c.Find("wl_seat")
	if !ok {
		return 0, 0, errors.New("the compositor has no seat")
	}
	if seat, err = c.Bind(sg, 1, nil); err != nil {
		return 0, 0, err
	}
	managerID, err = c.Bind(manager, 1, nil)
	return managerID, seat, err
}

// NewObject stands for the new object's id among Create's arguments.
var NewObject = Arg{newObject: true}

// Create sends a request that creates an object (its id where NewObject stands), whose
// events go to handler (nil: ignored), and returns the id. Ids must reach the compositor
// in the order they were allocated, so allocation and request go out together.
func (c *Conn) Create(handler func(Event), object uint32, opcode uint16, args ...Arg) (uint32, error) {
	c.createMu.Lock()
	defer c.createMu.Unlock()
	id := c.newID(handler)
	args = append([]Arg(nil), args...)
	for i, a := range args {
		if a.newObject {
			args[i] = Uint(id)
		}
	}
	return id, c.Request(object, opcode, args...)
}

// newID allocates an object id whose events go to handler.
func (c *Conn) newID(handler func(Event)) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextID
	c.nextID++
	if handler == nil {
		handler = func(Event) {}
	}
	c.handlers[id] = handler
	return id
}

// Forget drops an object's handler (after its destructor request, or its last event).
func (c *Conn) Forget(id uint32) {
	c.mu.Lock()
	delete(c.handlers, id)
	c.mu.Unlock()
}

// Arg is one request argument.
type Arg struct {
	word      []byte
	fd        int
	newObject bool
}

// Uint is a uint, object or new_id argument.
func Uint(v uint32) Arg {
	return Arg{word: binary.LittleEndian.AppendUint32(nil, v), fd: -1}
}

// Int is an int argument.
func Int(v int32) Arg { return Uint(uint32(v)) }

// String is a string argument: length with the NUL, bytes, NUL, padding to 4.
func String(s string) Arg {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(s)+1))
	b = append(b, s...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return Arg{word: b, fd: -1}
}

// FD is a file descriptor argument: it travels beside the bytes (SCM_RIGHTS).
func FD(fd int) Arg { return Arg{fd: fd} }

// Request sends opcode to object with args.
func (c *Conn) Request(object uint32, opcode uint16, args ...Arg) error {
	msg := make([]byte, 8, 64)
	var fds []int
	for _, a := range args {
		if a.word == nil {
			fds = append(fds, a.fd)
			continue
		}
		msg = append(msg, a.word...)
	}
	binary.LittleEndian.PutUint32(msg[0:], object)
	binary.LittleEndian.PutUint32(msg[4:], uint32(len(msg))<<16|uint32(opcode))
	var oob []byte
	if len(fds) > 0 {
		oob = syscall.UnixRights(fds...)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if err := c.Err(); err != nil {
		return err
	}
	_, _, err := c.sock.WriteMsgUnix(msg, oob, nil)
	return err
}

// Roundtrip waits until the compositor has handled every request sent so far (and this
// connection has handled its events up to then).
func (c *Conn) Roundtrip() error {
	done := make(chan struct{})
	var once sync.Once
	cb, err := c.Create(func(Event) { once.Do(func() { close(done) }) }, displayID, 0, NewObject) // sync
	defer c.Forget(cb)
	if err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-c.closed:
		return c.Err()
	case <-time.After(10 * time.Second):
		return errors.New("the Wayland compositor did not answer within 10 s")
	}
}

// Err is why the connection ended, or nil.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection; the reader stops and pending fds are closed.
func (c *Conn) Close() error {
	err := c.sock.Close()
	<-c.closed
	return err
}

func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// onDisplay handles wl_display's events: a protocol error ends the connection.
func (c *Conn) onDisplay(e Event) {
	switch e.Opcode {
	case 0: // error(object_id, code, message)
		obj, code, msg := e.Uint(), e.Uint(), e.String()
		c.fail(fmt.Errorf("%w on object %d (code %d): %s", ErrProtocol, obj, code, msg))
		c.sock.Close()
	case 1: // delete_id(id)
		c.Forget(e.Uint())
	}
}

// read reads events and hands them to their handlers until the connection ends.
func (c *Conn) read() {
	defer func() {
		c.mu.Lock()
		for _, fd := range c.fds {
			syscall.Close(fd)
		}
		c.fds = nil
		c.mu.Unlock()
		close(c.closed)
	}()
	var buf []byte
	chunk := make([]byte, 4096)
	oob := make([]byte, syscall.CmsgSpace(28*4))
	for {
		n, oobn, _, _, err := c.sock.ReadMsgUnix(chunk, oob)
		n, oobn = max(n, 0), max(oobn, 0) // -1 with some errors
		if oobn > 0 {
			c.takeFDs(oob[:oobn])
		}
		buf = append(buf, chunk[:n]...)
		for len(buf) >= 8 {
			size := int(binary.LittleEndian.Uint32(buf[4:]) >> 16)
			if size < 8 {
				c.fail(fmt.Errorf("%w: a message of %d bytes", ErrProtocol, size))
				return
			}
			if len(buf) < size {
				break
			}
			e := Event{Object: binary.LittleEndian.Uint32(buf), Opcode: uint16(binary.LittleEndian.Uint32(buf[4:])),
				args: append([]byte(nil), buf[8:size]...), conn: c}
			buf = buf[size:]
			c.mu.Lock()
			h := c.handlers[e.Object]
			c.mu.Unlock()
			if h != nil {
				h(e)
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = errors.New("the Wayland compositor closed the connection")
			}
			c.fail(err)
			return
		}
	}
}

func (c *Conn) takeFDs(oob []byte) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return
	}
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		c.mu.Lock()
		c.fds = append(c.fds, fds...)
		c.mu.Unlock()
	}
}

// Uint reads the next uint, object or new_id argument.
func (e *Event) Uint() uint32 {
	if len(e.args) < 4 {
		return 0
	}
	v := binary.LittleEndian.Uint32(e.args)
	e.args = e.args[4:]
	return v
}

// String reads the next string argument.
func (e *Event) String() string {
	n := int(e.Uint())
	if n == 0 || n > len(e.args) {
		return ""
	}
	s := string(e.args[:n-1])
	e.args = e.args[min(len(e.args), (n+3)&^3):]
	return s
}

// FD takes the next file descriptor argument (the caller closes it), or -1.
func (e *Event) FD() int {
	e.conn.mu.Lock()
	defer e.conn.mu.Unlock()
	if len(e.conn.fds) == 0 {
		return -1
	}
	fd := e.conn.fds[0]
	e.conn.fds = e.conn.fds[1:]
	return fd
}

// String names the global for messages.
func (g Global) String() string { return g.Interface + " v" + strconv.Itoa(int(g.Version)) }
