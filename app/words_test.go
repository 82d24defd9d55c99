package app

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testenv"
	"github.com/dictate-app/dictate/internal/testmodel"
	"github.com/dictate-app/dictate/internal/wer"
)

// spokenClip is a held-out sentence at 16 kHz with espeak-ng's silence trimmed: speech from
// the first sample to the last.
func spokenClip(t *testing.T, dir string, i int, s testmodel.Sentence) []float32 {
	t.Helper()
	pcm, err := audio.DecodeFile(context.Background(), testenv.SpeakSentence(t, dir, i, s))
	if err != nil {
		t.Fatal(err)
	}
	loud := func(x float32) bool { return math.Abs(float64(x)) > 0.002 }
	a, b := 0, len(pcm)
	for a < b && !loud(pcm[a]) {
		a++
	}
	for b > a && !loud(pcm[b-1]) {
		b--
	}
	return pcm[a:b]
}

// The gate and the hallucination filter on a model that hears: silence, room noise, hum and
// a click give no text, and no held-out sentence is dropped, through the dictation flow
// (gate, audio-context trim, engine, filter) with the trained model.
func TestGateAndFilterKeepSpeechDropNoise(t *testing.T) {
	m, err := engine.Load(testenv.WordsModel(t, testmodel.Teacher), engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() }) // after the dictation has stopped (cleanups run last first)
	rec, out, hist := &fakeRecorder{}, &fakeInserter{}, &memHistory{}
	opts := engine.Options{Language: "en", AudioCtxFloorMS: 10000}
	d := NewDictation(DictationConfig{Mode: ModeHold, Engine: opts, Replacements: DefaultReplacements}, rec, m, out, hist)
	events := runDictation(t, d)
	take := func(pcm []float32) TakeRecord {
		t.Helper()
		rec.mu.Lock()
		rec.samples = pcm
		rec.mu.Unlock()
		d.Press(time.Now())
		d.Release(time.Now())
		timeout := time.After(60 * time.Second)
		for {
			select {
			case e := <-events:
				if e.Kind == EventTake {
					return *e.Take
				}
			case <-timeout:
				t.Fatal("no take")
			}
		}
	}

	rng := rand.New(rand.NewPCG(3, 3))
	const rate = audio.TargetRate
	noise := func(seconds, level float64, fill func(i int) float64) []float32 {
		pcm := make([]float32, int(seconds*rate))
		for i := range pcm {
			pcm[i] = float32(level * fill(i))
		}
		return pcm
	}
	white := func(int) float64 { return rng.NormFloat64() }
	hum := func(i int) float64 {
		return math.Sin(2*math.Pi*50*float64(i)/rate) + 0.3*math.Sin(2*math.Pi*150*float64(i)/rate)
	}
	click := noise(2, 0.0003, white)
	for i := rate; i < rate+rate/100; i++ {
		click[i] = 0.5
	}
	for _, c := range []struct {
		name string
		pcm  []float32
	}{
		{"digital silence", make([]float32, 2*rate)},
		{"quiet room", noise(3, 0.0005, white)},
		{"fan noise", noise(3, 0.01, white)},
		{"loud noise", noise(2, 0.05, white)},
		{"mains hum", noise(3, 0.02, hum)},
		{"a click in a quiet room", click},
	} {
		if r := take(c.pcm); r.Text != "" || r.Inserted != "" {
			t.Errorf("%s came out as %q (dropped %q)", c.name, r.Text, r.Dropped)
		} else {
			t.Logf("%s: dropped as %s", c.name, r.Dropped)
		}
	}

	var tally wer.Tally
	dir := t.TempDir()
	for i, s := range testenv.HeldOut(t)[:40] {
		speech := spokenClip(t, dir, i, s)
		pcm := append(noise(0.4, 0.0005, white), speech...)
		pcm = append(pcm, noise(0.4, 0.0005, white)...)
		r := take(pcm)
		if r.Dropped != "" || r.Inserted == "" {
			t.Errorf("%q dropped as %q (text %q)", s.Text, r.Dropped, r.Text)
		}
		tally.Add(s.Text, r.Inserted)
	}
	t.Logf("40 held-out sentences through the dictation flow: WER %.2f%% over %d words", tally.Rate(), tally.Words)
}

