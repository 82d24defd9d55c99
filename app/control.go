package app

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/adrg/xdg"
)

// The control socket lets another program drive a running dictate listen or gui: the
// compositor's own key bindings where no global hotkey can be grabbed (Sway, Hyprland,
// i3, a GNOME custom shortcut), scripts, and a second start, which finds the first and
// says so. One line in ("press"), one line out ("ok recording" or "error …").

// ControlCommands are what the socket takes.
var ControlCommands = []string{"press", "release", "toggle", "cancel", "status"}

// Controlled is what the control socket drives (a Session's Dictation, or the Desktop).
type Controlled interface {
	Press(at time.Time)
	Release(at time.Time)
	Toggle()
	Cancel()
	Status() string
}

// ErrAlreadyRunning: another dictate of this user answers on the control socket.
var ErrAlreadyRunning = errors.New("dictate is already running")

// DefaultControlPath is $XDG_RUNTIME_DIR/dictate/control.sock.
func DefaultControlPath() string { return filepath.Join(xdg.RuntimeDir, "dictate", "control.sock") }

// ControlServer answers on the control socket until Close.
type ControlServer struct {
	ln     *net.UnixListener
	path   string
	target Controlled
	wg     sync.WaitGroup
}

// ServeControl listens on path (its folder made 0700, the socket 0600) and drives target.
// A socket another instance answers on means ErrAlreadyRunning; a stale one is replaced.
func ServeControl(path string, target Controlled) (*ControlServer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if reply, err := SendControl(path, "status"); err == nil {
		return nil, fmt.Errorf("%w (%s; control socket %s)", ErrAlreadyRunning, reply, path)
	}
	os.Remove(path) // stale: nothing answers on it
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	s := &ControlServer{ln: ln, path: path, target: target}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Path is the socket's path.
func (s *ControlServer) Path() string { return s.path }

// Close stops answering and removes the socket.
func (s *ControlServer) Close() error {
	err := s.ln.Close() // also unlinks the socket file
	s.wg.Wait()
	return err
}

func (s *ControlServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.AcceptUnix()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(conn)
		}()
	}
}

func (s *ControlServer) serve(conn *net.UnixConn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := sameUser(conn); err != nil {
		fmt.Fprintf(conn, "error %v\n", err)
		return
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	at := time.Now()
	switch cmd := strings.TrimSpace(line); cmd {
	case "press":
		s.target.Press(at)
	case "release":
		s.target.Release(at)
	case "toggle":
		s.target.Toggle()
	case "cancel":
		s.target.Cancel()
	case "status":
	default:
		fmt.Fprintf(conn, "error unknown command %q (want %s)\n", cmd, strings.Join(ControlCommands, ", "))
		return
	}
	fmt.Fprintf(conn, "ok %s\n", s.target.Status())
}

// SendControl sends one command to a running dictate and returns its answer.
func SendControl(path, command string) (string, error) {
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return "", fmt.Errorf("dictate is not running (nothing answers on %s): %w", path, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintln(conn, command); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	reply = strings.TrimSpace(reply)
	if err != nil && reply == "" {
		return "", fmt.Errorf("no answer from dictate: %w", err)
	}
	if msg, ok := strings.CutPrefix(reply, "error "); ok {
		return "", errors.New(msg)
	}
	return strings.TrimPrefix(reply, "ok "), nil
}
