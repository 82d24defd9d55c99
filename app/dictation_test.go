package app

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

// Fakes for the flow's parts; the end-to-end tests run the real ones.

type fakeTake struct {
	audio  audio.TakeAudio
	failAt time.Time
}

func (t *fakeTake) Stop() audio.TakeAudio { return t.audio }
func (t *fakeTake) Failed() error {
	if !t.failAt.IsZero() && time.Now().After(t.failAt) {
		return audio.ErrDeviceStopped
	}
	return nil
}

type fakeRecorder struct {
	mu      sync.Mutex
	samples []float32
	failIn  time.Duration
	starts  int
	err     error
}

func (r *fakeRecorder) Start(time.Time) (RecordingTake, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	r.starts++
	now := time.Now()
	t := &fakeTake{audio: audio.TakeAudio{Samples: r.samples, StartedAt: now, FirstSampleAt: now.Add(3 * time.Millisecond),
		Duration: time.Duration(len(r.samples)) * time.Second / audio.TargetRate}}
	if r.failIn > 0 {
		t.failAt = now.Add(r.failIn)
		t.audio.Err = audio.ErrDeviceStopped
	}
	return t, nil
}

type fakeTranscriber struct {
	text    string
	gate    chan struct{} // when set, each call waits for a value
	active  atomic.Int32
	overlap atomic.Bool
	calls   atomic.Int32
}

func (f *fakeTranscriber) Transcribe(ctx context.Context, pcm []float32, opts engine.Options) (engine.Result, error) {
	if f.active.Add(1) > 1 {
		f.overlap.Store(true)
	}
	defer f.active.Add(-1)
	n := f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return engine.Result{}, ctx.Err()
		}
	}
	text := f.text
	if text == "" {
		text = "Take " + string(rune('0'+n)) + "."
	}
	return engine.Result{Language: "en", Segments: []engine.Segment{{Text: text, NoSpeechProb: 0.01}},
		Timings: engine.Timings{Encode: 5 * time.Millisecond}}, nil
}

type fakeInserter struct {
	mu   sync.Mutex
	text []string
	err  error
}

func (f *fakeInserter) Insert(ctx context.Context, text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.text = append(f.text, text)
	return nil
}
func (f *fakeInserter) Name() string { return "fake" }
func (f *fakeInserter) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.text...)
}

type memHistory struct {
	mu   sync.Mutex
	recs []TakeRecord
}

func (h *memHistory) Append(r TakeRecord) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}

func speechLike() []float32 {
	pcm := make([]float32, audio.TargetRate*2)
	for i := audio.TargetRate / 2; i < audio.TargetRate*3/2; i++ {
		pcm[i] = float32(0.3 * math.Sin(float64(i)*0.1))
	}
	return pcm
}

type harness struct {
	d      *Dictation
	rec    *fakeRecorder
	eng    *fakeTranscriber
	out    *fakeInserter
	hist   *memHistory
	events <-chan Event
	cancel context.CancelFunc
	ran    chan struct{}
}

func newHarness(t *testing.T, mode Mode) *harness {
	h := &harness{rec: &fakeRecorder{samples: speechLike()}, eng: &fakeTranscriber{}, out: &fakeInserter{}, hist: &memHistory{}}
	h.d = NewDictation(DictationConfig{Mode: mode, Replacements: DefaultReplacements}, h.rec, h.eng, h.out, h.hist)
	var unsub func()
	h.events, unsub = h.d.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.ran = cancel, make(chan struct{})
	go func() { h.d.Run(ctx); close(h.ran) }()
	t.Cleanup(func() { cancel(); <-h.ran; unsub() })
	return h
}

// runDictation runs d until the test ends and returns its events.
func runDictation(t *testing.T, d *Dictation) <-chan Event {
	events, unsub := d.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { d.Run(ctx); close(ran) }()
	t.Cleanup(func() { cancel(); <-ran; unsub() })
	return events
}

// waitTakes waits for n finished takes and returns them.
func (h *harness) waitTakes(t *testing.T, n int) []TakeRecord {
	t.Helper()
	var takes []TakeRecord
	deadline := time.After(5 * time.Second)
	for len(takes) < n {
		select {
		case e := <-h.events:
			if e.Kind == EventTake {
				takes = append(takes, *e.Take)
			}
		case <-deadline:
			t.Fatalf("got %d takes, want %d", len(takes), n)
		}
	}
	return takes
}

