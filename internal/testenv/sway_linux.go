package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/wayland"
)

// Sway is a headless Sway compositor with a native Wayland window focused: foot, a
// terminal, whose shell copies what it is typed to a file byte for byte (no echo, no line
// editing). Sway refuses to run as root, so under root (CI) it runs as nobody, with a
// runtime directory of its own.
type Sway struct {
	Socket   string // for WAYLAND_DISPLAY (an absolute path)
	Runtime  string // the compositor's XDG_RUNTIME_DIR
	SwaySock string // its IPC socket, for SWAYSOCK
	typed    string // what foot was typed
	skip     int    // bytes of the readiness probe at its start
	probe    *wayland.Conn
	cmd      *exec.Cmd
}

// StartSway starts Sway with the keyboard layout given (us, de, fr, ru, …) for its
// keyboards, and returns once foot has focus and takes keys. It stops with the test.
func StartSway(t testing.TB, layout string) *Sway {
	t.Helper()
	bin := Tool(t, "sway")
	Tool(t, "foot")
	Tool(t, "swaymsg")
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 65534, 65534 // nobody
	}
	run, err := os.MkdirTemp("", "dictate-sway-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	if err := os.Chown(run, uid, gid); err != nil {
		t.Fatal(err)
	}
	os.Chmod(run, 0o700)
	s := &Sway{Runtime: run, typed: filepath.Join(run, "typed.txt")}
	config := filepath.Join(run, "sway.conf")
	conf := fmt.Sprintf("input * xkb_layout %s\nexec foot -e sh -c 'stty -icanon -echo; exec cat > %s'\n", layout, s.typed)
	if err := os.WriteFile(config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cmd = exec.CommandContext(ctx, bin, "-c", config)
	s.cmd.Env = []string{"HOME=" + run, "XDG_RUNTIME_DIR=" + run, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8",
		"WLR_BACKENDS=headless", "WLR_RENDERER=pixman", "WLR_LIBINPUT_NO_DEVICES=1"}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if os.Getuid() != 0 {
		s.cmd.SysProcAttr = nil
	}
	var log logBuffer
	s.cmd.Stdout, s.cmd.Stderr = &log, &log
	if err := s.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.probe != nil {
			s.probe.Close()
		}
		cancel()
		s.cmd.Wait()
	})
	if !WaitFor(10*time.Second, func() bool {
		socks, _ := filepath.Glob(filepath.Join(run, "wayland-*"))
		ipc, _ := filepath.Glob(filepath.Join(run, "sway-ipc.*.sock"))
		for _, p := range socks {
			if !strings.HasSuffix(p, ".lock") {
				s.Socket = p
			}
		}
		if len(ipc) > 0 {
			s.SwaySock = ipc[0]
		}
		return s.Socket != "" && s.SwaySock != ""
	}) {
		t.Fatalf("sway did not start:\n%s", log.String())
	}
	if !WaitFor(10*time.Second, func() bool { return strings.Contains(s.Swaymsg(t, "-t", "get_tree"), `"app_id": "foot"`) }) {
		t.Fatalf("foot did not open:\n%s", log.String())
	}
	s.ready(t)
	return s
}

// ready types a probe through a virtual keyboard of its own until foot shows it: a client
// sets up for keys only once the seat has a keyboard, which headless Sway has not until
// one is created. The keyboard stays, so later ones are taken at once.
func (s *Sway) ready(t testing.TB) {
	t.Helper()
	conn, err := wayland.DialPath(s.Socket)
	if err != nil {
		t.Fatal(err)
	}
	s.probe = conn
	kb, err := wayland.NewKeyboard(conn)
	if err != nil {
		t.Fatal(err)
	}
	ok := WaitFor(10*time.Second, func() bool {
		if err := kb.Type(context.Background(), "."); err != nil {
			t.Fatal(err)
		}
		return WaitFor(200*time.Millisecond, func() bool { b, _ := os.ReadFile(s.typed); return len(b) > 0 })
	})
	if !ok {
		t.Fatal("foot never took a key")
	}
	b, _ := os.ReadFile(s.typed)
	s.skip = len(b)
}

// Env is the environment a client of this compositor needs (and no X server).
func (s *Sway) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") && !strings.HasPrefix(kv, "SWAYSOCK=") {
			env = append(env, kv)
		}
	}
	return append(env, "WAYLAND_DISPLAY="+s.Socket, "SWAYSOCK="+s.SwaySock)
}

// Use points this process at the compositor (WAYLAND_DISPLAY, SWAYSOCK, no DISPLAY) for
// the rest of the test.
func (s *Sway) Use(t *testing.T) {
	t.Setenv("WAYLAND_DISPLAY", s.Socket)
	t.Setenv("SWAYSOCK", s.SwaySock)
	t.Setenv("DISPLAY", "")
}

// Typed is what foot has been typed since it was ready.
func (s *Sway) Typed() string {
	b, _ := os.ReadFile(s.typed)
	if len(b) < s.skip {
		return ""
	}
	return string(b[s.skip:])
}

// WaitTyped waits until foot holds want and returns when it first did.
func (s *Sway) WaitTyped(t testing.TB, want string) time.Time {
	t.Helper()
	if !WaitFor(20*time.Second, func() bool { return s.Typed() == want }) {
		t.Fatalf("foot holds %q, want %q", s.Typed(), want)
	}
	return time.Now()
}

// Swaymsg runs swaymsg against this compositor as its user and returns what it printed.
func (s *Sway) Swaymsg(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("swaymsg", append([]string{"-s", s.SwaySock}, args...)...)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// Copy sets the compositor's clipboard with wl-copy, as another application would.
func (s *Sway) Copy(t testing.TB, text string) {
	t.Helper()
	cmd := exec.Command(Tool(t, "wl-copy"))
	cmd.Env = s.Env()
	cmd.Stdin = strings.NewReader(text)
	// No output pipes: wl-copy leaves a child behind to serve the clipboard.
	if err := cmd.Run(); err != nil {
		t.Fatalf("wl-copy: %v", err)
	}
}

// Run runs a client of the compositor (wl-paste) and returns its output.
func (s *Sway) Run(t testing.TB, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Tool(t, name), args...)
	cmd.Env = s.Env()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}
