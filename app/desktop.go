package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/dictate-app/dictate/app/hotkey"
	"github.com/dictate-app/dictate/app/models"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

// Desktop is what the GUI drives: one model, a dictation session on it that is restarted
// when settings change, file transcription, the model manager and the settings file. It
// has no GUI code; ui/ renders it. It keeps working without a model (first run) or without
// a session (no microphone, hotkey taken): what failed is reported and can be fixed live.
//
// Two locks: ops serialises what replaces the model or the session (loads, restarts, the
// portal's dialog) and is held through that slow work; mu guards the fields and is only
// ever held to read or swap them, so the window's calls never wait for a load. Fields that
// change are written under both.
type Desktop struct {
	base         SessionConfig // what settings do not cover: files, hotkey backend, token cap
	settingsPath string
	manager      *models.Manager
	history      *History
	events       broadcaster
	log          *slog.Logger
	ctx          context.Context
	cancel       context.CancelFunc // ends a session start in progress (Close)
	loaded       chan struct{}      // closed once the first model load has ended

	ops sync.Mutex

	mu        sync.Mutex
	settings  Settings
	notices   []string
	loading   string // the model file being loaded, for Status
	model     *engine.Model
	modelPath string
	fileJobs  map[*engine.Model]*sync.WaitGroup // file transcriptions running on each model
	cfg       SessionConfig                     // of the running session
	sess      *Session
	stopSess  context.CancelFunc
	sessDone  chan struct{}
	startErr  error // why no session runs
	recommend string
}

// DesktopConfig is what the GUI starts from.
type DesktopConfig struct {
	Session      SessionConfig // flags and settings; ModelPath "" when no model is installed
	Settings     Settings
	SettingsPath string
	Manager      *models.Manager
	Notices      []string     // shown once (a settings file that was reset, …)
	Recommended  string       // the model to offer when none is installed
	Log          *slog.Logger // default: discard
}

// OpenDesktop returns at once; the model loads and dictation starts in the background
// (Loaded is closed then). Failures there do not fail it: they are reported by Status and
// as events, and the window offers the fix.
func OpenDesktop(ctx context.Context, c DesktopConfig) (*Desktop, error) {
	hist, err := OpenHistory(c.Session.HistoryPath)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	log := c.Log
	if log == nil {
		log = discardLog
	}
	ctx, cancel := context.WithCancel(ctx)
	d := &Desktop{base: c.Session, settingsPath: c.SettingsPath, manager: c.Manager, history: hist, ctx: ctx, cancel: cancel,
		log: log, loaded: make(chan struct{}), settings: c.Settings, notices: c.Notices, recommend: c.Recommended}
	d.base.Log = log
	if c.Session.ModelPath == "" {
		d.startErr = errors.New("no speech model is installed yet")
		close(d.loaded)
		return d, nil
	}
	d.loading = c.Session.ModelPath
	d.ops.Lock() // taken here, so that whatever comes next waits for the first load
	go func() {
		defer d.ops.Unlock()
		defer close(d.loaded)
		d.firstLoad(d.base)
	}()
	return d, nil
}

// firstLoad loads the model and starts the session (d.ops held).
func (d *Desktop) firstLoad(cfg SessionConfig) {
	m, err := engine.Load(cfg.ModelPath, ModelLoadOptions(cfg.GPU))
	d.mu.Lock()
	d.loading = ""
	if err != nil {
		d.startErr = err
		d.notices = append(d.notices, "Could not load the model: "+err.Error())
	} else {
		d.model, d.modelPath = m, cfg.ModelPath
	}
	d.mu.Unlock()
	if err == nil {
		if err := d.startSession(cfg); err != nil {
			d.setStartErr(err)
			d.events.publish(Event{Kind: EventNotice, Text: "Dictation is not running: " + err.Error() + ". Fix it in Settings."})
		}
	} else {
		d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("could not load the model: %w", err)})
	}
	d.statusChanged()
}

// Loaded is closed once the model given at start has loaded (or failed to).
func (d *Desktop) Loaded() <-chan struct{} { return d.loaded }

