package cli

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/dictate-app/dictate/internal/testenv"
	"github.com/dictate-app/dictate/internal/testmodel"
)

// What the committed models reach on the first 80 held-out sentences (teacher 5.9 %,
// student 5.7 %), with a margin: a change that makes the app hear worse fails here. The
// student is within 1 % of the teacher; the teacher is short of its 5 % aim on all 200
// sentences (BENCHMARKS.md).
const (
	teacherWERLimit = 9.0
	studentWERLimit = 9.0
)

// The trained test models hear the words spoken, the app and whisper-cli agree on the same
// files, and the audio-context trim costs the teacher at most 0.5 %. The figures in
// BENCHMARKS.md come from the same command over all held-out sentences.
func TestBenchWordsHeldOut(t *testing.T) {
	testenv.Tool(t, "espeak-ng")
	testenv.Tool(t, "whisper-cli")
	testenv.WordsModel(t, testmodel.Teacher)
	code, stdout, stderr := runCLI(t, "bench", "--words", "--words-limit", "80", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum WordsSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	var out strings.Builder
	printWords(&out, sum)
	t.Log("\n" + out.String())
	if sum.Sentences != 80 || len(sum.Results) != 2 {
		t.Fatalf("scored %d sentences, %d models", sum.Sentences, len(sum.Results))
	}
	teacher, student := sum.Results[0], sum.Results[1]
	if teacher.TextLayers != 4 || student.TextLayers != 2 || teacher.Words < 400 {
		t.Fatalf("teacher %+v, student %+v", teacher, student)
	}
	if teacher.AppWER > teacherWERLimit || student.AppWER > studentWERLimit {
		t.Errorf("WER teacher %.2f%% (limit %.0f%%), student %.2f%% (limit %.0f%%)",
			teacher.AppWER, teacherWERLimit, student.AppWER, studentWERLimit)
	}
	// Distil-Whisper's claim, on these models: half the decoder, within 1 % of the teacher.
	if gap := student.AppWER - teacher.AppWER; gap > 1 {
		t.Errorf("the student is %.2f%% behind the teacher (%.2f against %.2f%%)", gap, student.AppWER, teacher.AppWER)
	}
	for _, r := range sum.Results {
		// Same samples, same window, same whisper.cpp: equal but for threads' rounding,
		// which could tip a word where a small model is unsure (none of 80 seen).
		if math.Abs(r.CLIWER-r.AppFullWER) > 0.5 {
			t.Errorf("%s: whisper-cli WER %.2f%%, the app's on the same window %.2f%% (%d sentences differ)",
				r.Model, r.CLIWER, r.AppFullWER, r.Mismatches)
		}
	}
	// The student's trim cost (no timestamps, like distil-medium.en) varies more with the
	// sentences: BENCHMARKS.md keeps it.
	if cost := teacher.AppWER - teacher.AppFullWER; cost > 0.5 {
		t.Errorf("the 10 s audio-context floor costs the teacher %.2f%% WER", cost)
	}
}

// dictate bench --live through the real capture path: takes played into the null sink while
// the microphone records its monitor, commit-while-speaking on and off, then the summary.
func TestBenchLive(t *testing.T) {
	testenv.Tool(t, "espeak-ng")
	testenv.PulseAudio(t)
	teacher := testenv.WordsModel(t, testmodel.Teacher)
	code, stdout, stderr := runCLI(t, "bench", "--live", "--live-takes", "3s,9s", "--live-model", teacher, "--json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var sum LiveSummary
	if err := json.Unmarshal([]byte(lines[0]), &sum); err != nil || len(lines) != 2 || !strings.HasPrefix(lines[1], "SUMMARY live_120s_over_5s=") {
		t.Fatalf("%v: %s", err, stdout)
	}
	// Two takes on and off, then the longest again with the words scored.
	if len(sum.Results) != 6 {
		t.Fatalf("%d results: %+v", len(sum.Results), sum.Results)
	}
	var out strings.Builder
	for _, r := range sum.Results {
		printLive(&out, r)
		if r.ReleaseToText <= 0 || r.DroppedBlocks != 0 || r.Text == "" || r.TakeS < r.TargetS/2 {
			t.Errorf("take %+v", r)
		}
		if r.Live && r.TargetS == 9 && r.Passes < 2 {
			t.Errorf("the 9 s take ran %d passes with live text on", r.Passes)
		}
		if !r.Live && r.Passes != 0 {
			t.Errorf("%d passes with live text off", r.Passes)
		}
	}
	t.Log("\n" + out.String())
	for _, r := range sum.Results[4:] {
		if r.WER < 0 || r.WER > 30 {
			t.Errorf("scored take: WER %.1f%%", r.WER)
		}
	}
}
