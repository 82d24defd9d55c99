// Package testmodel finds the word-level test models that scripts/train-test-model makes
// (a Whisper-architecture teacher and its distilled student, trained on espeak-ng speech
// over a few hundred words) and the held-out sentences they are scored on, and speaks
// those sentences as the training corpus did.
package testmodel

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// The two models.
const (
	Teacher = "teacher" // 4 decoder layers, timestamps
	Student = "student" // 2 decoder layers from the teacher's first and last; whisper.cpp runs it without timestamps
)

// Dir is where the models are committed, found from this source file (tests) or from the
// repository root (make bench runs there).
func Dir() string {
	if _, file, _, ok := runtime.Caller(0); ok {
		d := filepath.Join(filepath.Dir(file), "..", "testenv", "testdata", "words")
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	return filepath.Join("internal", "testenv", "testdata", "words")
}

// Path is the model file of which (Teacher or Student) in dir.
func Path(dir, which string) string { return filepath.Join(dir, "words-"+which+".bin") }

// Sentence is a held-out sentence and the voice that speaks it.
type Sentence struct {
	Text  string
	Voice string
	Speed int // words per minute
	Pitch int // 0..99
}

// HeldOut reads the held-out sentences (heldout.tsv: text, voice, speed, pitch). Their
// word sequences never occur in training.
func HeldOut(dir string) ([]Sentence, error) {
	f, err := os.Open(filepath.Join(dir, "heldout.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Sentence
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 4 {
			return nil, fmt.Errorf("heldout.tsv line %d: %d fields, want 4", n, len(fields))
		}
		speed, err1 := strconv.Atoi(fields[2])
		pitch, err2 := strconv.Atoi(fields[3])
		if err1 != nil || err2 != nil || fields[0] == "" || fields[1] == "" {
			return nil, fmt.Errorf("heldout.tsv line %d: %q", n, sc.Text())
		}
		out = append(out, Sentence{Text: fields[0], Voice: fields[1], Speed: speed, Pitch: pitch})
	}
	return out, sc.Err()
}

// Speak writes s spoken by espeak-ng to path (a WAV at espeak-ng's own rate).
func Speak(ctx context.Context, s Sentence, path string) error {
	bin, err := exec.LookPath("espeak-ng")
	if err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, bin, "-v", s.Voice, "-s", strconv.Itoa(s.Speed), "-p", strconv.Itoa(s.Pitch),
		"-w", path, s.Text).CombinedOutput()
	if err != nil {
		return fmt.Errorf("espeak-ng: %v: %s", err, out)
	}
	return nil
}

// TrimSilence cuts espeak-ng's silence from both ends of a clip (16 kHz samples), at the
// level the training corpus trims at: speech from the first sample to the last.
func TrimSilence(pcm []float32) []float32 {
	const floor = 0.002
	loud := func(x float32) bool { return x > floor || x < -floor }
	a, b := 0, len(pcm)
	for a < b && !loud(pcm[a]) {
		a++
	}
	for b > a && !loud(pcm[b-1]) {
		b--
	}
	return pcm[a:b]
}