// statusChanged tells the window to read Status, NeedsModel and CanDictate again.
func (d *Desktop) statusChanged() { d.events.publish(Event{Kind: EventStatus}) }

func (d *Desktop) setStartErr(err error) {
	d.mu.Lock()
	d.startErr = err
	d.mu.Unlock()
}

// swapModel makes m the model in use and lets go of the old one (d.ops held, no session
// running on the old one). The old one is freed once the file transcriptions running on it
// have finished, without holding a lock meanwhile: a long file neither fails when the model
// is switched nor freezes the app until it ends.
func (d *Desktop) swapModel(m *engine.Model, path string) {
	d.mu.Lock()
	old, jobs := d.model, d.fileJobs[d.model]
	delete(d.fileJobs, old)
	d.model, d.modelPath = m, path
	d.mu.Unlock()
	if old == nil {
		return
	}
	go func() {
		if jobs != nil {
			jobs.Wait()
		}
		old.Close()
	}()
}

// startSession runs a session on the loaded model (d.ops held). The hotkey of a session
// that just ended can take the X server a moment to release, hence the retries.
func (d *Desktop) startSession(cfg SessionConfig) error {
	cfg.model, cfg.ModelPath, cfg.Log = d.model, d.modelPath, d.log
	var sess *Session
	var err error
	for try := 0; try < 5; try++ {
		sess, err = StartSession(d.ctx, cfg)
		if !errors.Is(err, hotkey.ErrTaken) {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-d.ctx.Done():
		}
	}
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(d.ctx)
	done := make(chan struct{})
	events, unsubscribe := sess.Dictation.Subscribe()
	go func() {
		for e := range events {
			d.events.publish(e)
		}
	}()
	go func() {
		defer close(done)
		defer unsubscribe()
		if err := sess.Run(ctx); err != nil {
			d.events.publish(Event{Kind: EventError, Err: err})
		}
	}()
	d.mu.Lock()
	d.sess, d.cfg, d.stopSess, d.sessDone, d.startErr = sess, cfg, cancel, done, nil
	d.mu.Unlock()
	return nil
}

// stopSession ends the running session and waits for it (d.ops held). Takes still being
// transcribed are kept in the history with their audio, as on quit.
func (d *Desktop) stopSession() {
	d.mu.Lock()
	sess, stop, done := d.sess, d.stopSess, d.sessDone
	d.sess = nil
	d.mu.Unlock()
	if sess == nil {
		return
	}
	stop()
	<-done
	d.events.publish(Event{Kind: EventState, State: Idle})
}

// Close stops dictation and frees the model; a load or session start in progress is
// waited for (a portal dialog is cancelled).
func (d *Desktop) Close() {
	d.cancel()
	d.ops.Lock()
	defer d.ops.Unlock()
	d.stopSession()
	d.swapModel(nil, "")
	d.events.closeAll()
}

func (d *Desktop) session() (*Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.sess != nil:
		return d.sess, nil
	case d.loading != "":
		return nil, fmt.Errorf("dictation is not running yet: %s is still loading", filepath.Base(d.loading))
	}
	return nil, fmt.Errorf("dictation is not running: %w", d.startErr)
}

// Toggle starts or stops a take (window button, tray).
func (d *Desktop) Toggle() { d.toggle(false) }

// QuickToggle starts or stops a quick-transcribe take, whose text goes to the clipboard.
func (d *Desktop) QuickToggle() { d.toggle(true) }

func (d *Desktop) toggle(quick bool) {
	s, err := d.session()
	if err != nil {
		d.events.publish(Event{Kind: EventError, Err: err})
		return
	}
	if quick {
		s.Dictation.QuickToggle()
	} else {
		s.Dictation.Toggle()
	}
}

// Subscribe returns the event stream; it outlives session restarts.
func (d *Desktop) Subscribe() (<-chan Event, func()) { return d.events.subscribe(1024) }

// Notices are messages for the user from starting up (shown once).
func (d *Desktop) Notices() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.notices
	d.notices = nil
	return n
}