// robustSentences picks n held-out sentences in espeak-ng's default voice that the trained
// model hears exactly from the file, wherever the speech starts in the take (0.1–0.4 s in):
// a word missing from a real take then says the take lost audio, not that the model misheard.
func robustSentences(t *testing.T, model string, n int) []testmodel.Sentence {
	t.Helper()
	m, err := engine.Load(model, engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dir := t.TempDir()
	var out []testmodel.Sentence
	for i, s := range testenv.HeldOut(t) {
		if s.Voice != "en" || len(wer.Words(s.Text)) < 5 {
			continue
		}
		speech := spokenClip(t, dir, i, s)
		exact := true
		for _, lead := range []float64{0.1, 0.25, 0.4} {
			pcm := append(make([]float32, int(lead*audio.TargetRate)), speech...)
			pcm = append(pcm, make([]float32, audio.TargetRate/4)...)
			r, err := m.Transcribe(context.Background(), pcm, engine.Options{Language: "en", AudioCtxFloorMS: 10000})
			if err != nil {
				t.Fatal(err)
			}
			exact = exact && slices.Equal(wer.Words(r.Text), wer.Words(s.Text))
		}
		if exact {
			out = append(out, s)
			if len(out) == n {
				return out
			}
		}
	}
	t.Fatalf("only %d of the held-out sentences are heard exactly; want %d", len(out), n)
	return nil
}

// The words spoken are the words typed, on X11 with the real audio server and the trained
// model: the speech starts as the key goes down and ends as it comes up, so a clipped last
// word (the tail) shows as a missing word.
func TestE2EDictationTypesTheWordsSpoken(t *testing.T) {
	model := testenv.WordsModel(t, testmodel.Teacher)
	sentences := robustSentences(t, model, 3)
	e := startE2EListener(t, model, "type", 0)
	var said []string
	for i, s := range sentences {
		wav := filepath.Join(e.dir, "take.wav")
		if err := audio.WriteWAVFile(wav, spokenClip(t, e.dir, i, s), audio.TargetRate); err != nil {
			t.Fatal(err)
		}
		_, up := e.dictatePausing(wav, 0)
		r := e.waitTake(i + 1)
		if err := checkHeard(s.Text, r.Inserted); err != nil {
			t.Errorf("%v (take %+v)", err, r)
		}

		said = append(said, r.Inserted)
		shown := e.waitWindowWords(wer.Words(strings.Join(said, " ")))
		t.Logf("said %q, typed %q: key-up→text %d ms", s.Text, r.Inserted, shown.Sub(up).Milliseconds())
	}
}

// checkHeard: the last word typed is the last said (nothing lost at key-up) and most words
// arrive (WER ≤ 35 %). The model hears these sentences exactly from the file
// (robustSentences), but real takes on Xvfb + PulseAudio lose the first ~80 ms of the speech
// played ("people" typed as "eat pull", "ground" as "and"; under investigation), and the
// small model then misses a word or two more: the aim is every word.
func checkHeard(said, typed string) error {
	s, ty := wer.Words(said), wer.Words(typed)
	if len(ty) == 0 || s[len(s)-1] != ty[len(ty)-1] || 100*wer.Errors(s, ty) > 35*len(s) {
		return fmt.Errorf("said %q, typed %q", said, typed)
	}
	return nil
}

// waitWindowWords waits until the window's words are want.
func (e *e2e) waitWindowWords(want []string) time.Time {
	e.t.Helper()
	if !testenv.WaitFor(20*time.Second, func() bool { return slices.Equal(wer.Words(e.window()), want) }) {
		e.t.Fatalf("window holds %q, want the words %q; listener said:\n%s", e.window(), want, e.listener.Output())
	}
	return time.Now()
}