func TestHoldMode(t *testing.T) {
	h := newHarness(t, ModeHold)
	t0 := time.Now()
	h.d.Press(t0)
	if s := h.d.State(); s != Recording {
		t.Fatalf("state %v after press", s)
	}
	h.d.Release(t0.Add(time.Second))
	takes := h.waitTakes(t, 1)
	if got := h.out.got(); len(got) != 1 || got[0] != "Take 1." {
		t.Fatalf("inserted %q", got)
	}
	r := takes[0]
	if r.Text != "Take 1." || r.Inserted != "Take 1." || r.Dropped != "" || r.Output != "fake" || r.Latency.KeyDownToFirstSample <= 0 {
		t.Errorf("record %+v", r)
	}
	if len(h.hist.recs) != 1 {
		t.Errorf("history has %d records", len(h.hist.recs))
	}
}

func TestStatesAreReported(t *testing.T) {
	h := newHarness(t, ModeHold)
	h.d.Press(time.Now())
	h.d.Release(time.Now())
	var states []State
	deadline := time.After(5 * time.Second)
	for len(states) == 0 || states[len(states)-1] != Idle {
		select {
		case e := <-h.events:
			if e.Kind == EventState {
				states = append(states, e.State)
			}
		case <-deadline:
			t.Fatalf("states %v", states)
		}
	}
	want := []State{Recording, Transcribing, Inserting, Idle}
	if len(states) != len(want) {
		t.Fatalf("states %v, want %v", states, want)
	}
	for i := range want {
		if states[i] != want[i] {
			t.Fatalf("states %v, want %v", states, want)
		}
	}
}

func TestToggleMode(t *testing.T) {
	h := newHarness(t, ModeToggle)
	t0 := time.Now()
	h.d.Press(t0)
	h.d.Release(t0.Add(100 * time.Millisecond))
	if h.d.State() != Recording {
		t.Fatal("release stopped a toggle take")
	}
	h.d.Press(t0.Add(2 * time.Second))
	h.d.Release(t0.Add(2100 * time.Millisecond))
	h.waitTakes(t, 1)
	if h.rec.starts != 1 {
		t.Errorf("%d takes started", h.rec.starts)
	}
}

func TestAutoModeTapAndHold(t *testing.T) {
	h := newHarness(t, ModeAuto)
	t0 := time.Now()
	// A tap latches.
	h.d.Press(t0)
	h.d.Release(t0.Add(120 * time.Millisecond))
	if h.d.State() != Recording {
		t.Fatal("tap did not keep recording")
	}
	// The next press stops; its release is ignored.
	h.d.Press(t0.Add(3 * time.Second))
	h.d.Release(t0.Add(3100 * time.Millisecond))
	h.waitTakes(t, 1)
	// A hold is push-to-talk.
	t1 := time.Now()
	h.d.Press(t1)
	h.d.Release(t1.Add(900 * time.Millisecond))
	h.waitTakes(t, 1)
	if h.rec.starts != 2 {
		t.Errorf("%d takes started, want 2", h.rec.starts)
	}
	if got := h.out.got(); len(got) != 2 || got[1] != " Take 2." {
		t.Errorf("inserted %q", got)
	}
}

// A press while a take is transcribing records a new take; the two are transcribed one
// after the other, in order.
func TestTakesQueueWithoutOverlap(t *testing.T) {
	h := newHarness(t, ModeHold)
	h.eng.gate = make(chan struct{})
	for i := 0; i < 3; i++ {
		t0 := time.Now()
		h.d.Press(t0)
		h.d.Release(t0.Add(500 * time.Millisecond))
		waitUntil(t, "the take to be queued", func() bool { return h.d.takesWaiting() == i+1 })
	}
	for i := 0; i < 3; i++ {
		h.eng.gate <- struct{}{}
	}
	takes := h.waitTakes(t, 3)
	if h.eng.overlap.Load() {
		t.Error("transcriptions overlapped")
	}
	for i, r := range takes {
		if want := "Take " + string(rune('1'+i)) + "."; r.Text != want {
			t.Errorf("take %d: %q, want %q", i, r.Text, want)
		}
	}
}

