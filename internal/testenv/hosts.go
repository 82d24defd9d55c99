package testenv

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The real test hosts: an X server (Xvfb) and a PulseAudio server whose default source is
// the monitor of a null sink, so what paplay plays is what a microphone records. Each is
// started once per test binary and stopped by Cleanup.

var hosts struct {
	sync.Mutex
	procs   []*exec.Cmd
	dirs    []string
	display string
	pulse   *Pulse
	builds  map[string]string
}

// X starts Xvfb (once) and points DISPLAY at it.
func X(t testing.TB) string {
	t.Helper()
	hosts.Lock()
	defer hosts.Unlock()
	if hosts.display != "" {
		return hosts.display
	}
	display, cmd := startXvfb(t)
	hosts.procs = append(hosts.procs, cmd)
	hosts.display = display
	os.Setenv("DISPLAY", display)
	return display
}

// XWithoutGL starts an Xvfb of the test's own that offers no OpenGL (no GLX extension), as
// a remote X session or a VM without 3D does, and returns its display; DISPLAY is left alone.
func XWithoutGL(t testing.TB) string {
	t.Helper()
	display, cmd := startXvfb(t, "-extension", "GLX")
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return display
}

// startXvfb starts an Xvfb that picks a free display itself and says which (-displayfd)
// once it takes connections: test binaries running side by side then never pick the same one.
func startXvfb(t testing.TB, extra ...string) (string, *exec.Cmd) {
	t.Helper()
	bin := Tool(t, "Xvfb")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	args := append([]string{"-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-noreset"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	w.Close()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if n == "" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("Xvfb exited without a display")
		}
		return ":" + n, cmd
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("could not start Xvfb")
	}
	return "", nil
}

// Pulse is a running PulseAudio test server.
type Pulse struct {
	Sink    string
	runtime string
	server  *exec.Cmd   // the daemon
	tone    []*exec.Cmd // the room tone: sox | pacat
}

