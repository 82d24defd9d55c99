package app

import (
	"context"
	"errors"
	"fmt"
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
type Desktop struct {
	base         SessionConfig // what settings do not cover: files, hotkey backend, token cap
	settingsPath string
	manager      *models.Manager
	history      *History
	events       broadcaster
	ctx          context.Context

	mu        sync.Mutex
	settings  Settings
	notices   []string
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
	Notices      []string // shown once (a settings file that was reset, …)
	Recommended  string   // the model to offer when none is installed
}

// OpenDesktop loads the model and starts dictation. Failures there do not fail it: they
// are reported by Status and as events, and the window offers the fix.
func OpenDesktop(ctx context.Context, c DesktopConfig) (*Desktop, error) {
	hist, err := OpenHistory(c.Session.HistoryPath)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	d := &Desktop{base: c.Session, settingsPath: c.SettingsPath, manager: c.Manager, history: hist, ctx: ctx,
		settings: c.Settings, notices: c.Notices, recommend: c.Recommended}
	if c.Session.ModelPath == "" {
		d.startErr = errors.New("no speech model is installed yet")
		return d, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.loadModel(c.Session.ModelPath, c.Session.GPU); err != nil {
		d.startErr = err
		d.notices = append(d.notices, "Could not load the model: "+err.Error())
		return d, nil
	}
	d.startErr = d.startSession(c.Session)
	if d.startErr != nil {
		d.notices = append(d.notices, "Dictation is not running: "+d.startErr.Error()+". Fix it in Settings.")
	}
	return d, nil
}

// loadModel replaces the model (d.mu held, no session running on the old one).
func (d *Desktop) loadModel(path string, gpu bool) error {
	m, err := engine.Load(path, loadOptions(gpu))
	if err != nil {
		return err
	}
	d.retireModelLocked()
	d.model, d.modelPath = m, path
	return nil
}

// retireModelLocked lets go of the current model (d.mu held). It is freed once the file
// transcriptions running on it have finished, without holding d.mu meanwhile: a long file
// neither fails when the model is switched nor freezes the app until it ends.
func (d *Desktop) retireModelLocked() {
	m, jobs := d.model, d.fileJobs[d.model]
	if m == nil {
		return
	}
	delete(d.fileJobs, m)
	d.model = nil
	go func() {
		if jobs != nil {
			jobs.Wait()
		}
		m.Close()
	}()
}

// startSession runs a session on the loaded model (d.mu held). The hotkey of a session
// that just ended can take the X server a moment to release, hence the retries.
func (d *Desktop) startSession(cfg SessionConfig) error {
	cfg.model, cfg.ModelPath = d.model, d.modelPath
	var sess *Session
	var err error
	for try := 0; try < 5; try++ {
		sess, err = StartSession(d.ctx, cfg)
		if !errors.Is(err, hotkey.ErrTaken) {
			break
		}
		time.Sleep(100 * time.Millisecond)
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
	d.sess, d.cfg, d.stopSess, d.sessDone, d.startErr = sess, cfg, cancel, done, nil
	return nil
}

// stopSession ends the running session and waits for it (d.mu held). Takes still being
// transcribed are kept in the history with their audio, as on quit.
func (d *Desktop) stopSession() {
	if d.sess == nil {
		return
	}
	d.stopSess()
	<-d.sessDone
	d.sess = nil
	d.events.publish(Event{Kind: EventState, State: Idle})
}

// Close stops dictation and frees the model.
func (d *Desktop) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopSession()
	if d.model != nil {
		d.model.Close()
		d.model = nil
	}
	d.events.closeAll()
}

func (d *Desktop) session() (*Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess == nil {
		return nil, fmt.Errorf("dictation is not running: %w", d.startErr)
	}
	return d.sess, nil
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

// History returns the last n takes, oldest first.
func (d *Desktop) History(n int) []TakeRecord {
	recs, _, _ := d.history.Load(n)
	return recs
}

// Status names the model, the device and the hotkey, or says why dictation is not running.
func (d *Desktop) Status() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.model == nil:
		return "No model loaded"
	case d.sess == nil:
		return fmt.Sprintf("%s · %s · not listening", filepath.Base(d.modelPath), d.deviceLocked())
	}
	return fmt.Sprintf("%s · %s · hotkey %s", filepath.Base(d.modelPath), d.deviceLocked(), d.cfg.Hotkey)
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

// NeedsModel is true when no model is loaded; the window then offers Recommended.
func (d *Desktop) NeedsModel() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.model == nil
}

// TranscribeFile transcribes an audio file with the loaded model.
func (d *Desktop) TranscribeFile(ctx context.Context, path string, progress func(float64)) (Transcript, error) {
	d.mu.Lock()
	m, name, opts := d.model, d.modelPath, d.cfg.Engine
	if d.sess == nil {
		opts = d.base.Engine
	}
	if m == nil {
		d.mu.Unlock()
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
// take. If the new session cannot start, the old one is restored and nothing is saved.
func (d *Desktop) ApplySettings(s Settings) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cfg, err := d.sessionConfigLocked(s)
	if err != nil {
		return err
	}
	old, oldSettings := d.cfg, d.settings
	switch {
	case d.model == nil:
		// Nothing runs yet; the settings apply when a model is chosen.
	case cfg.GPU != d.base.GPU:
		d.stopSession()
		if err := d.loadModel(d.modelPath, cfg.GPU); err != nil {
			d.startErr = err
			return fmt.Errorf("reloading the model: %w", err)
		}
		d.base.GPU = cfg.GPU
		if err := d.restart(cfg, old); err != nil {
			return err
		}
	case d.sess == nil || needsRestart(old, cfg):
		if err := d.restart(cfg, old); err != nil {
			return err
		}
	default:
		d.sess.Dictation.Reconfigure(cfg.Mode, cfg.Engine, cfg.Replacements)
		d.sess.Sounds.Store(cfg.Sounds)
		d.cfg = cfg
		d.cfg.model, d.cfg.ModelPath = d.model, d.modelPath
	}
	d.base.Engine = cfg.Engine
	if err := SaveSettings(d.settingsPath, s); err != nil {
		return fmt.Errorf("applied, but not saved: %w", err)
	}
	d.settings = s
	if s.LaunchAtLogin != oldSettings.LaunchAtLogin {
		if err := SetLaunchAtLogin(s.LaunchAtLogin); err != nil {
			return fmt.Errorf("launch at login: %w", err)
		}
	}
	return nil
}

// restart replaces the session (d.mu held); on failure it puts the old one back.
func (d *Desktop) restart(cfg, old SessionConfig) error {
	hadSession := d.sess != nil
	d.stopSession()
	err := d.startSession(cfg)
	if err == nil {
		return nil
	}
	if hadSession {
		if rerr := d.startSession(old); rerr != nil {
			d.startErr = rerr
		}
	} else {
		d.startErr = err
	}
	return err
}

// needsRestart says whether going from a to b needs a new microphone, hotkey or output.
func needsRestart(a, b SessionConfig) bool {
	return a.Hotkey != b.Hotkey || a.Device != b.Device || a.Output != b.Output || a.PasteChord != b.PasteChord ||
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
// serving until the new one has loaded, and files being transcribed finish on it.
func (d *Desktop) UseModel(name string) error {
	inst, err := d.manager.Get(name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	next, err := engine.Load(inst.Path, loadOptions(d.base.GPU))
	if err != nil {
		return fmt.Errorf("model %s: %w", name, err)
	}
	cfg := d.cfg
	if d.sess == nil {
		if cfg, err = d.sessionConfigLocked(d.settings); err != nil {
			cfg = d.base
		}
	}
	d.stopSession()
	d.retireModelLocked()
	d.model, d.modelPath = next, inst.Path
	if err := d.manager.SetDefault(name); err != nil {
		d.events.publish(Event{Kind: EventError, Err: fmt.Errorf("could not make %s the default: %w", name, err)})
	}
	if err := d.startSession(cfg); err != nil {
		d.startErr = err
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
	take, err := mic.Start()
	if err != nil {
		return err
	}
	<-ctx.Done()
	take.Stop()
	return nil
}

// gui opens the Desktop and hands it to the GUI until the window quits.
func (c *CLI) gui(ctx context.Context, args []string) error {
	if c.GUI == nil {
		return usageError{"this build has no GUI"}
	}
	fs := c.newFlagSet("gui", "gui [--model M] [--hotkey SPEC] [--mode MODE] [--output type|paste] [flags]")
	interactive := c.Interactive
	c.Interactive = false // no terminal prompt: the window offers the download
	cfg, set, notice, err := c.sessionFlags(ctx, fs, args)
	c.Interactive = interactive
	var noModel noModelError
	if err != nil && !errors.As(err, &noModel) {
		return err
	}
	m, err := c.modelManager("")
	if err != nil {
		return err
	}
	d, err := OpenDesktop(ctx, DesktopConfig{Session: cfg, Settings: set, SettingsPath: SettingsPath(), Manager: m,
		Recommended: noModel.recommended, Notices: nonEmpty(notice)})
	if err != nil {
		return err
	}
	defer d.Close()
	return c.GUI(ctx, d)
}

func nonEmpty(s ...string) []string {
	return slices.DeleteFunc(s, func(x string) bool { return x == "" })
}
