package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dictate-app/dictate/internal/testmodel"
)

// WordsModel is the path of a trained test model (testmodel.Teacher or testmodel.Student):
// real weights that hear real words, where generated models decode made-up ones.
func WordsModel(t testing.TB, which string) string {
	t.Helper()
	p := testmodel.Path(testmodel.Dir(), which)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("trained test model: %v (scripts/train-test-model makes it)", err)
	}
	return p
}

// HeldOut returns the sentences the trained models never heard in training.
func HeldOut(t testing.TB) []testmodel.Sentence {
	t.Helper()
	s, err := testmodel.HeldOut(testmodel.Dir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// SpeakSentence writes s, spoken in its voice, as a WAV in dir and returns its path.
func SpeakSentence(t testing.TB, dir string, i int, s testmodel.Sentence) string {
	t.Helper()
	Tool(t, "espeak-ng")
	p := filepath.Join(dir, fmt.Sprintf("sentence-%03d.wav", i))
	if err := testmodel.Speak(context.Background(), s, p); err != nil {
		t.Fatal(err)
	}
	return p
}