// PulseAudio starts the server (once): a null sink whose monitor is the default source.
// Clients never autospawn a server of their own (a restart test stops this one).
func PulseAudio(t testing.TB) *Pulse {
	t.Helper()
	hosts.Lock()
	defer hosts.Unlock()
	if hosts.pulse != nil {
		return hosts.pulse
	}
	Tool(t, "pulseaudio")
	Tool(t, "pactl")
	dir, err := os.MkdirTemp("", "dictate-pulse-")
	if err != nil {
		t.Fatal(err)
	}
	hosts.dirs = append(hosts.dirs, dir)
	clientConf := filepath.Join(dir, "client.conf")
	if err := os.WriteFile(clientConf, []byte("autospawn = no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Setenv("XDG_RUNTIME_DIR", dir)
	os.Setenv("PULSE_RUNTIME_PATH", filepath.Join(dir, "pulse"))
	os.Setenv("PULSE_CLIENTCONFIG", clientConf)
	p := &Pulse{Sink: "dictate_sink", runtime: dir}
	p.start(t)
	hosts.pulse = p
	return p
}

// start runs the daemon and the room tone (hosts held).
func (p *Pulse) start(t testing.TB) {
	t.Helper()
	// One start-up script: clients can connect (the protocol module comes last) only once the
	// sink and the defaults are there, so one reconnecting after a restart finds them.
	script := filepath.Join(p.runtime, "default.pa")
	if err := os.WriteFile(script, []byte("load-module module-null-sink sink_name="+p.Sink+" rate=48000\n"+
		"set-default-sink "+p.Sink+"\nset-default-source "+p.Sink+".monitor\nload-module module-native-protocol-unix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Speech is played at 16 kHz into the 48 kHz sink and recorded back at 16 kHz: resampled
	// twice. PulseAudio's default resampler (speex-float-1) blurred the test speech enough
	// that the trained model heard one first word either way from one take to the next
	// ("door" or "ball", half the runs of TestE2EDictationTypesTheWordsSpoken under load);
	// PipeWire, what most desktops now run, resamples with a sinc filter of that kind.
	cmd := exec.Command(Tool(t, "pulseaudio"), "--daemonize=no", "--exit-idle-time=-1", "-n", "-F", script, "--disallow-exit", "--resample-method=soxr-vhq")
	cmd.Env = os.Environ()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	hosts.procs = append(hosts.procs, cmd)
	p.server = cmd
	if !WaitFor(5*time.Second, func() bool { return exec.Command("pactl", "info").Run() == nil }) {
		t.Fatal("PulseAudio did not start")
	}
	if out, err := exec.Command("pactl", "get-default-source").Output(); err != nil || strings.TrimSpace(string(out)) != p.Sink+".monitor" {
		t.Fatalf("PulseAudio's default source is %q (%v)", out, err)
	}
	// Room tone: a null sink's monitor goes quiet when nothing plays, unlike a microphone,
	// so quiet brown noise (about -70 dBFS) plays into it all the time.
	sox := exec.Command(Tool(t, "sox"), "-q", "-n", "-t", "raw", "-r", "48000", "-c", "1", "-b", "16", "-e", "signed", "-",
		"synth", "7200", "brownnoise", "vol", "0.0003")
	pacat := exec.Command(Tool(t, "pacat"), "--playback", "--raw", "--rate=48000", "--channels=1", "--format=s16le", "--device="+p.Sink)
	pipe, err := sox.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pacat.Stdin = pipe
	if err := sox.Start(); err != nil {
		t.Fatal(err)
	}
	if err := pacat.Start(); err != nil {
		t.Fatal(err)
	}
	hosts.procs = append(hosts.procs, sox, pacat)
	p.tone = []*exec.Cmd{sox, pacat}
}

// Restart kills the server as a crash or an upgrade would (clients lose their streams),
// then starts it again as it was. It returns once the new server answers.
func (p *Pulse) Restart(t testing.TB) {
	t.Helper()
	hosts.Lock()
	defer hosts.Unlock()
	for _, c := range append([]*exec.Cmd{p.server}, p.tone...) {
		c.Process.Kill()
		c.Wait()
	}
	dead := map[*exec.Cmd]bool{p.server: true, p.tone[0]: true, p.tone[1]: true}
	hosts.procs = slices.DeleteFunc(hosts.procs, func(c *exec.Cmd) bool { return dead[c] })
	p.start(t)
}

// Play plays a sound file into the sink and returns when it has been played.
func (p *Pulse) Play(t testing.TB, path string) {
	t.Helper()
	if out, err := exec.Command(Tool(t, "paplay"), "--device="+p.Sink, path).CombinedOutput(); err != nil {
		t.Fatalf("paplay: %v %s", err, out)
	}
}

// Build compiles a main package of this module once per test binary and returns the path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	hosts.Lock()
	defer hosts.Unlock()
	if p, ok := hosts.builds[pkg]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "dictate-build-")
	if err != nil {
		t.Fatal(err)
	}
	hosts.dirs = append(hosts.dirs, dir)
	name := filepath.Base(pkg)
	if pkg == "." {
		name = "dictate"
	}
	out := filepath.Join(dir, name)
	root := moduleRoot(t)
	cmd := exec.Command(filepath.Join(root, "scripts", "go"), "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
	if hosts.builds == nil {
		hosts.builds = map[string]string{}
	}
	hosts.builds[pkg] = out
	return out
}

func moduleRoot(t testing.TB) string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// Process is a child process whose stderr is watched line by line.
type Process struct {
	Cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	done   chan struct{}
	cancel context.CancelFunc
}

// Start runs a command; it is stopped (SIGINT, then killed) at the end of the test.
func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartWith(t, nil, name, args...)
}

// StartWith is Start with the environment env (nil: this process's).
func StartWith(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	p := &Process{Cmd: cmd, done: make(chan struct{}), cancel: cancel}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		cmd.Wait()
	}()
	t.Cleanup(func() { p.Stop() })
	return p
}

// Stop interrupts the process and waits for it.
func (p *Process) Stop() {
	p.cancel()
	<-p.done
}

// WaitLine waits for a stderr line containing s.
func (p *Process) WaitLine(t testing.TB, s string, timeout time.Duration) string {
	t.Helper()
	var found string
	ok := WaitFor(timeout, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, l := range p.lines {
			if strings.Contains(l, s) {
				found = l
				return true
			}
		}
		select {
		case <-p.done:
			return true
		default:
		}
		return false
	})
	if !ok || found == "" {
		t.Fatalf("no line with %q within %v; output:\n%s", s, timeout, p.Output())
	}
	return found
}

// Output is everything the process printed so far (without ALSA's card-probing noise).
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keep []string
	for _, l := range p.lines {
		if !strings.HasPrefix(l, "ALSA lib") && !strings.Contains(l, "jack") && !strings.Contains(l, "Jack") && !strings.HasPrefix(l, "Cannot connect to server") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// WaitFor polls cond every 5 ms until it holds or timeout passes.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}

// StopHosts ends the servers; call from TestMain after m.Run.
func StopHosts() {
	hosts.Lock()
	defer hosts.Unlock()
	for i := len(hosts.procs) - 1; i >= 0; i-- {
		p := hosts.procs[i]
		p.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			p.Process.Kill()
			<-done
		}
	}
	for _, d := range hosts.dirs {
		os.RemoveAll(d)
	}
	hosts.procs, hosts.dirs, hosts.display, hosts.pulse, hosts.builds = nil, nil, "", nil, nil
}

// logBuffer collects a process's output while tests read it.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TextWindow starts the test text window (internal/testenv/textwin), which takes the focus
// when it maps, and returns, once it has mapped, the file that mirrors its text and the
// process (its output logs the keys it got).
func TextWindow(t testing.TB, args ...string) (string, *Process) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "window.txt")
	win := Start(t, Build(t, "./internal/testenv/textwin"), append([]string{"-out", file}, args...)...)
	if !WaitFor(5*time.Second, func() bool { _, err := os.Stat(file + ".ready"); return err == nil }) {
		t.Fatalf("text window did not map: %s", win.Output())
	}
	return file, win
}
