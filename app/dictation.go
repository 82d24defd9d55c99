package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dictate-app/dictate/app/textout"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

// Mode is how the hotkey drives recording.
type Mode int

const (
	ModeHold   Mode = iota // press starts, release stops (push-to-talk)
	ModeToggle             // press starts, the next press stops
	ModeAuto               // a tap (< TapThreshold) toggles, a hold is push-to-talk
)

// ParseMode reads "hold", "toggle" or "auto".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "hold", "ptt", "push-to-talk":
		return ModeHold, nil
	case "toggle":
		return ModeToggle, nil
	case "auto", "tap-or-hold":
		return ModeAuto, nil
	}
	return 0, fmt.Errorf("unknown mode %q (want hold, toggle or auto)", s)
}

func (m Mode) String() string { return [...]string{"hold", "toggle", "auto"}[m] }

// Recorder starts microphone takes.
type Recorder interface {
	// Start begins a take for a press at the time at (its pre-roll counts back from it).
	Start(at time.Time) (RecordingTake, error)
}

// RecordingTake is a take in progress.
type RecordingTake interface {
	Stop() audio.TakeAudio // records the tail, then returns the audio
	Failed() error         // non-nil once the device has failed
}

// warmer is a Transcriber that can prepare for takes before the first one (engine.Model
// builds its GPU kernels).
type warmer interface {
	WarmUp(ctx context.Context, opts engine.Options) error
}

// Inserter puts text where the user works.
type Inserter interface {
	Insert(ctx context.Context, text string) error
	Name() string
}

// HistoryStore keeps take records.
type HistoryStore interface {
	Append(TakeRecord) error
}

// DictationConfig tunes the flow.
type DictationConfig struct {
	Mode              Mode
	TapThreshold      time.Duration // auto mode; default 300 ms
	Engine            engine.Options
	Gate              audio.GateConfig
	NoSpeechThreshold float32 // segments more likely silence than this are dropped; default 0.6
	Replacements      []Replacement
	Model, Device     string // recorded with each take
	Inserter          string // the text output backend, recorded with each take
	KeepRecordings    int    // spooled takes kept on disk (default 50); needs RecordingsDir
	RecordingsDir     string
	// Clipboard receives quick-transcribe takes (QuickToggle) instead of the focused window.
	Clipboard func(ctx context.Context, text string) error
	// Live transcribes while the take records (LivePolicy): words commit as passes agree,
	// EventLive shows them, and release only waits for the audio after the last commit.
	Live bool
	// LivePrompt prompts each live pass with the text committed before it, as
	// whisper_streaming does (LivePolicy.PromptRunes).
	LivePrompt bool
	// LiveType types committed words as they commit (append-only: a word typed stays),
	// and at release only the rest. HeldKeyBlocksTyping says keys typed while the hotkey
	// is held would not arrive as typed (hotkey.Spec.BlocksTypingWhileHeld): then a held
	// take's words wait for release, and a toggled one's are typed as they commit.
	LiveType            bool
	HeldKeyBlocksTyping bool
	Log                 *slog.Logger // default: discard
}

type takeJob struct {
	quick     bool // the text goes to the clipboard
	cancelled bool // kept, not transcribed (Cancel)
	audio     audio.TakeAudio
	keyDown   time.Time
	keyUp     time.Time
	stoppedAt time.Time
	live      *liveRun // commit-while-speaking's state; finished by whoever takes the job
}

