// Package testenv finds the real test hosts (tools, samples, generated models) for tests.
// Inside the build root (DICTATE_DEVROOT=1, as make test runs) a missing tool fails the
// test instead of skipping it, so CI cannot pass by skipping.
package testenv

import (
	"context"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/adrg/xdg"

	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testmodel"
)

// InBuildRoot reports whether tests run where every tool must be present.
func InBuildRoot() bool { return os.Getenv("DICTATE_DEVROOT") == "1" }

// Tool returns the path of a command-line tool, skipping (or failing in the build root).
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if InBuildRoot() {
			t.Fatalf("%s is missing from the build root", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// SpeechSample is Debian's real English speech recording (whisper.cpp-tools ships it).
func SpeechSample(t testing.TB) string {
	t.Helper()
	p := "/usr/share/sounds/debian/samples/en-Wikipedia-Ignore_All_Rules.wav"
	if _, err := os.Stat(p); err != nil {
		if InBuildRoot() {
			t.Fatalf("speech sample missing: %v", err)
		}
		t.Skip("Debian speech sample not installed")
	}
	return p
}

// Speak renders text with espeak-ng to a WAV file in dir.
func Speak(t testing.TB, dir, text string) string {
	t.Helper()
	Tool(t, "espeak-ng")
	out := filepath.Join(dir, "speech.wav")
	// espeak-ng's own defaults: its English voice at 175 words a minute, pitch 50.
	if err := testmodel.Speak(context.Background(), testmodel.Sentence{Text: text, Voice: "en", Speed: 175, Pitch: 50}, out); err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	modelsMu sync.Mutex
	models   = map[string]string{}
	modelDir string
)

// Model returns the path of a generated model of the preset, made once per test binary.
func Model(t testing.TB, preset string) string {
	t.Helper()
	return generated(t, preset, preset+".bin", func(path string) {
		p, ok := engine.PresetByName(preset)
		if !ok {
			t.Fatalf("no preset %q", preset)
		}
		if preset == "micro" {
			if err := engine.GenerateModelFile(path, p, engine.GenerateOptions{Type: engine.F16, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			return
		}
		// Larger models through the app's own command: a race-instrumented test binary takes
		// minutes to write a gigabyte of weights, the plain build seconds.
		bin := Build(t, ".")
		if out, err := exec.Command(bin, "dev", "gen-model", "--arch", preset, "--type", "f16", "--seed", "1", path).CombinedOutput(); err != nil {
			t.Fatalf("gen-model %s: %v\n%s", preset, err, out)
		}
	})
}

// SayingModel returns a generated micro model that says sentence whatever it hears
// (engine.GenerateOptions.Say), made once per test binary: for tests that check words.
func SayingModel(t testing.TB, sentence string) string {
	t.Helper()
	return generated(t, "say:"+sentence, fmt.Sprintf("say-%08x.bin", crc32.ChecksumIEEE([]byte(sentence))), func(path string) {
		p, _ := engine.PresetByName("micro")
		if err := engine.GenerateModelFile(path, p, engine.GenerateOptions{Type: engine.F16, Seed: 1, Say: sentence}); err != nil {
			t.Fatal(err)
		}
	})
}

// generated returns the model made for key, making it as file with create(path) the first
// time. The file name shows in the model's status and transcripts, which tests read.
func generated(t testing.TB, key, file string, create func(path string)) string {
	t.Helper()
	modelsMu.Lock()
	defer modelsMu.Unlock()
	if p, ok := models[key]; ok {
		return p
	}
	if modelDir == "" {
		d, err := os.MkdirTemp("", "dictate-models-")
		if err != nil {
			t.Fatal(err)
		}
		modelDir = d
	}
	path := filepath.Join(modelDir, file)
	create(path)
	models[key] = path
	return path
}

// Main runs a package's tests, then stops the test hosts and removes generated models:
// func TestMain(m *testing.M) { testenv.Main(m) }.
// Tests get their own XDG directories, so settings, history and models of the user's (or
// of other test packages) are never read or written.
func Main(m *testing.M) {
	home, err := os.MkdirTemp("", "dictate-home-")
	if err != nil {
		panic(err)
	}
	for _, v := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"} {
		os.Setenv(v, filepath.Join(home, v))
	}
	xdg.Reload()
	code := m.Run()
	Cleanup()
	os.RemoveAll(home)
	os.Exit(code)
}

// Cleanup stops the test hosts and removes generated models; call from TestMain after m.Run.
func Cleanup() {
	StopHosts()
	if modelDir != "" {
		os.RemoveAll(modelDir)
	}
}
