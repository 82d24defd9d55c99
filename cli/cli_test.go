package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &CLI{Stdout: &out, Stderr: &errb}
	code = c.Run(context.Background(), args)
	return code, out.String(), errb.String()
}

var cueLine = regexp.MustCompile(`^(\d\d):(\d\d):(\d\d)[,.](\d\d\d) --> (\d\d):(\d\d):(\d\d)[,.](\d\d\d)$`)

type cue struct {
	start, end time.Duration
	text       string
}

func parseCueTime(m []string) time.Duration {
	n := make([]int, 4)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i])
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second + time.Duration(n[3])*time.Millisecond
}

// parseCues reads SRT (numbered, comma) or WebVTT (header, dot) strictly.
func parseCues(t *testing.T, s string, vtt bool) []cue {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s))
	if vtt {
		if !sc.Scan() || sc.Text() != "WEBVTT" || !sc.Scan() || sc.Text() != "" {
			t.Fatalf("no WEBVTT header in %q", s)
		}
	}
	var cues []cue
	for n := 1; sc.Scan(); n++ {
		if !vtt {
			if sc.Text() != strconv.Itoa(n) {
				t.Fatalf("cue %d numbered %q", n, sc.Text())
			}
			sc.Scan()
		}
		m := cueLine.FindStringSubmatch(sc.Text())
		if m == nil || (vtt && strings.Contains(sc.Text(), ",")) || (!vtt && strings.Contains(sc.Text(), ".")) {
			t.Fatalf("bad timing line %q", sc.Text())
		}
		c := cue{start: parseCueTime(m[1:5]), end: parseCueTime(m[5:9])}
		var lines []string
		for sc.Scan() && sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
		c.text = strings.Join(lines, "\n")
		cues = append(cues, c)
	}
	return cues
}

func TestCLIWritesFormatsMatchingEngine(t *testing.T) {
	modelPath := testenv.Model(t, "micro")
	sample := testenv.SpeechSample(t)
	out := t.TempDir()
	for _, format := range app.Formats {
		code, _, stderr := runCLI(t, "transcribe", sample, "--model", modelPath, "--format", format,
			"--output", out, "--max-tokens", "8", "--quiet")
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", format, code, stderr)
		}
	}

	// The engine's own segments for the same file and options.
	m, err := engine.Load(modelPath, engine.LoadOptions{GPU: true, FlashAttention: true}) // the CLI's defaults
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want, err := app.TranscribeFile(context.Background(), m, sample, engine.Options{MaxTokens: 8, Language: "auto"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Segments) < 2 {
		t.Fatalf("expected a segment per window, got %+v", want.Segments)
	}
	read := func(ext string) string {
		b, err := os.ReadFile(filepath.Join(out, "en-Wikipedia-Ignore_All_Rules."+ext))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, vtt := range []bool{false, true} {
		ext := map[bool]string{false: "srt", true: "vtt"}[vtt]
		cues := parseCues(t, read(ext), vtt)
		if len(cues) != len(want.Segments) {
			t.Fatalf("%s: %d cues, engine gave %d segments", ext, len(cues), len(want.Segments))
		}
		for i, c := range cues {
			s := want.Segments[i]
			if c.text != s.Text || c.start != s.Start.Truncate(time.Millisecond) || c.end != s.End.Truncate(time.Millisecond) {
				t.Errorf("%s cue %d = %+v, segment %+v", ext, i, c, s)
			}
		}
	}
	var js struct {
		File, Model, Device, Language, Text string
		Duration                            float64
		Segments                            []struct {
			Start, End   float64
			Text         string
			NoSpeechProb float64 `json:"no_speech_prob"`
		}
	}
	if err := json.Unmarshal([]byte(read("json")), &js); err != nil {
		t.Fatal(err)
	}
	if js.Text != want.Text() || len(js.Segments) != len(want.Segments) || js.Language != "en" || js.Model != "micro.bin" ||
		js.Device == "" || js.Duration < 53 || js.Duration > 54 {
		t.Fatalf("json %+v", js)
	}
	for i, s := range js.Segments {
		if s.Text != want.Segments[i].Text || s.Start != want.Segments[i].Start.Seconds() || s.End != want.Segments[i].End.Seconds() {
			t.Errorf("json segment %d = %+v, want %+v", i, s, want.Segments[i])
		}
	}
	if got := strings.TrimSpace(read("txt")); got != want.Text() {
		t.Errorf("txt %q, want %q", got, want.Text())
	}
}

func TestCLIErrors(t *testing.T) {
	modelPath := testenv.Model(t, "micro")
	sample := testenv.SpeechSample(t)
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.bin")
	data, _ := os.ReadFile(modelPath)
	os.WriteFile(corrupt, data[:len(data)/2], 0o644)
	notAudio := filepath.Join(dir, "notes.wav")
	os.WriteFile(notAudio, []byte("RIFF\x10\x00\x00\x00WAVEjunk"), 0o644)

	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"corrupt model", []string{"transcribe", "--model", corrupt, sample}, ExitBadInput, "download may be incomplete"},
		{"model is a directory", []string{"transcribe", "--model", dir, sample}, ExitBadInput, "directory"},
		{"missing audio", []string{"transcribe", "--model", modelPath, "--quiet", filepath.Join(dir, "nope.wav")}, ExitBadInput, "no such file"},
		{"broken audio", []string{"transcribe", "--model", modelPath, "--quiet", notAudio}, ExitBadInput, "corrupt audio"},
		{"no files", []string{"transcribe", "--model", modelPath}, ExitUsage, "at least one"},
		{"no model", []string{"transcribe", sample}, ExitUsage, "no model"},
		{"bad format", []string{"transcribe", "--model", modelPath, "--format", "doc", sample}, ExitUsage, "unknown format"},
		{"bad flag", []string{"transcribe", "--bogus", sample}, ExitUsage, "bogus"},
		{"unknown command", []string{"frobnicate"}, ExitUsage, "unknown command"},
		{"negative lead", []string{"bench", "--words", "--words-lead", "-1s"}, ExitUsage, "--words-lead"},
		{"language on English-only", []string{"transcribe", "--model", modelPath, "--language", "de", "--quiet", sample}, ExitFailure, "English-only"},
	}
	t.Setenv("DICTATE_MODEL", "")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.contains) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, c.code, stderr, c.contains)
			}
			if c.code == ExitBadInput && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr)
			}
		})
	}
}