// History returns the last n takes, oldest first. A history that cannot be read is
// reported as an event; what could be read is returned.
func (d *Desktop) History(n int) []TakeRecord {
	recs, skipped, err := d.history.Load(n)
	switch {
	case err != nil:
		d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("reading the history: %w", err)})
	case skipped > 0:
		d.events.publish(Event{Kind: EventNotice, Text: fmt.Sprintf("%d unreadable lines in %s were skipped", skipped, d.history.Path())})
	}
	return recs
}

// Status names the model, the device and the hotkey, or says why dictation is not running.
func (d *Desktop) Status() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.loading != "":
		return fmt.Sprintf("Loading %s…", filepath.Base(d.loading))
	case d.model == nil:
		return "No model loaded"
	case d.sess == nil:
		return fmt.Sprintf("%s · %s · not listening", filepath.Base(d.modelPath), d.deviceLocked())
	}
	keys := "hotkey " + d.cfg.Hotkey.String()
	if d.sess.HotkeyErr != nil {
		keys = "no hotkey here: bind dictate ctl"
	}
	return fmt.Sprintf("%s · %s · %s · text via %s", filepath.Base(d.modelPath), d.deviceLocked(), keys, d.sess.Output.Name)
}

// Control is what the control socket drives: the running session, whichever it is.
func (d *Desktop) Control() Controlled { return desktopControl{d} }

type desktopControl struct{ d *Desktop }

func (c desktopControl) with(f func(*Dictation)) {
	if s, err := c.d.session(); err == nil {
		f(s.Dictation)
	} else {
		c.d.events.publish(Event{Kind: EventError, Err: err})
	}
}

func (c desktopControl) Press(at time.Time)   { c.with(func(d *Dictation) { d.Press(at) }) }
func (c desktopControl) Release(at time.Time) { c.with(func(d *Dictation) { d.Release(at) }) }
func (c desktopControl) Toggle()              { c.d.Toggle() }
func (c desktopControl) Cancel()              { c.with((*Dictation).Cancel) }
func (c desktopControl) Status() string {
	state := Idle
	if s, err := c.d.session(); err == nil {
		state = s.Dictation.State()
	}
	return state.String() + " · " + c.d.Status()
}

// deviceLocked names the compute device, with the thread count on a CPU (d.mu held).
func (d *Desktop) deviceLocked() string {
	dev := d.model.Device()
	if !d.model.OnGPU() {
		threads := d.cfg.Engine.Threads
		if threads <= 0 {
			threads = engine.DefaultThreads()
		}
		dev = fmt.Sprintf("%s, %d threads", dev, threads)
	}
	return dev
}

// NeedsModel is true when no model is loaded nor loading; the window then offers Recommended.
func (d *Desktop) NeedsModel() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.model == nil && d.loading == ""
}

// CanDictate is true while a session runs (the window's Start button is enabled then).
func (d *Desktop) CanDictate() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sess != nil
}

// TranscribeFile transcribes an audio file with the loaded model.
func (d *Desktop) TranscribeFile(ctx context.Context, path string, progress func(float64)) (Transcript, error) {
	d.mu.Lock()
	m, name, opts := d.model, d.modelPath, d.cfg.Engine
	if d.sess == nil {
		opts = d.base.Engine
	}
	if m == nil {
		loading := d.loading != ""
		d.mu.Unlock()
		if loading {
			return Transcript{}, errors.New("the model is still loading: try again in a moment")
		}
		return Transcript{}, errors.New("no model loaded: download or choose one first")
	}
	if d.fileJobs == nil {
		d.fileJobs = map[*engine.Model]*sync.WaitGroup{}
	}
	jobs := d.fileJobs[m]
	if jobs == nil {
		jobs = &sync.WaitGroup{}
		d.fileJobs[m] = jobs
	}
	jobs.Add(1)
	d.mu.Unlock()
	defer jobs.Done()
	tr, err := TranscribeFile(ctx, m, path, opts, func(p FileProgress) {
		if progress != nil && p.Fraction >= 0 {
			progress(p.Fraction)
		}
	})
	tr.Model = name
	return tr, err
}

