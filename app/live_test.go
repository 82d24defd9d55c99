package app

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

func seg(start, end time.Duration, text string) engine.Segment {
	return engine.Segment{Start: start, End: end, Text: text}
}

const sec = time.Second

func TestAgreementCommitsWhatTwoPassesAgreeOn(t *testing.T) {
	cases := []struct {
		name      string
		passes    [][]engine.Segment // each timed from the buffer's start
		ends      []time.Duration    // audio heard by each pass
		committed string
		tentative string
		base      time.Duration
	}{
		{name: "one pass commits nothing",
			passes: [][]engine.Segment{{seg(0, 3*sec, "the cat sat")}}, ends: []time.Duration{5 * sec},
			tentative: "the cat sat"},
		{name: "agreed words commit, the differing rest waits",
			passes: [][]engine.Segment{{seg(0, 3*sec, "the cat sat on")}, {seg(0, 4*sec, "the cat sat upon a mat")}},
			ends:   []time.Duration{4 * sec, 6 * sec}, committed: "the cat sat", tentative: "upon a mat"},
		{name: "case and punctuation do not disagree",
			passes: [][]engine.Segment{{seg(0, 2*sec, "Hello world")}, {seg(0, 2*sec, "hello, world.")}},
			ends:   []time.Duration{4 * sec, 5 * sec}, committed: "hello, world.", base: 2 * sec},
		{name: "words ending within the holdback wait",
			passes: [][]engine.Segment{{seg(0, 4*sec, "one two three four")}, {seg(0, 4*sec, "one two three four")}},
			ends:   []time.Duration{4 * sec, 4500 * time.Millisecond}, committed: "one two three", tentative: "four"},
		{name: "a whole segment committed trims the buffer at its end",
			passes: [][]engine.Segment{
				{seg(0, 2*sec, "first part."), seg(2500*time.Millisecond, 4*sec, "second")},
				{seg(0, 2*sec, "first part."), seg(2500*time.Millisecond, 5*sec, "second half")},
			},
			ends: []time.Duration{4 * sec, 4500 * time.Millisecond}, committed: "first part.", tentative: "second half", base: 2 * sec},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var a agreement
			for i, p := range c.passes {
				a.pass(p, c.ends[i], sec)
			}
			if got := strings.Join(a.committed, " "); got != c.committed {
				t.Errorf("committed %q, want %q", got, c.committed)
			}
			if got := a.tentative(); got != c.tentative {
				t.Errorf("tentative %q, want %q", got, c.tentative)
			}
			if a.base != c.base {
				t.Errorf("buffer starts at %v, want %v", a.base, c.base)
			}
		})
	}
}

func TestAgreementNeverDoublesCommittedWords(t *testing.T) {
	// Words committed inside a segment that goes on are in the next buffer again.
	var a agreement
	a.pass([]engine.Segment{seg(0, 6*sec, "we walk to the park")}, 8*sec, sec)
	a.pass([]engine.Segment{seg(0, 6*sec, "we walk to the park")}, 9*sec, sec)
	// All of it committed with its segment's end: the buffer moved to 6 s.
	if a.base != 6*sec || a.inBuffer != 0 {
		t.Fatalf("base %v, %d committed words in the buffer", a.base, a.inBuffer)
	}

	var b agreement
	b.pass([]engine.Segment{seg(0, 8*sec, "we walk to the park and")}, 8*sec, 3*sec)
	b.pass([]engine.Segment{seg(0, 9*sec, "we walk to the park and then")}, 9*sec, 3*sec)
	if got := strings.Join(b.committed, " "); got != "we walk to the" || b.inBuffer != 4 {
		t.Fatalf("committed %q (%d in the buffer)", got, b.inBuffer)
	}
	// The next pass repeats them: they are not committed again.
	b.pass([]engine.Segment{seg(0, 10*sec, "we walk to the park and then home")}, 12*sec, sec)
	b.pass([]engine.Segment{seg(0, 10*sec, "we walk to the park and then home")}, 13*sec, sec)
	if got := strings.Join(b.committed, " "); got != "we walk to the park and then home" {
		t.Fatalf("committed %q", got)
	}
	// A pass that hears the committed words otherwise: time and the last words tell them.
	var c agreement
	c.pass([]engine.Segment{seg(0, 8*sec, "red blue green yellow")}, 12*sec, sec)
	c.pass([]engine.Segment{seg(0, 8*sec, "red blue green yellow")}, 12*sec, sec)
	c.inBuffer, c.base = 4, 0 // as if the segment had gone on
	words := c.final([]engine.Segment{seg(0, 8*sec, "read blue green yellow"), seg(8*sec, 10*sec, "black")}, 10*sec)
	if got := strings.Join(words, " "); got != "black" {
		t.Fatalf("the final pass committed %q, want only the new word", got)
	}
}

