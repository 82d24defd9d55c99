package hotkey

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/dictate-app/dictate/internal/portal"
	"github.com/dictate-app/dictate/internal/testenv"
)

// fakePortal answers like xdg-desktop-portal's GlobalShortcuts on a private bus.
type fakePortal struct {
	conn    *dbus.Conn
	mu      sync.Mutex
	session dbus.ObjectPath
	trigger string
	refuse  bool
}

func (f *fakePortal) respond(path dbus.ObjectPath, code uint32, results map[string]dbus.Variant) {
	go func() {
		time.Sleep(20 * time.Millisecond)
		f.conn.Emit(path, "org.freedesktop.portal.Request.Response", code, results)
	}()
}

func requestPath(sender dbus.Sender, opts map[string]dbus.Variant) dbus.ObjectPath {
	tok, _ := opts["handle_token"].Value().(string)
	s := strings.ReplaceAll(strings.TrimPrefix(string(sender), ":"), ".", "_")
	return dbus.ObjectPath(portal.Path + "/request/" + s + "/" + tok)
}

func (f *fakePortal) CreateSession(sender dbus.Sender, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	req := requestPath(sender, opts)
	tok, _ := opts["session_handle_token"].Value().(string)
	f.mu.Lock()
	f.session = dbus.ObjectPath(portal.Path + "/session/x/" + tok)
	f.mu.Unlock()
	f.respond(req, 0, map[string]dbus.Variant{"session_handle": dbus.MakeVariant(string(f.session))})
	return req, nil
}

func (f *fakePortal) BindShortcuts(sender dbus.Sender, session dbus.ObjectPath, shortcuts []struct {
	ID   string
	Opts map[string]dbus.Variant
}, parent string, opts map[string]dbus.Variant) (dbus.ObjectPath, *dbus.Error) {
	req := requestPath(sender, opts)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(shortcuts) == 1 && shortcuts[0].ID == shortcutID {
		f.trigger, _ = shortcuts[0].Opts["preferred_trigger"].Value().(string)
	}
	code := uint32(0)
	if f.refuse || session != f.session {
		code = 2
	}
	f.respond(req, code, map[string]dbus.Variant{})
	return req, nil
}

func (f *fakePortal) preferredTrigger() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.trigger
}

func (f *fakePortal) press(down bool) {
	member := ".Deactivated"
	if down {
		member = ".Activated"
	}
	f.mu.Lock()
	s := f.session
	f.mu.Unlock()
	f.conn.Emit(portal.Path, portalShortcuts+member, s, shortcutID, uint64(time.Now().UnixMilli()), map[string]dbus.Variant{})
}

// privateBus starts dbus-daemon for the test and returns its address.
func privateBus(t *testing.T) string {
	bin := testenv.Tool(t, "dbus-daemon")
	cmd := exec.Command(bin, "--session", "--nofork", "--print-address")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(addr)
}

func startFakePortal(t *testing.T) (*fakePortal, string) {
	addr := privateBus(t)
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakePortal{conn: conn}
	if err := conn.Export(f, portal.Path, portalShortcuts); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(portal.Bus, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("name: %v %v", reply, err)
	}
	old := PortalBus
	PortalBus = func() (*dbus.Conn, error) { return dbus.Connect(addr) }
	t.Cleanup(func() { PortalBus = old })
	return f, addr
}

func TestPortalDeliversPressAndRelease(t *testing.T) {
	f, _ := startFakePortal(t)
	spec, _ := Parse("ctrl+shift+space")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := Listen(ctx, spec, Options{Backend: "portal"})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.preferredTrigger(); got != "CTRL+SHIFT+space" {
		t.Errorf("preferred trigger %q", got)
	}
	for _, down := range []bool{true, false, true, false} {
		f.press(down)
		select {
		case e := <-events:
			if e.Down != down {
				t.Fatalf("event down=%v, want %v", e.Down, down)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no event from the portal")
		}
	}
	cancel()
	select {
	case _, ok := <-events:
		if ok {
			t.Error("event after cancel")
		}
	case <-time.After(2 * time.Second):
		t.Error("channel not closed after cancel")
	}
}

func TestPortalRefusal(t *testing.T) {
	f, _ := startFakePortal(t)
	f.mu.Lock()
	f.refuse = true
	f.mu.Unlock()
	spec, _ := Parse("F9")
	_, err := Listen(context.Background(), spec, Options{Backend: "portal"})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("error %v", err)
	}
}

func TestPortalUnreachable(t *testing.T) {
	old := PortalBus
	PortalBus = func() (*dbus.Conn, error) { return dbus.Connect("unix:path=/nonexistent/bus") }
	defer func() { PortalBus = old }()
	spec, _ := Parse("F9")
	if _, err := Listen(context.Background(), spec, Options{Backend: "portal"}); err == nil || !strings.Contains(err.Error(), "D-Bus") {
		t.Fatalf("error %v", err)
	}
}

func TestPortalTrigger(t *testing.T) {
	for in, want := range map[string]string{"ctrl+shift+space": "CTRL+SHIFT+space", "super+f9": "LOGO+F9", "RightCtrl": "Control_R", "alt+d": "ALT+d"} {
		spec, _ := Parse(in)
		if got := portalTrigger(spec); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}