func TestSilenceAndHallucinationsInsertNothing(t *testing.T) {
	h := newHarness(t, ModeHold)
	h.rec.samples = make([]float32, audio.TargetRate)
	h.d.Press(time.Now())
	h.d.Release(time.Now())
	if r := h.waitTakes(t, 1)[0]; r.Dropped != "silence" || h.eng.calls.Load() != 0 {
		t.Errorf("silent take: %+v, engine called %d times", r, h.eng.calls.Load())
	}
	// A stock phrase from a take with only a 200 ms burst in it: dropped.
	burst := make([]float32, audio.TargetRate)
	for i := range audio.TargetRate / 5 {
		burst[i] = float32(0.3 * math.Sin(float64(i)*0.1))
	}
	h.rec.samples = burst
	h.eng.text = " Thank you."
	h.d.Press(time.Now())
	h.d.Release(time.Now())
	if r := h.waitTakes(t, 1)[0]; r.Dropped != "hallucination" {
		t.Errorf("hallucination: %+v", r)
	}
	if got := h.out.got(); len(got) != 0 {
		t.Errorf("inserted %q", got)
	}
	// The same phrase from a second of speech is a reply: typed.
	h.rec.samples = speechLike()
	h.d.Press(time.Now())
	h.d.Release(time.Now())
	if r := h.waitTakes(t, 1)[0]; r.Dropped != "" || r.Inserted != "Thank you." {
		t.Errorf("spoken reply: %+v", r)
	}
}

// warmingTranscriber is a fakeTranscriber that can warm up; WarmUp waits on release.
type warmingTranscriber struct {
	fakeTranscriber
	release     chan struct{}
	warmups     atomic.Int32
	warmOptions engine.Options
	warmedAt    atomic.Int32 // transcriptions done when WarmUp returned
}

func (w *warmingTranscriber) WarmUp(ctx context.Context, opts engine.Options) error {
	w.warmups.Add(1)
	w.warmOptions = opts
	select {
	case <-w.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	w.warmedAt.Store(w.calls.Load())
	return nil
}

// The model warms up before the first take with the takes' options; a take recorded
// meanwhile is not held up and is transcribed once the warm-up is done.
func TestWarmUpBeforeFirstTake(t *testing.T) {
	eng := &warmingTranscriber{release: make(chan struct{})}
	opts := engine.Options{Language: "de", InitialPrompt: "Kubernetes", AudioCtxFloorMS: 10000}
	d := NewDictation(DictationConfig{Mode: ModeHold, Engine: opts}, &fakeRecorder{samples: speechLike()}, eng, &fakeInserter{}, &memHistory{})
	events := runDictation(t, d)

	d.Press(time.Now())
	if d.State() != Recording {
		t.Fatalf("state %v while warming up", d.State())
	}
	d.Release(time.Now())
	waitUntil(t, "the take to queue behind the warm-up", func() bool { return d.queuedJobs() == 1 })
	if n := eng.calls.Load(); n != 0 {
		t.Fatalf("%d transcriptions before the warm-up ended", n)
	}
	close(eng.release)
	for {
		e := <-events
		if e.Kind == EventTake {
			if e.Take.Text == "" {
				t.Fatalf("take %+v", e.Take)
			}
			break
		}
	}
	if eng.warmups.Load() != 1 || eng.warmedAt.Load() != 0 {
		t.Errorf("%d warm-ups, ended after %d transcriptions", eng.warmups.Load(), eng.warmedAt.Load())
	}
	if eng.warmOptions.Language != "de" || eng.warmOptions.InitialPrompt != "Kubernetes" || eng.warmOptions.AudioCtxFloorMS != 10000 {
		t.Errorf("warmed up with %+v", eng.warmOptions)
	}
}

func TestDeviceFailureKeepsTake(t *testing.T) {
	h := newHarness(t, ModeHold)
	h.rec.failIn = 150 * time.Millisecond
	h.d.Press(time.Now())
	var sawError bool
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-h.events:
			if e.Kind == EventError && errors.Is(e.Err, audio.ErrDeviceStopped) {
				sawError = true
			}
			if e.Kind == EventTake {
				if !sawError || e.Take.Text == "" || e.Take.Error == "" {
					t.Fatalf("take %+v, error reported %v", e.Take, sawError)
				}
				if h.d.State() != Idle {
					t.Fatalf("state %v", h.d.State())
				}
				return
			}
		case <-deadline:
			t.Fatal("a failed device did not end the take")
		}
	}
}