func TestAgreementPrompt(t *testing.T) {
	a := agreement{committed: strings.Fields(strings.Repeat("word ", 100))}
	p := a.prompt(200)
	if len([]rune(p)) > 200 || strings.HasPrefix(p, "ord") || !strings.HasSuffix(p, "word") {
		t.Errorf("prompt %q", p)
	}
	// Committed words the buffer still holds are heard again, not prompted.
	b := agreement{committed: []string{"before", "the", "buffer", "inside", "it"}, inBuffer: 2}
	if p := b.prompt(200); p != "before the buffer" {
		t.Errorf("prompt %q", p)
	}
}

// Tone-coded speech: each word is 400 ms of a tone whose amplitude names it, words 100 ms
// apart, phrases 900 ms apart. toneTranscriber reads them back as a model would hear
// them: a word cut by the end of the audio is misheard.
const (
	toneWord = 400 * time.Millisecond
	toneGap  = 100 * time.Millisecond
	tonePara = 900 * time.Millisecond
)

func toneAmp(word int) float64 { return 0.1 + 0.002*float64(word) }

func toneSpeech(phrases [][]int) []float32 {
	var pcm []float32
	rng := rand.New(rand.NewSource(1))
	quiet := func(d time.Duration) {
		for range samplesOf(d) {
			pcm = append(pcm, float32(rng.NormFloat64()*1e-4))
		}
	}
	quiet(300 * time.Millisecond)
	for _, ph := range phrases {
		for i, w := range ph {
			if i > 0 {
				quiet(toneGap)
			}
			n := samplesOf(toneWord)
			for k := range n {
				pcm = append(pcm, float32(toneAmp(w)*math.Sin(float64(len(pcm)+k)*0.3)))
			}
		}
		quiet(tonePara)
	}
	return pcm
}

func toneName(w int) string { return fmt.Sprintf("w%d", w) }

type toneTranscriber struct {
	mu      sync.Mutex
	calls   int
	prompts []string
}

func (f *toneTranscriber) Transcribe(ctx context.Context, pcm []float32, opts engine.Options) (engine.Result, error) {
	f.mu.Lock()
	f.calls++
	f.prompts = append(f.prompts, opts.InitialPrompt)
	f.mu.Unlock()
	frame := samplesOf(20 * time.Millisecond)
	var segs []engine.Segment
	var words []string
	segStart, lastEnd, quietFrames := time.Duration(-1), time.Duration(0), 0
	wordStart, peak := -1, 0.0
	flushWord := func(endFrame int, cut bool) {
		if wordStart < 0 {
			return
		}
		name := toneName(int(math.Round((peak - 0.1) / 0.002)))
		if cut || endFrame-wordStart < int(toneWord/(20*time.Millisecond))-2 {
			name = "um" // heard in part
		}
		words = append(words, name)
		lastEnd = time.Duration(endFrame) * 20 * time.Millisecond
		wordStart, peak = -1, 0
	}
	flushSeg := func() {
		if len(words) > 0 {
			segs = append(segs, engine.Segment{Start: segStart, End: lastEnd, Text: strings.Join(words, " ") + ".", NoSpeechProb: 0.01})
		}
		words, segStart = nil, -1
	}
	n := len(pcm) / frame
	for i := 0; i < n; i++ {
		var p float64
		for _, v := range pcm[i*frame : (i+1)*frame] {
			p = math.Max(p, math.Abs(float64(v)))
		}
		if p > 0.05 {
			if wordStart < 0 {
				wordStart = i
				if segStart < 0 {
					segStart = time.Duration(i) * 20 * time.Millisecond
				}
			}
			peak = math.Max(peak, p)
			quietFrames = 0
			continue
		}
		flushWord(i, false)
		quietFrames++
		if quietFrames == 15 { // 300 ms: a segment ends
			flushSeg()
		}
	}
	flushWord(n, true)
	flushSeg()
	return engine.Result{Language: "en", Segments: segs}, nil
}

// growingTake is a take whose audio the test hands over piece by piece.
type growingTake struct {
	mu      sync.Mutex
	samples []float32
}

func (t *growingTake) add(pcm []float32) {
	t.mu.Lock()
	t.samples = append(t.samples, pcm...)
	t.mu.Unlock()
}