// Dictation is the hotkey → microphone → engine → text flow. Press and Release come from
// the hotkey (any goroutine); takes are transcribed one at a time in order by Run, so a new
// take while one is transcribing is queued, never overlapped.
type Dictation struct {
	cfg    DictationConfig
	rec    Recorder
	eng    Transcriber
	out    Inserter
	hist   HistoryStore
	events broadcaster
	log    *slog.Logger

	mu             sync.Mutex
	recording      RecordingTake
	starting       bool      // the microphone is being started (outside d.mu)
	stopRequested  bool      // stop asked for while starting: stop as soon as it has
	stopAt         time.Time // when that stop was asked for
	keyDown        time.Time
	latched        bool // auto mode: a tap started a take that the next press ends
	quick          bool // the take being recorded goes to the clipboard
	cancelled      bool // the take being recorded was cancelled
	ignoreRelease  bool
	stopping       int
	startAfterStop bool
	pendingDown    time.Time
	worker         State
	published      State
	queued         int
	live           *liveRun        // the recording take's live transcription
	held           bool            // the hotkey is down (Press came, Release not yet)
	runCtx         context.Context // Run's, for live passes

	jobs     chan takeJob
	done     chan struct{}
	insertMu sync.Mutex // one insertion at a time: live typing and takes, in order
	joiner   Joiner     // under insertMu
	bg       sync.WaitGroup
}

// NewDictation wires the flow; call Run to process takes.
func NewDictation(cfg DictationConfig, rec Recorder, eng Transcriber, out Inserter, hist HistoryStore) *Dictation {
	if cfg.TapThreshold == 0 {
		cfg.TapThreshold = 300 * time.Millisecond
	}
	if cfg.NoSpeechThreshold == 0 {
		cfg.NoSpeechThreshold = 0.6
	}
	if cfg.KeepRecordings == 0 {
		cfg.KeepRecordings = 50
	}
	if cfg.Log == nil {
		cfg.Log = discardLog
	}
	return &Dictation{cfg: cfg, rec: rec, eng: eng, out: out, hist: hist, log: cfg.Log,
		jobs: make(chan takeJob, 256), done: make(chan struct{})}
}

// Subscribe returns the event stream; call the func to stop listening.
func (d *Dictation) Subscribe() (<-chan Event, func()) { return d.events.subscribe(1024) }

// State is the flow's current state.
func (d *Dictation) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.overall()
}

func (d *Dictation) overall() State {
	if d.recording != nil || d.starting {
		return Recording
	}
	return d.worker
}

// active is true while a take is recording or its microphone starting (d.mu held).
func (d *Dictation) active() bool { return d.recording != nil || d.starting }

// publishState sends the overall state when it changed (d.mu held).
func (d *Dictation) publishState() {
	if s := d.overall(); s != d.published {
		d.published = s
		d.events.publish(Event{Kind: EventState, State: s})
	}
}

// OnLevel feeds microphone levels into the event stream (wire it to the capture config).
func (d *Dictation) OnLevel(rms float32) { d.events.publish(Event{Kind: EventLevel, Level: rms}) }

// OnDevice tells the user of the microphone going away and coming back (wire it to the
// capture config, which reopens it by itself).
func (d *Dictation) OnDevice(s audio.DeviceStatus) {
	if s.Lost {
		d.events.publish(Event{Kind: EventNotice, Text: fmt.Sprintf("The microphone stopped (%v); reconnecting…", s.Err)})
		return
	}
	d.events.publish(Event{Kind: EventNotice, Text: "The microphone is back."})
}

// Press handles a hotkey key-down at time at.
func (d *Dictation) Press(at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.held = true
	switch {
	case d.active() && (d.cfg.Mode == ModeToggle || (d.cfg.Mode == ModeAuto && d.latched)):
		d.ignoreRelease = true
		d.stop(at)
	case d.active():
		// Hold mode: a second key-down without a release (lost event); keep recording.
	case d.stopping > 0:
		// The last take is still recording its tail: start right after it.
		d.startAfterStop, d.pendingDown = true, at
	default:
		d.ignoreRelease = false
		d.start(at)
	}
}

