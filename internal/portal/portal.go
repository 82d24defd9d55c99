// Package portal calls xdg-desktop-portal's request-style methods over D-Bus: each call
// returns a Request object whose Response signal carries the result, once the user has
// answered the desktop's dialog if there is one.
package portal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/godbus/dbus/v5"
)

const (
	Bus     = "org.freedesktop.portal.Desktop"
	Path    = "/org/freedesktop/portal/desktop"
	request = "org.freedesktop.portal.Request"
)

// ErrCancelled: the user cancelled the desktop's dialog.
var ErrCancelled = errors.New("cancelled in the desktop's dialog")

// ErrRefused: the desktop refused the request (or a policy did).
var ErrRefused = errors.New("refused by the desktop")

// Conn is a session-bus connection subscribed to the portal's signals.
type Conn struct {
	*dbus.Conn
	Signals chan *dbus.Signal // Responses are taken by Call; other signals wait here
}

// Connect subscribes conn (or the session bus when connect is nil) to Request responses
// and to the signals of the interfaces named.
func Connect(connect func() (*dbus.Conn, error), interfaces ...string) (*Conn, error) {
	if connect == nil {
		connect = func() (*dbus.Conn, error) { return dbus.ConnectSessionBus() }
	}
	conn, err := connect()
	if err != nil {
		return nil, fmt.Errorf("cannot reach the session D-Bus: %w", err)
	}
	c := &Conn{Conn: conn, Signals: make(chan *dbus.Signal, 64)}
	conn.Signal(c.Signals)
	for _, iface := range append([]string{request}, interfaces...) {
		if err := conn.AddMatchSignal(dbus.WithMatchInterface(iface)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close ends the subscription and the connection.
func (c *Conn) Close() error {
	c.RemoveSignal(c.Signals)
	return c.Conn.Close()
}

// Portal is the portal's object.
func (c *Conn) Portal() dbus.BusObject { return c.Object(Bus, Path) }

// CloseSession ends a portal session (its shortcuts, its remote control).
func (c *Conn) CloseSession(session dbus.ObjectPath) {
	c.Object(Bus, session).Call("org.freedesktop.portal.Session.Close", 0)
}

// Token is a fresh handle or session token.
func Token() string { return fmt.Sprintf("dictate%d", rand.Uint32()) }

// Call makes a request and waits for its Response. When the last argument is the options
// dict, a handle_token is added to it; otherwise a dict with one is appended.
func (c *Conn) Call(ctx context.Context, method string, args ...any) (map[string]dbus.Variant, error) {
	tok := Token()
	var opts map[string]dbus.Variant
	if len(args) > 0 {
		opts, _ = args[len(args)-1].(map[string]dbus.Variant)
	}
	if opts == nil {
		opts = map[string]dbus.Variant{}
		args = append(args, opts)
	}
	opts["handle_token"] = dbus.MakeVariant(tok)
	// The request object's path is known in advance, so its Response cannot be missed.
	sender := strings.ReplaceAll(strings.TrimPrefix(c.Names()[0], ":"), ".", "_")
	want := dbus.ObjectPath(Path + "/request/" + sender + "/" + tok)
	var handle dbus.ObjectPath
	if err := c.Portal().CallWithContext(ctx, method, 0, args...).Store(&handle); err != nil {
		return nil, err
	}
	if handle.IsValid() {
		want = handle
	}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case sig, ok := <-c.Signals:
			if !ok {
				return nil, errors.New("the session bus connection ended")
			}
			if sig.Path != want || sig.Name != request+".Response" || len(sig.Body) < 2 {
				continue
			}
			code, _ := sig.Body[0].(uint32)
			results, _ := sig.Body[1].(map[string]dbus.Variant)
			switch code {
			case 0:
				return results, nil
			case 1:
				return nil, ErrCancelled
			default:
				return nil, ErrRefused
			}
		}
	}
}

// SessionHandle reads a CreateSession response's session_handle.
func SessionHandle(results map[string]dbus.Variant) (dbus.ObjectPath, error) {
	if v, ok := results["session_handle"]; ok {
		switch h := v.Value().(type) {
		case string:
			if p := dbus.ObjectPath(h); p.IsValid() {
				return p, nil
			}
		case dbus.ObjectPath:
			if h.IsValid() {
				return h, nil
			}
		}
	}
	return "", errors.New("the portal returned no session")
}