func TestInsertFailureKeepsText(t *testing.T) {
	h := newHarness(t, ModeHold)
	h.out.err = errors.New("no focused window")
	h.d.Press(time.Now())
	h.d.Release(time.Now())
	r := h.waitTakes(t, 1)[0]
	if r.Text == "" || r.Inserted != "" || r.Error == "" {
		t.Errorf("record %+v", r)
	}
}

// A microphone that cannot start is reported after the state goes back to idle (so the
// window's last word is the error).
func TestMicrophoneErrorIsReported(t *testing.T) {
	h := newHarness(t, ModeHold)
	h.rec.err = audio.ErrNoInput
	h.d.Press(time.Now())
	var idle bool
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-h.events:
			if e.Kind == EventState && e.State == Idle {
				idle = true
			}
			if e.Kind == EventError {
				if !errors.Is(e.Err, audio.ErrNoInput) || !idle {
					t.Fatalf("error %v, after idle %v", e.Err, idle)
				}
				if h.d.State() != Idle {
					t.Fatalf("state %v", h.d.State())
				}
				return
			}
		case <-deadline:
			t.Fatalf("no error event (idle seen: %v)", idle)
		}
	}
}

// slowRecorder's Start blocks until released, like a microphone being reopened.
type slowRecorder struct {
	fakeRecorder
	entered chan struct{}
	release chan struct{}
}

func (r *slowRecorder) Start(at time.Time) (RecordingTake, error) {
	r.entered <- struct{}{}
	<-r.release
	return r.fakeRecorder.Start(at)
}

// A microphone that takes long to start holds up nobody: the window's button, State and a
// release that comes meanwhile all return at once, and the release stops the take as soon
// as the microphone has started.
func TestSlowMicrophoneStartBlocksNothing(t *testing.T) {
	rec := &slowRecorder{fakeRecorder: fakeRecorder{samples: speechLike()}, entered: make(chan struct{}, 1), release: make(chan struct{})}
	out := &fakeInserter{}
	d := NewDictation(DictationConfig{Mode: ModeHold}, rec, &fakeTranscriber{}, out, &memHistory{})
	events := runDictation(t, d)

	d.Press(time.Now())
	<-rec.entered // the microphone is starting, and stays so until released
	if s := d.State(); s != Recording {
		t.Fatalf("state %v while the microphone starts", s)
	}
	d.Release(time.Now()) // returns although the microphone has not started
	d.Toggle()            // the window's button: a stop, also at once
	close(rec.release)
	for {
		e := <-events
		if e.Kind == EventTake {
			if e.Take.Text == "" {
				t.Fatalf("take %+v", e.Take)
			}
			break
		}
	}
	if got := out.got(); len(got) != 1 {
		t.Fatalf("inserted %q, want one take", got)
	}
	if rec.starts != 1 {
		t.Errorf("%d takes started", rec.starts)
	}
}

// waitUntil polls cond (state the flow exposes no event for) until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// takesWaiting is how many takes have stopped and not yet been transcribed.
func (d *Dictation) takesWaiting() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queued
}

// queuedJobs is how many takes wait to be transcribed.
func (d *Dictation) queuedJobs() int { return len(d.jobs) }

// recordingNow is true once a take's microphone has started.
func (d *Dictation) recordingNow() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.recording != nil
}

// Closing while takes wait keeps them in the history.
func TestShutdownKeepsQueuedTakes(t *testing.T) {
	h := newHarness(t, ModeToggle)
	h.eng.gate = make(chan struct{})
	h.d.Press(time.Now())
	h.d.Press(time.Now()) // stop: transcription blocks on the gate
	waitUntil(t, "the first take to be transcribed", func() bool { return h.eng.active.Load() == 1 })
	h.d.Press(time.Now()) // a second take, queued behind the first
	waitUntil(t, "the second take to record", h.d.recordingNow)
	h.d.Press(time.Now())
	waitUntil(t, "the second take to queue", func() bool { return h.d.queuedJobs() == 1 })
	h.d.Press(time.Now()) // a third, still recording at shutdown
	waitUntil(t, "the third take to record", h.d.recordingNow)
	h.cancel()
	<-h.ran
	h.hist.mu.Lock()
	defer h.hist.mu.Unlock()
	if len(h.hist.recs) != 3 {
		t.Fatalf("history has %d records, want 3: %+v", len(h.hist.recs), h.hist.recs)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"hold": ModeHold, "Toggle": ModeToggle, "auto": ModeAuto} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := ParseMode("sometimes"); err == nil {
		t.Error("bad mode accepted")
	}
}