// Release handles a hotkey key-up at time at.
func (d *Dictation) Release(at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.held = false
	if d.ignoreRelease {
		d.ignoreRelease = false
		return
	}
	if d.startAfterStop && d.cfg.Mode == ModeHold {
		d.startAfterStop = false // pressed and released within the tail: nothing to record
		return
	}
	if !d.active() || d.cfg.Mode == ModeToggle {
		return
	}
	if d.cfg.Mode == ModeAuto && !d.latched && at.Sub(d.keyDown) < d.cfg.TapThreshold {
		d.latched = true
		d.events.publish(Event{Kind: EventNotice, Text: "recording: press the hotkey again to stop"})
		return
	}
	if d.cfg.Mode == ModeAuto && d.latched {
		return
	}
	d.stop(at)
}

// Toggle starts or stops a take whatever the mode (tray and window buttons).
func (d *Dictation) Toggle() { d.toggle(false) }

// QuickToggle starts or stops a quick-transcribe take: its text goes to the clipboard
// (DictationConfig.Clipboard), not into a window. Stopping works whichever way it started.
func (d *Dictation) QuickToggle() { d.toggle(true) }

func (d *Dictation) toggle(quick bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	if d.active() {
		d.stop(now)
	} else if d.stopping == 0 {
		d.start(now)
		d.quick = quick && d.starting
	}
}

// Cancel ends the take being recorded without transcribing it (its audio and a record
// saying so are kept).
func (d *Dictation) Cancel() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.active() {
		d.cancelled, d.ignoreRelease = true, true
		d.stop(time.Now())
	}
}

// Reconfigure changes what applies from the next take on: the settings that need no new
// microphone, hotkey or model (mode, engine options, replacements, live text).
func (d *Dictation) Reconfigure(cfg SessionConfig) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cfg.Mode, d.cfg.Engine, d.cfg.Replacements = cfg.Mode, cfg.Engine, cfg.Replacements
	d.cfg.Live, d.cfg.LivePrompt, d.cfg.LiveType = cfg.LiveCommit, cfg.LivePrompt, cfg.LiveType
}

// typingBlocked: live's take has stopped (the worker types the rest), or the hotkey, held
// down now, would modify keys typed (d.mu not held).
func (d *Dictation) typingBlocked(live *liveRun) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.live != live || d.held && d.cfg.HeldKeyBlocksTyping
}

// insert joins text to what was inserted before and types (or pastes) it. Live typing
// and finished takes both insert through here, one at a time.
func (d *Dictation) insert(ctx context.Context, text string) (string, error) {
	d.insertMu.Lock()
	defer d.insertMu.Unlock()
	inserted := d.joiner.Join(text, time.Now())
	return inserted, d.out.Insert(ctx, inserted)
}

func (d *Dictation) config() DictationConfig {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// start starts a take (d.mu held). The microphone starts outside the lock: it can take
// seconds (a first stream, a device being reopened), and whoever waits on d.mu (the window's
// button, the hotkey) must not wait for it. A stop asked for meanwhile applies once it has.
func (d *Dictation) start(at time.Time) {
	select {
	case <-d.done:
		return
	default:
	}
	d.starting, d.stopRequested, d.keyDown, d.latched, d.quick, d.cancelled = true, false, at, false, false, false
	d.publishState()
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		take, err := d.rec.Start(at)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.starting = false
		if err != nil {
			d.stopRequested = false
			d.publishState()
			d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("microphone: %w", err)})
			return
		}
		d.recording = take
		d.live = d.startLive(take, d.quick)
		d.bg.Add(1)
		go d.watchDevice(take)
		if d.stopRequested {
			d.stopRequested = false
			d.stop(d.stopAt)
		}
	}()
}

// watchDevice ends a take early when its microphone fails; the audio so far is kept.
func (d *Dictation) watchDevice(take RecordingTake) {
	defer d.bg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-d.done:
			return
		case <-tick.C:
		}
		d.mu.Lock()
		if d.recording != take {
			d.mu.Unlock()
			return
		}
		if err := take.Failed(); err != nil {
			d.stop(time.Now())
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
	}
}

