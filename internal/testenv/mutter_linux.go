package testenv

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
	"github.com/godbus/dbus/v5/prop"
)

// Mutter is GNOME's compositor run headless with XWayland, on a D-Bus session bus of its
// own, with xdg-desktop-portal and its GNOME backend: GNOME's path for Wayland clients
// that must type (the RemoteDesktop portal, which asks the user's consent in a dialog).
// Mutter's own remote-desktop D-Bus API gives the seat a keyboard, as a desktop has one;
// AT-SPI (A11y) answers dialogs as the user would.
type Mutter struct {
	Socket  string // for WAYLAND_DISPLAY
	Display string // XWayland's, for DISPLAY
	Bus     string // for DBUS_SESSION_BUS_ADDRESS
	Runtime string
	env     []string
	user    dbus.BusObject // a session of mutter's RemoteDesktop API
	conn    *dbus.Conn
}

// StartMutter starts the session (layout: the XKB layout, "us", "de", …) and returns once
// the portal answers. It stops with the test.
func StartMutter(t testing.TB, layout string) *Mutter {
	t.Helper()
	for _, tool := range []string{"dbus-daemon", "mutter", "Xwayland", "dbus-update-activation-environment"} {
		Tool(t, tool)
	}
	portal := "/usr/libexec/xdg-desktop-portal"
	if _, err := os.Stat(portal); err != nil {
		Tool(t, "xdg-desktop-portal") // fails in the build root, skips elsewhere
	}
	dir, err := os.MkdirTemp("", "dictate-mutter-")
	if err != nil {
		t.Fatal(err)
	}
	m := &Mutter{Runtime: filepath.Join(dir, "run")}
	os.MkdirAll(m.Runtime, 0o700)
	ctx, cancel := context.WithCancel(context.Background())
	var procs []*exec.Cmd
	t.Cleanup(func() {
		if m.conn != nil {
			m.conn.Close()
		}
		cancel()
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].Wait()
		}
		exec.Command("chmod", "-R", "u+w", dir).Run() // the document portal leaves read-only folders
		os.RemoveAll(dir)
	})
	start := func(name string, env []string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		return cmd
	}
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_RUNTIME_DIR=" + m.Runtime, "LANG=C.UTF-8",
		"XDG_CURRENT_DESKTOP=GNOME", "XDG_SESSION_TYPE=wayland", "GSETTINGS_BACKEND=memory", "NO_AT_BRIDGE=1"}

	bus := exec.CommandContext(ctx, "dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1")
	bus.Env = base
	out, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	procs = append(procs, bus)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	m.Bus = strings.TrimSpace(line)
	base = append(base, "DBUS_SESSION_BUS_ADDRESS="+m.Bus)

	// The keyboard layout: a desktop's comes from the system's locale settings (systemd's
	// localed on the system bus), which mutter reads at start; here a bus of the test's own
	// stands in for the system bus, with localed's interface.
	system := exec.CommandContext(ctx, "dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1")
	system.Env = base
	sysOut, err := system.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := system.Start(); err != nil {
		t.Fatal(err)
	}
	procs = append(procs, system)
	sysLine, err := bufio.NewReader(sysOut).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	systemBus := strings.TrimSpace(sysLine)
	serveLocale(t, systemBus, layout)

	var mlog logBuffer
	mut := exec.CommandContext(ctx, "mutter", "--headless", "--wayland", "--virtual-monitor", "1024x768")
	mut.Env = append(base, "DBUS_SYSTEM_BUS_ADDRESS="+systemBus)
	mut.Stdout, mut.Stderr = &mlog, &mlog
	if err := mut.Start(); err != nil {
		t.Fatal(err)
	}
	procs = append(procs, mut)
	if !WaitFor(20*time.Second, func() bool {
		socks, _ := filepath.Glob(filepath.Join(m.Runtime, "wayland-*"))
		for _, s := range socks {
			if !strings.HasSuffix(s, ".lock") {
				m.Socket = s
			}
		}
		if i := strings.Index(mlog.String(), "X11 display :"); i >= 0 {
			m.Display = strings.Fields(mlog.String()[i+len("X11 display "):])[0]
		}
		return m.Socket != "" && m.Display != ""
	}) {
		t.Fatalf("mutter did not start (wayland %q, X11 %q):\n%s", m.Socket, m.Display, mlog.String())
	}
	m.Display = strings.Trim(m.Display, "',.")
	var xauth string
	if !WaitFor(10*time.Second, func() bool {
		auth, _ := filepath.Glob(filepath.Join(m.Runtime, ".mutter-Xwaylandauth.*"))
		if len(auth) > 0 {
			xauth = auth[0]
		}
		return xauth != ""
	}) {
		t.Fatalf("mutter wrote no XWayland authority file:\n%s", mlog.String())
	}
	m.env = append(base, "WAYLAND_DISPLAY="+m.Socket, "DISPLAY="+m.Display, "XAUTHORITY="+xauth, "GDK_BACKEND=wayland")
	// Portals started by D-Bus activation (the GNOME backend) inherit these.
	upd := exec.Command("dbus-update-activation-environment", "WAYLAND_DISPLAY="+m.Socket, "DISPLAY="+m.Display, "XAUTHORITY="+xauth,
		"XDG_CURRENT_DESKTOP=GNOME", "XDG_SESSION_TYPE=wayland", "XDG_RUNTIME_DIR="+m.Runtime, "HOME="+dir,
		"GSETTINGS_BACKEND=memory", "GDK_BACKEND=wayland", "NO_AT_BRIDGE=1")
	upd.Env = m.env
	if b, err := upd.CombinedOutput(); err != nil {
		t.Fatalf("dbus-update-activation-environment: %v %s", err, b)
	}
	start(portal, m.env)

	m.conn, err = dbus.Connect(m.Bus)
	if err != nil {
		t.Fatal(err)
	}
	if !WaitFor(20*time.Second, func() bool {
		_, err := m.conn.Object("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop").GetProperty("org.freedesktop.portal.RemoteDesktop.version")
		return err == nil
	}) {
		t.Fatalf("xdg-desktop-portal did not offer RemoteDesktop:\n%s", mlog.String())
	}
	var session dbus.ObjectPath
	if err := m.conn.Object("org.gnome.Mutter.RemoteDesktop", "/org/gnome/Mutter/RemoteDesktop").
		Call("org.gnome.Mutter.RemoteDesktop.CreateSession", 0).Store(&session); err != nil {
		t.Fatal(err)
	}
	m.user = m.conn.Object("org.gnome.Mutter.RemoteDesktop", session)
	if err := m.user.Call("org.gnome.Mutter.RemoteDesktop.Session.Start", 0).Err; err != nil {
		t.Fatal(err)
	}
	m.Press(t, 0xffe1) // a Shift: the seat has a keyboard from now on, as a desktop has
	return m
}

