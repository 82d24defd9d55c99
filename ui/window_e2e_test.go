package ui

import (
	"bytes"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
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