// stop ends the current take (d.mu held); its tail records in the background. A take whose
// microphone is still starting stops as soon as it has started.
func (d *Dictation) stop(at time.Time) {
	if d.starting {
		d.stopRequested, d.stopAt = true, at
		return
	}
	take, keyDown, quick, cancelled, live := d.recording, d.keyDown, d.quick, d.cancelled, d.live
	d.recording, d.cancelled, d.live = nil, false, nil
	if live != nil {
		live.cancel() // no pass starts during the tail; the worker's final pass reads it all
	}
	d.stopping++
	if d.worker == Idle {
		d.worker = Transcribing
	}
	d.publishState()
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		a := take.Stop()
		job := takeJob{quick: quick, cancelled: cancelled, audio: a, keyDown: keyDown, keyUp: at, stoppedAt: time.Now(), live: live}
		d.mu.Lock()
		d.stopping--
		if d.startAfterStop {
			d.startAfterStop = false
			d.start(d.pendingDown)
		}
		d.queued++
		if d.queued > 1 {
			d.events.publish(Event{Kind: EventNotice, Text: fmt.Sprintf("take queued: %d waiting to be transcribed", d.queued-1)})
		}
		d.mu.Unlock()
		select {
		case d.jobs <- job:
		case <-d.done:
			d.saveUnprocessed(job)
		}
	}()
}

// Run transcribes queued takes until ctx ends. Then the take being recorded is stopped and
// every take not yet transcribed is still recorded in the history with its audio file.
func (d *Dictation) Run(ctx context.Context) error {
	defer d.events.closeAll()
	d.mu.Lock()
	d.runCtx = ctx
	d.mu.Unlock()
	if w, ok := d.eng.(warmer); ok {
		// A take recorded meanwhile waits in d.jobs; recording itself is not held up.
		if err := w.WarmUp(ctx, d.config().Engine); err != nil && ctx.Err() == nil {
			d.log.Warn("warming the model up failed; the first take may be slower", "err", err)
		}
	}
	for {
		select {
		case job := <-d.jobs:
			d.process(ctx, job)
		case <-ctx.Done():
			d.shutdown()
			return ctx.Err()
		}
	}
}

// shutdown stops the current take, lets tails finish and keeps every take not transcribed.
func (d *Dictation) shutdown() {
	d.mu.Lock()
	if d.active() {
		d.stop(time.Now())
	}
	d.mu.Unlock()
	finished := make(chan struct{})
	go func() { d.bg.Wait(); close(finished) }()
	timeout := time.After(5 * time.Second)
wait:
	for {
		select {
		case job := <-d.jobs:
			d.saveUnprocessed(job)
		case <-finished:
			break wait
		case <-timeout:
			break wait
		}
	}
	close(d.done)
	for {
		select {
		case job := <-d.jobs:
			d.saveUnprocessed(job)
		default:
			return
		}
	}
}

// saveUnprocessed keeps a take that was not transcribed (at shutdown): its record, with
// the audio file, goes to the history.
func (d *Dictation) saveUnprocessed(job takeJob) {
	if job.live != nil {
		job.live.finish()
	}
	rec := d.baseRecord(job)
	rec.Error = "not transcribed: the app was closing"
	if d.hist == nil {
		return
	}
	if err := d.hist.Append(rec); err != nil {
		d.log.Error("a take could not be kept in the history", "audio", rec.AudioPath, "err", err)
		d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("history: %w (the audio is in %s)", err, rec.AudioPath)})
	}
}

func (d *Dictation) baseRecord(job takeJob) TakeRecord {
	a := job.audio
	cfg := d.config()
	rec := TakeRecord{Time: a.StartedAt, Audio: a.Duration.Seconds(), Model: cfg.Model, Device: cfg.Device, AudioPath: a.Path}
	switch {
	case job.quick:
		rec.Output = "clipboard"
	case d.out != nil:
		rec.Output, rec.Inserter = d.out.Name(), cfg.Inserter
	}
	if !a.FirstSampleAt.IsZero() && !job.keyDown.IsZero() {
		rec.Latency.KeyDownToFirstSample = Millis(max(0, a.FirstSampleAt.Sub(job.keyDown)))
	}
	rec.Latency.Tail = Millis(job.stoppedAt.Sub(job.keyUp))
	rec.Latency.PreRoll = Millis(a.PreRoll)
	rec.DroppedBlocks = a.DroppedBlocks
	return rec
}