// Use points this process at the session for the rest of the test.
func (m *Mutter) Use(t *testing.T) {
	for _, kv := range m.env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "PATH" && k != "LANG" {
			t.Setenv(k, v)
		}
	}
}

// Env is the environment of a client of the session.
func (m *Mutter) Env() []string { return append([]string(nil), m.env...) }

// Press presses and releases keys (keysyms) as the user would.
func (m *Mutter) Press(t testing.TB, keysyms ...uint32) {
	t.Helper()
	for _, k := range keysyms {
		for _, down := range []bool{true, false} {
			if err := m.user.Call("org.gnome.Mutter.RemoteDesktop.Session.NotifyKeyboardKeysym", 0, k, down).Err; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// serveLocale answers as systemd-localed on bus: the X11 keyboard layout is layout.
func serveLocale(t testing.TB, bus, layout string) {
	t.Helper()
	conn, err := dbus.Connect(bus)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	const iface, path = "org.freedesktop.locale1", dbus.ObjectPath("/org/freedesktop/locale1")
	if _, err := prop.Export(conn, path, prop.Map{iface: {
		"Locale":               {Value: []string{"LANG=C.UTF-8"}},
		"X11Layout":            {Value: layout},
		"X11Model":             {Value: "pc105"},
		"X11Variant":           {Value: ""},
		"X11Options":           {Value: ""},
		"VConsoleKeymap":       {Value: layout},
		"VConsoleKeymapToggle": {Value: ""},
	}}); err != nil {
		t.Fatal(err)
	}
	node := &introspect.Node{Name: string(path), Interfaces: []introspect.Interface{introspect.IntrospectData, prop.IntrospectData,
		{Name: iface, Properties: []introspect.Property{{Name: "X11Layout", Type: "s", Access: "read"}, {Name: "X11Model", Type: "s", Access: "read"},
			{Name: "X11Variant", Type: "s", Access: "read"}, {Name: "X11Options", Type: "s", Access: "read"}}}}}
	if err := conn.Export(introspect.NewIntrospectable(node), path, "org.freedesktop.DBus.Introspectable"); err != nil {
		t.Fatal(err)
	}
	if reply, err := conn.RequestName(iface, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s on the test's system bus: %v %v", iface, reply, err)
	}
}