func (t *growingTake) reset() {
	t.mu.Lock()
	t.samples = nil
	t.mu.Unlock()
}

func (t *growingTake) Recorded() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.samples)
}

func (t *growingTake) SamplesFrom(from int) []float32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if from >= len(t.samples) {
		return nil
	}
	return append([]float32(nil), t.samples[from:]...)
}

func (t *growingTake) Stop() audio.TakeAudio {
	t.mu.Lock()
	defer t.mu.Unlock()
	return audio.TakeAudio{Samples: t.samples, Duration: durationOf(len(t.samples)), StartedAt: time.Now()}
}
func (t *growingTake) Failed() error { return nil }

type growingRecorder struct{ take *growingTake }

func (r growingRecorder) Start(time.Time) (RecordingTake, error) { return r.take, nil }

func TestLiveCommitTypesEveryWordOnce(t *testing.T) {
	// Phrases of different lengths; the audio arrives in 1 s pieces and each piece waits
	// for the pass it starts, as a CPU keeping up would.
	rng := rand.New(rand.NewSource(7))
	var phrases [][]int
	var want []string
	next := 0
	for range 12 {
		var ph []int
		for range 1 + rng.Intn(14) {
			ph = append(ph, next)
			want = append(want, toneName(next))
			next++
		}
		phrases = append(phrases, ph)
	}
	pcm := toneSpeech(phrases)
	take := &growingTake{}
	eng := &toneTranscriber{}
	out := &fakeInserter{}
	hist := &memHistory{}
	d := NewDictation(DictationConfig{Mode: ModeHold, Live: true, LivePrompt: true}, growingRecorder{take}, eng, out, hist)
	events := runDictation(t, d)

	committedBefore := dictateLive(t, d, take, events, pcm)
	if len(strings.Fields(committedBefore)) < len(want)/2 {
		t.Errorf("before release only %d of %d words were committed: %q", len(strings.Fields(committedBefore)), len(want), committedBefore)
	}
	rec := releaseLive(t, d, events)
	got := strings.Fields(strings.NewReplacer(".", "").Replace(rec.Text))
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("typed\n%v\nwant\n%v", got, want)
	}
	if len(rec.Commits) == 0 || rec.LivePasses < len(pcm)/samplesOf(time.Second)/2 {
		t.Errorf("%d commits in %d passes", len(rec.Commits), rec.LivePasses)
	}
	for i := 1; i < len(rec.Commits); i++ {
		if rec.Commits[i].AtMS < rec.Commits[i-1].AtMS {
			t.Errorf("commit times go back: %v", rec.Commits)
		}
	}
	// Later passes are prompted with the committed text.
	eng.mu.Lock()
	defer eng.mu.Unlock()
	prompted := 0
	for _, p := range eng.prompts {
		if strings.HasPrefix(p, " w0") {
			prompted++
		}
	}
	if prompted == 0 {
		t.Errorf("no pass was prompted with the committed text: %q", eng.prompts)
	}
}

// dictateLive presses the key and hands pcm to take a second at a time, as a microphone
// would, each piece waiting for the pass it starts (once the policy starts passes; a last
// piece under a step is left to the final pass). It returns the text committed meanwhile.
func dictateLive(t *testing.T, d *Dictation, take *growingTake, events <-chan Event, pcm []float32) (committed string) {
	t.Helper()
	return dictateLiveFrom(t, d, take, events, pcm, func() { d.Press(time.Now()) })
}