// Millis is d in milliseconds to the microsecond, as take records and benchmarks give times.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (d *Dictation) setWorker(s State) {
	d.mu.Lock()
	d.worker = s
	d.publishState()
	d.mu.Unlock()
}

// process transcribes and delivers one take. The worker is idle again before the take is
// published, so whoever reacts to the take sees the state that follows it.
func (d *Dictation) process(ctx context.Context, job takeJob) {
	d.setWorker(Transcribing)
	rec := d.deliver(ctx, job)
	d.keep(rec)
	d.mu.Lock()
	d.queued--
	d.worker = Idle
	d.publishState()
	d.mu.Unlock()
	d.events.publish(Event{Kind: EventTake, Take: &rec})
}

// deliver transcribes a take and inserts (or copies) its text, returning its record.
func (d *Dictation) deliver(ctx context.Context, job takeJob) TakeRecord {
	cfg := d.config()
	rec := d.baseRecord(job)
	a := job.audio
	if a.Err != nil {
		rec.Error = a.Err.Error()
		d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("microphone: %w (the %.1f s recorded are kept)", a.Err, a.Duration.Seconds())})
	}

	if job.cancelled {
		if job.live != nil {
			job.live.finish()
		}
		rec.Dropped = "cancelled"
		return rec
	}
	var res engine.Result
	var err error
	var evidence SpeechEvidence
	liveText := ""
	typedLive := job.live // words it typed while speaking stay typed
	gateStart := time.Now()
	switch {
	case a.Truncated && a.Path != "":
		if job.live != nil {
			job.live.finish()
			job.live = nil // its passes saw only what memory kept
		}
		// Longer than what is kept in memory: stream the spooled file. Ten minutes of it are
		// evidence enough of speech.
		var tr Transcript
		tr, err = TranscribeFile(ctx, d.eng, a.Path, cfg.Engine, nil)
		res = engine.Result{Segments: tr.Segments, Language: tr.Language, Device: tr.Device}
		evidence = SpeechEvidence{Voiced: a.Duration, PeakOverFloorDB: 100}
	default:
		g := audio.Gate(a.Samples, cfg.Gate)
		rec.Latency.Gate = Millis(time.Since(gateStart))
		if job.live != nil {
			// Most of the take is committed: one pass on what came after the last commit.
			liveText, res, err = job.live.finalText(ctx, a.Samples)
			rec.Commits, rec.LivePasses = job.live.commits, job.live.passes
			if !g.Speech && liveText == "" {
				rec.Dropped = "silence"
				return rec
			}
		} else {
			if !g.Speech {
				rec.Dropped = "silence"
				return rec
			}
			res, err = d.eng.Transcribe(ctx, a.Samples[g.Start:g.End], cfg.Engine)
		}
		evidence = SpeechEvidence{Voiced: g.SpeechTime, PeakOverFloorDB: g.PeakDB - g.NoiseFloorDB}
	}
	rec.Latency.Encode, rec.Latency.Decode = Millis(res.Timings.Encode), Millis(res.Timings.Decode+res.Timings.Mel)
	if res.Device != "" {
		rec.Device = res.Device
	}
	if err != nil {
		rec.Error = strings.TrimSpace(rec.Error + " transcription: " + err.Error())
		d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("transcription failed: %w (audio kept in %s)", err, a.Path)})
		return rec
	}
	var parts []string
	if liveText != "" {
		parts = append(parts, liveText)
	}
	for _, s := range speechSegments(res.Segments, cfg.NoSpeechThreshold) {
		if job.live == nil { // live: the final pass's words are in liveText
			parts = append(parts, s.Text)
		}
		evidence.NoSpeechProb = max(evidence.NoSpeechProb, s.NoSpeechProb)
	}
	if len(parts) == 0 {
		rec.Dropped = "no-speech"
		return rec
	}
	whole := strings.Join(parts, " ")
	text, drop := FilterHallucinations(whole, res.Language, evidence)
	// Words typed while speaking cannot be taken back: their take is kept whole.
	typed := ""
	if typedLive != nil && typedLive.typed > 0 {
		typed, text, drop = typedLive.typedText, whole, false
		rec.LiveTyped = typed
	}
	if drop {
		rec.Dropped = "hallucination"
		return rec
	}
	text = ApplyReplacements(text, cfg.Replacements)
	rec.Text = text
	rest := text
	switch {
	case typed != "" && job.live == nil:
		// Too long to keep in memory, so transcribed again from its file: its text is in
		// the history, and what was typed stays.
		rest = ""
		d.events.publish(Event{Kind: EventNotice, Text: "This take was too long to type the rest; all of it is in the history."})
	case typed != "":
		rest = job.live.untyped(cfg.Replacements)
	}

	d.setWorker(Inserting)
	insertStart := time.Now()
	if job.quick {
		if err := d.toClipboard(ctx, cfg, text); err != nil {
			rec.Error = "clipboard: " + err.Error()
			d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("could not copy the text (it is in the history): %w", err)})
		} else {
			rec.Inserted = text
		}
	} else if rest == "" {
		rec.Inserted = typed // every word was typed while speaking
	} else if inserted, err := d.insert(ctx, rest); errors.Is(err, textout.ErrCopiedOnly) {
		// Nothing can type here: the text is on the clipboard, and the user is told why.
		rec.Output, rec.Inserted, rec.Error = "clipboard", rest, err.Error()
		d.events.publish(Event{Kind: EventNotice, Text: "Copied to the clipboard, paste it with Ctrl+V: " + err.Error()})
	} else if err != nil {
		rec.Inserted = typed
		rec.Error = "insert: " + err.Error()
		d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("could not insert the text (it is in the history: dictate history copy-last): %w", err)})
	} else {
		rec.Inserted = typed + inserted
	}
	now := time.Now()
	rec.Latency.Insert = Millis(now.Sub(insertStart))
	rec.Latency.KeyUpToText = Millis(now.Sub(job.keyUp))
	return rec
}

