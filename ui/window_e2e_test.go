package ui

import (
	"bytes"
	"errors"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

// screenshot captures an X window as PNG with ImageMagick's import.
func screenshot(t *testing.T, window, path string) image.Image {
	t.Helper()
	if out, err := exec.Command(testenv.Tool(t, "import"), "-window", window, path).CombinedOutput(); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	data, _ := os.ReadFile(path)
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func distinctColors(img image.Image) int {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	return len(seen)
}

// The real binary opens a real window on a real X server: found by its title, and drawn.
func TestE2EWindowOnXvfb(t *testing.T) {
	testenv.X(t)
	testenv.PulseAudio(t)
	dir := t.TempDir()
	p := testenv.Start(t, testenv.Build(t, "."), "gui", "--model", testenv.Model(t, "micro"), "--hotkey", "F9",
		"--history", filepath.Join(dir, "h.jsonl"), "--recordings", filepath.Join(dir, "rec"))
	xdotool := testenv.Tool(t, "xdotool")
	var id string
	if !testenv.WaitFor(60*time.Second, func() bool {
		out, _ := exec.Command(xdotool, "search", "--name", "^Dictate$").Output()
		id = strings.TrimSpace(string(out))
		return id != ""
	}) {
		t.Fatalf("no window titled Dictate; the app said:\n%s", p.Output())
	}
	time.Sleep(2 * time.Second) // first frames
	shot := filepath.Join(dir, "screen.png")
	if n := distinctColors(screenshot(t, strings.Fields(id)[0], shot)); n < 8 {
		t.Fatalf("the screen has %d colours: the window was not drawn", n)
	}
	if out := os.Getenv("DICTATE_SCREENSHOT"); out != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(out, data, 0o644)
	}
}

// Where the display gives no window, the real binary says why and what works instead, and
// exits with an error after closing its session, rather than crashing with Fyne's panic.
func TestE2EWindowThatCannotOpen(t *testing.T) {
	bin := testenv.Build(t, ".")
	model := testenv.Model(t, "micro")
	testenv.PulseAudio(t)
	for _, tc := range []struct {
		name, display, want string
	}{
		{"no display", "", `no display answered (DISPLAY="", WAYLAND_DISPLAY="")`},
		{"no OpenGL", testenv.XWithoutGL(t), "the display offers no OpenGL 2.1 (FormatUnavailable: GLX:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
				return strings.HasPrefix(kv, "DISPLAY=") || strings.HasPrefix(kv, "WAYLAND_DISPLAY=")
			})
			if tc.display != "" {
				env = append(env, "DISPLAY="+tc.display)
			}
			history := filepath.Join(dir, "h.jsonl")
			cmd := exec.Command(bin, "gui", "--model", model, "--hotkey", "F9", "--history", history,
				"--recordings", filepath.Join(dir, "rec"))
			cmd.Env = append(env, "HOME="+dir, "XDG_RUNTIME_DIR="+dir)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1; output:\n%s", err, out)
			}
			text := string(out)
			if want := "dictate: the window cannot open: " + tc.want; !strings.Contains(text, want) ||
				!strings.Contains(text, "dictate listen dictates without a window") {
				t.Fatalf("output lacks %q:\n%s", want, text)
			}
			if strings.Contains(text, "panic:") || strings.Contains(text, "goroutine ") {
				t.Fatalf("the app crashed:\n%s", text)
			}
		})
	}
}