// One bad file among several: the others are still transcribed and written.
func TestCLIKeepsGoingPastBadFiles(t *testing.T) {
	modelPath := testenv.Model(t, "micro")
	dir := t.TempDir()
	speech := testenv.Speak(t, dir, "Testing one two three.")
	bad := filepath.Join(dir, "bad.flac")
	os.WriteFile(bad, []byte("fLaC garbage"), 0o644)
	code, _, stderr := runCLI(t, "transcribe", "--model", modelPath, "--max-tokens", "4", "--quiet",
		"--format", "srt", "--output", dir, bad, speech)
	if code != ExitFailure || !strings.Contains(stderr, "bad.flac") || !strings.Contains(stderr, "1 of 2 files failed") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "speech.srt")); err != nil || len(parseCues(t, string(b), false)) == 0 {
		t.Fatalf("good file not written: %v %q", err, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.srt")); err == nil {
		t.Error("a transcript was written for the bad file")
	}
}

func TestCLIGenModelAndInfo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tiny.bin")
	code, stdout, stderr := runCLI(t, "dev", "gen-model", "--arch", "tiny.en", "--type", "f32", out)
	if code != ExitOK || !strings.Contains(stdout, "tiny.en architecture, f32, 4+4 layers, English-only") {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "dev", "gen-model", "--arch", "huge", out); code != ExitUsage || !strings.Contains(stderr, "distil-large-v3") {
		t.Fatalf("unknown arch: exit %d %s", code, stderr)
	}
	// The audio server first: PortAudio lists devices once per process, and other tests here
	// open the default microphone.
	testenv.PulseAudio(t)
	code, stdout, _ = runCLI(t, "devices")
	if code != ExitOK || !strings.Contains(stdout, "CPU") || !strings.Contains(stdout, "(default)") {
		t.Fatalf("devices: %d %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "version")
	if code != ExitOK || !strings.Contains(stdout, "whisper.cpp 1.") || !strings.Contains(stdout, "dictate "+Version) {
		t.Fatalf("version: %d %q", code, stdout)
	}
	code, stdout, _ = runCLI(t)
	if code != ExitOK || !strings.Contains(stdout, "dictate transcribe FILE") {
		t.Fatalf("help: %d %q", code, stdout)
	}
	_ = fmt.Sprint()
}