func (d *Dictation) toClipboard(ctx context.Context, cfg DictationConfig, text string) error {
	if cfg.Clipboard == nil {
		return errors.New("no clipboard in this session")
	}
	return cfg.Clipboard(ctx, text)
}

// keep appends the take to the history and prunes old take files.
func (d *Dictation) keep(rec TakeRecord) {
	if d.hist != nil {
		if err := d.hist.Append(rec); err != nil {
			d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("history: %w", err)})
		}
	}
	if d.cfg.RecordingsDir != "" {
		pruneRecordings(d.cfg.RecordingsDir, d.cfg.KeepRecordings)
	}
}

// pruneRecordings keeps the newest keep take files.
func pruneRecordings(dir string, keep int) {
	files, _ := filepath.Glob(filepath.Join(dir, "take-*.wav"))
	if len(files) <= keep {
		return
	}
	sort.Strings(files) // names start with the time
	for _, f := range files[:len(files)-keep] {
		os.Remove(f)
	}
}

// micRecorder adapts the audio package's microphone to Recorder.
type micRecorder struct{ mic *audio.Microphone }

// NewMicRecorder records takes from mic.
func NewMicRecorder(mic *audio.Microphone) Recorder { return micRecorder{mic} }

func (m micRecorder) Start(at time.Time) (RecordingTake, error) {
	t, err := m.mic.Start(at)
	if err != nil {
		return nil, err
	}
	return t, nil
}