// dictateLiveFrom is dictateLive with the take started by start (a key-down, a toggle).
func dictateLiveFrom(t *testing.T, d *Dictation, take *growingTake, events <-chan Event, pcm []float32, start func()) (committed string) {
	t.Helper()
	start()
	waitUntil(t, "recording", d.recordingNow)
	piece := samplesOf(time.Second)
	for at := 0; at < len(pcm); at += piece {
		take.add(pcm[at:min(len(pcm), at+piece)])
		heard := durationOf(at + piece)
		if heard < LivePolicyFor(false).Start || at+piece > len(pcm) {
			continue
		}
		for live := false; !live; {
			select {
			case e := <-events:
				if e.Kind == EventLive && e.Live.Elapsed >= heard {
					live, committed = true, e.Live.Committed
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("no live pass over the audio up to %v", heard)
			}
		}
	}
	return committed
}

// releaseLive releases the key and returns the take's record.
func releaseLive(t *testing.T, d *Dictation, events <-chan Event) TakeRecord {
	t.Helper()
	return stopLive(t, events, func() { d.Release(time.Now()) })
}

// stopLive ends the take with stop and returns its record.
func stopLive(t *testing.T, events <-chan Event, stop func()) TakeRecord {
	t.Helper()
	stop()
	for {
		select {
		case e := <-events:
			if e.Kind == EventTake {
				return *e.Take
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no take")
		}
	}
}

// The live setting applies from the next take on, without a new session.
func TestReconfigureTurnsLiveTextOnAndOff(t *testing.T) {
	pcm := toneSpeech([][]int{{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}})
	take := &growingTake{}
	d := NewDictation(DictationConfig{Mode: ModeHold, Live: true}, growingRecorder{take}, &toneTranscriber{}, &fakeInserter{}, nil)
	events := runDictation(t, d)

	d.Reconfigure(SessionConfig{Mode: ModeHold, LiveCommit: false})
	d.Press(time.Now())
	waitUntil(t, "recording", d.recordingNow)
	take.add(pcm)
	if rec := releaseLive(t, d, events); rec.LivePasses != 0 || rec.Text == "" {
		t.Fatalf("live off: %d passes, text %q", rec.LivePasses, rec.Text)
	}

	d.Reconfigure(SessionConfig{Mode: ModeHold, LiveCommit: true})
	take.reset()
	d.Press(time.Now())
	waitUntil(t, "recording", d.recordingNow)
	take.add(pcm)
	for live := false; !live; {
		select {
		case e := <-events:
			live = e.Kind == EventLive
		case <-time.After(30 * time.Second):
			t.Fatal("live on: no pass while recording")
		}
	}
	if rec := releaseLive(t, d, events); rec.LivePasses == 0 || rec.Text == "" {
		t.Fatalf("live on: %d passes, text %q", rec.LivePasses, rec.Text)
	}
}

// Typing words as they commit (live_type): the words typed while speaking and at release
// are every word once, in order, and never taken back. A held hotkey that would take or
// change the keys typed (a modifier, an X11 grab) keeps them until release, unless the
// take was started without holding it (toggle).
func TestLiveTypeTypesCommitsAsTheyCome(t *testing.T) {
	var phrases [][]int
	var want []string
	for p := range 6 {
		var ph []int
		for w := range 6 + p {
			ph = append(ph, 10*p+w)
			want = append(want, toneName(10*p+w))
		}
		phrases = append(phrases, ph)
	}
	pcm := toneSpeech(phrases)
	for _, tc := range []struct {
		name         string
		blocks       bool
		toggle       bool
		typedWhileOn bool
	}{
		{"hotkey held that lets keys through", false, false, true},
		{"hotkey held that blocks keys", true, false, false},
		{"hotkey that blocks keys, toggled", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			take := &growingTake{}
			out := &fakeInserter{}
			d := NewDictation(DictationConfig{Mode: ModeHold, Live: true, LiveType: true, HeldKeyBlocksTyping: tc.blocks},
				growingRecorder{take}, &toneTranscriber{}, out, nil)
			events := runDictation(t, d)
			start, stop := func() { d.Press(time.Now()) }, func() { d.Release(time.Now()) }
			if tc.toggle {
				start, stop = d.Toggle, d.Toggle
			}
			committed := dictateLiveFrom(t, d, take, events, pcm, start)
			// All passes but the last have typed what they committed: each types before
			// the next begins.
			before := out.got()
			rec := stopLive(t, events, stop)
			all := out.got()
			if typed := len(before) > 0; typed != tc.typedWhileOn {
				t.Fatalf("typed while speaking: %q (committed %q)", before, committed)
			}
			if whole := strings.Join(all, ""); !strings.HasPrefix(whole, rec.LiveTyped) || len(rec.LiveTyped) < len(strings.Join(before, "")) ||
				(rec.LiveTyped == "") == tc.typedWhileOn {
				t.Errorf("history says %q was typed while speaking; the window got %q, %q of it before release", rec.LiveTyped, whole, strings.Join(before, ""))
			}
			if !tc.typedWhileOn && len(all) != 1 {
				t.Errorf("typed in %d pieces at release: %q", len(all), all)
			}
			// Lower case: a word after a full stop is typed with a capital (Joiner).
			got := strings.Fields(strings.NewReplacer(".", "").Replace(strings.ToLower(strings.Join(all, ""))))
			if !slices.Equal(got, want) {
				t.Fatalf("typed\n%v\nwant\n%v", got, want)
			}
			if rec.Inserted != strings.Join(all, "") {
				t.Errorf("record says %q inserted, the window got %q", rec.Inserted, strings.Join(all, ""))
			}
		})
	}
}