// CopyText puts text on the clipboard.
func (d *Desktop) CopyText(text string) error { return copyText(context.Background(), text) }

// InsertText types or pastes text into the focused window, as a take would be.
func (d *Desktop) InsertText(text string) error {
	s, err := d.session()
	if err != nil {
		return err
	}
	return s.out.Insert(d.ctx, text)
}

// Settings returns the settings in use.
func (d *Desktop) Settings() Settings {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settings
}

// ApplySettings validates s, applies it to the running dictation and saves it. What needs a
// new microphone, hotkey or output restarts the session; the rest applies from the next
// take. If the new session cannot start, or the model cannot be loaded on the new device,
// the old session goes on and nothing is saved. It can take seconds: call it off the UI
// thread.
func (d *Desktop) ApplySettings(s Settings) error {
	d.ops.Lock()
	defer d.ops.Unlock()
	defer d.statusChanged()
	d.mu.Lock()
	cfg, err := d.sessionConfigLocked(s)
	old, oldSettings, model, path, running := d.cfg, d.settings, d.model, d.modelPath, d.sess
	d.mu.Unlock()
	if err != nil {
		return err
	}
	switch {
	case model == nil:
		// Nothing runs yet; the settings apply when a model is chosen.
	case cfg.GPU != d.base.GPU:
		// Load on the new device first: if that fails, the running session is untouched.
		next, err := engine.Load(path, ModelLoadOptions(cfg.GPU))
		if err != nil {
			return fmt.Errorf("could not reload the model for the new device (%w); dictation goes on as before", err)
		}
		d.stopSession()
		d.swapModel(next, path)
		d.mu.Lock()
		d.base.GPU = cfg.GPU
		d.mu.Unlock()
		if err := d.restart(cfg, old, running != nil); err != nil {
			return err
		}
	case running == nil || needsRestart(old, cfg):
		if err := d.restart(cfg, old, running != nil); err != nil {
			return err
		}
	default:
		running.Dictation.Reconfigure(cfg)
		running.Sounds.Store(cfg.Sounds)
		d.mu.Lock()
		d.cfg = cfg
		d.cfg.model, d.cfg.ModelPath, d.cfg.Log = d.model, d.modelPath, d.log
		d.mu.Unlock()
	}
	d.mu.Lock()
	d.base.Engine = cfg.Engine
	d.mu.Unlock()
	if err := SaveSettings(d.settingsPath, s); err != nil {
		return fmt.Errorf("applied, but not saved: %w", err)
	}
	d.mu.Lock()
	d.settings = s
	d.mu.Unlock()
	if s.LaunchAtLogin != oldSettings.LaunchAtLogin {
		if err := SetLaunchAtLogin(s.LaunchAtLogin); err != nil {
			return fmt.Errorf("launch at login: %w", err)
		}
	}
	return nil
}

// restart replaces the session (d.ops held); on failure it puts the old one back.
func (d *Desktop) restart(cfg, old SessionConfig, hadSession bool) error {
	d.stopSession()
	err := d.startSession(cfg)
	if err == nil {
		return nil
	}
	if hadSession {
		if rerr := d.startSession(old); rerr != nil {
			d.setStartErr(rerr)
		}
	} else {
		d.setStartErr(err)
	}
	return err
}

// needsRestart says whether going from a to b needs a new microphone, hotkey or output.
func needsRestart(a, b SessionConfig) bool {
	return a.Hotkey != b.Hotkey || a.Device != b.Device || a.Output != b.Output || a.Inserter != b.Inserter || a.PasteChord != b.PasteChord ||
		!slices.Equal(a.TerminalClasses, b.TerminalClasses) || a.Tail != b.Tail || a.InstantStart != b.InstantStart
}

// ModelChoice is one installed model for the model menus.
type ModelChoice struct {
	Name    string
	Size    string
	Current bool
}

// Models lists the installed models, marking the one in use.
func (d *Desktop) Models() ([]ModelChoice, error) {
	inst, err := d.manager.List()
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	current := d.modelPath
	if d.loading != "" {
		current = d.loading
	}
	d.mu.Unlock()
	var out []ModelChoice
	for _, m := range inst {
		out = append(out, ModelChoice{Name: m.Name, Size: models.HumanBytes(m.Size), Current: sameFile(m.Path, current)})
	}
	return out, nil
}

func sameFile(a, b string) bool {
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// MakeFasterCopy converts an installed f16/f32 model to q8_0 next to it (about half the
// size, and on a CPU about twice as fast to encode) and returns the new model's name. The
// model in use is not switched: the user picks the copy like any other model.
func (d *Desktop) MakeFasterCopy(ctx context.Context, name string, progress func(float64)) (string, error) {
	inst, err := d.manager.Quantize(ctx, name, engine.Q8_0, progress)
	if err != nil {
		return "", err
	}
	return inst.Name, nil
}

// UseModel switches to an installed model and makes it the default. The old model keeps
// serving until the new one has loaded, and files being transcribed finish on it. It can
// take seconds: call it off the UI thread.
func (d *Desktop) UseModel(name string) error {
	inst, err := d.manager.Get(name)
	if err != nil {
		return err
	}
	d.ops.Lock()
	defer d.ops.Unlock()
	defer d.statusChanged()
	d.mu.Lock()
	d.loading = inst.Path
	gpu := d.base.GPU
	d.mu.Unlock()
	d.statusChanged()
	next, err := engine.Load(inst.Path, ModelLoadOptions(gpu))
	d.mu.Lock()
	d.loading = ""
	cfg := d.cfg
	if d.sess == nil {
		var cerr error
		if cfg, cerr = d.sessionConfigLocked(d.settings); cerr != nil {
			cfg = d.base
		}
	}
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("model %s: %w", name, err)
	}
	d.stopSession()
	d.swapModel(next, inst.Path)
	if err := d.manager.SetDefault(name); err != nil {
		d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("could not make %s the default: %w", name, err)})
	}
	if err := d.startSession(cfg); err != nil {
		d.setStartErr(err)
		return fmt.Errorf("model %s loaded, but dictation did not start: %w", name, err)
	}
	return nil
}

// sessionConfigLocked is the session s describes, with what settings do not cover taken
// from the start-up flags (d.mu held).
func (d *Desktop) sessionConfigLocked(s Settings) (SessionConfig, error) {
	cfg, err := s.SessionConfig("")
	if err != nil {
		return cfg, err
	}
	cfg.HotkeyBackend, cfg.HistoryPath, cfg.RecordingsDir = d.base.HotkeyBackend, d.base.HistoryPath, d.base.RecordingsDir
	cfg.Engine.MaxTokens = d.base.Engine.MaxTokens
	return cfg, nil
}

// Recommended is the model offered when none is installed, with its download size.
func (d *Desktop) Recommended() (name, size string) {
	e, err := models.Find(d.manager.Entries, d.recommend)
	if err != nil {
		return d.recommend, ""
	}
	return e.Name, models.HumanBytes(e.Size)
}

// DownloadModel downloads a catalog model (resuming a partial one), then uses it.
func (d *Desktop) DownloadModel(ctx context.Context, name string, progress func(models.Progress)) error {
	if _, err := d.manager.Download(ctx, name, progress); err != nil {
		return err
	}
	return d.UseModel(name)
}

// InputDevices names the microphones, the system default first.
func (d *Desktop) InputDevices() ([]string, error) {
	devs, err := audio.InputDevices()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, dev := range devs {
		if dev.Default {
			names = append([]string{dev.Name}, names...)
		} else {
			names = append(names, dev.Name)
		}
	}
	return names, nil
}

// TestDevice opens a microphone ("" for the default) and reports its level until ctx ends,
// so the Settings screen can show a meter before the device is chosen.
func (d *Desktop) TestDevice(ctx context.Context, name string, level func(rms float32)) error {
	mic, err := audio.OpenMicrophone(audio.CaptureConfig{Device: name, OnLevel: level})
	if err != nil {
		return err
	}
	defer mic.Close()
	take, err := mic.Start(time.Time{})
	if err != nil {
		return err
	}
	<-ctx.Done()
	take.Stop()
	return nil
}
