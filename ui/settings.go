package ui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/app/textout"
	"github.com/dictate-app/dictate/engine"
)

// SettingsController is what the Settings screen needs (app.Desktop provides it).
type SettingsController interface {
	Settings() app.Settings
	ApplySettings(app.Settings) error
	Models() ([]app.ModelChoice, error)
	UseModel(name string) error
	MakeFasterCopy(ctx context.Context, name string, progress func(float64)) (string, error)
	InputDevices() ([]string, error)
	TestDevice(ctx context.Context, name string, level func(rms float32)) error
}

// defaultDevice is how the Device list names the system's default input.
const defaultDevice = "System default"

// SettingsScreen edits the settings; Apply validates, applies them live and saves them.
type SettingsScreen struct {
	ctl SettingsController

	Hotkey         *HotkeyCapture
	Mode           *widget.Select
	Device         *widget.Select
	TestMic        *widget.Button
	Meter          *widget.ProgressBar
	Model          *widget.Select
	FasterCopy     *widget.Button // converts the chosen model to q8_0; Cancel while it runs
	Language       *widget.SelectEntry
	Translate      *widget.Check
	Output         *widget.Select
	Inserter       *widget.Select
	PasteChord     *widget.Select
	Terminals      *widget.Entry
	Prompt         *widget.Entry
	Replacements   *ReplacementsTable
	Tail           *widget.Entry
	Sounds         *widget.Check
	StartMinimised *widget.Check
	LaunchAtLogin  *widget.Check
	GPU            *widget.Check
	TrimAudioCtx   *widget.Check
	AudioCtxFloor  *widget.Entry
	LiveCommit     *widget.Check
	LivePrompt     *widget.Check
	Overlay        *widget.Check
	LiveType       *widget.Check
	Form           *widget.Form
	Message        *widget.Label

	micTest  backgroundJob
	convert  backgroundJob
	listing  backgroundJob // the microphones being listed
	applying sync.WaitGroup
}

// backgroundJob runs a button's cancellable task, one at a time, off the UI thread.
type backgroundJob struct {
	mu     sync.Mutex
	cancel context.CancelFunc // nil when no task runs
	done   chan struct{}      // closed when the last task has ended
}

// idle reports whether no task runs. Taps come from the UI thread only, so a task started
// right after idle said true starts.
func (j *backgroundJob) idle() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cancel == nil
}

// start runs work(ctx) on its own goroutine; cancel is what ends ctx.
func (j *backgroundJob) start(ctx context.Context, cancel context.CancelFunc, work func(context.Context)) {
	done := make(chan struct{})
	j.mu.Lock()
	j.cancel, j.done = cancel, done
	j.mu.Unlock()
	go func() {
		defer close(done)
		work(ctx)
		cancel()
		j.mu.Lock()
		if j.done == done { // not replaced by a later task
			j.cancel = nil
		}
		j.mu.Unlock()
	}()
}

// cancelRunning cancels the running task, if any, and reports whether there was one.
func (j *backgroundJob) cancelRunning() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cancel == nil {
		return false
	}
	j.cancel()
	return true
}

// wait waits for the last task started to end.
func (j *backgroundJob) wait() {
	j.mu.Lock()
	done := j.done
	j.mu.Unlock()
	if done != nil {
		<-done
	}
}

// NewSettingsScreen builds the form filled with the current settings.
func NewSettingsScreen(ctl SettingsController) *SettingsScreen {
	s := &SettingsScreen{ctl: ctl}
	s.Message = widget.NewLabel("")
	s.Message.Wrapping = fyne.TextWrapWord
	s.Hotkey = NewHotkeyCapture("")
	s.Hotkey.OnInvalid = func(reason string) { s.Message.SetText("Hotkey refused: " + reason) }
	s.Mode = widget.NewSelect([]string{"hold", "toggle", "auto"}, nil)
	s.Device = widget.NewSelect(nil, nil)
	s.Meter = widget.NewProgressBar()
	s.Meter.TextFormatter = func() string { return "" }
	s.Meter.Hide() // only while a test runs: Fyne draws an empty bar's track like a full one
	s.TestMic = widget.NewButton("Test", s.onTestMic)
	s.Model = widget.NewSelect(nil, nil)
	s.FasterCopy = widget.NewButton(fasterCopyLabel, s.onFasterCopy)
	s.Language = widget.NewSelectEntry(append([]string{"auto"}, engine.Languages...))
	s.Language.Validator = app.ValidateLanguage
	s.Translate = widget.NewCheck("Translate into English", nil)
	s.Output = widget.NewSelect([]string{"type", "paste"}, nil)
	s.Inserter = widget.NewSelect(textout.Backends, nil)
	s.PasteChord = widget.NewSelect(textout.PasteChords, nil)
	s.Terminals = widget.NewMultiLineEntry()
	s.Terminals.Wrapping = fyne.TextWrapWord
	s.Terminals.Validator = func(v string) error { return app.ValidateTerminalClasses(splitList(v)) }
	s.Prompt = widget.NewMultiLineEntry()
	s.Prompt.Wrapping = fyne.TextWrapWord
	s.Prompt.SetPlaceHolder("Names and words to expect: Kubernetes, Grafana, Siobhán")
	s.Prompt.Validator = app.ValidatePrompt
	s.Replacements = NewReplacementsTable()
	s.Tail = widget.NewEntry()
	s.Tail.Validator = intInRange(0, 5000, "ms")
	s.Sounds = widget.NewCheck("Play a cue when a take starts and stops", nil)
	s.StartMinimised = widget.NewCheck("Start minimised to the tray", nil)
	s.LaunchAtLogin = widget.NewCheck("Launch at login", nil)
	s.GPU = widget.NewCheck("Use the GPU when there is one", nil)
	s.TrimAudioCtx = widget.NewCheck("Encode only what a short take needs", nil)
	s.LiveCommit = widget.NewCheck("Show the words while I speak; after release only the rest is transcribed", nil)
	s.LivePrompt = widget.NewCheck("Give each live pass the words before it", nil)
	s.LiveType = widget.NewCheck("Type the words as they are committed, not all at release", nil)
	s.Overlay = widget.NewCheck("Show a recording panel at the bottom of the screen", nil)
	s.AudioCtxFloor = widget.NewEntry()
	s.AudioCtxFloor.Validator = func(v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 1 || f > 30 {
			return errors.New("seconds between 1 and 30")
		}
		return nil
	}
	s.Form = &widget.Form{
		Items: []*widget.FormItem{
			{Text: "Hotkey", Widget: s.Hotkey, HintText: "Tap, then press the keys"},
			{Text: "Mode", Widget: s.Mode, HintText: "hold: push to talk · toggle: press to start and stop · auto: both"},
			{Text: "Microphone", Widget: container.NewVBox(container.NewBorder(nil, nil, nil, s.TestMic, s.Device), s.Meter),
				HintText: "Test shows its level for five seconds"},
			{Text: "Model", Widget: container.NewBorder(nil, nil, nil, s.FasterCopy, s.Model),
				HintText: "q8_0: half the size, about twice as fast on a CPU"},
			{Text: "Language", Widget: s.Language, HintText: "auto, or a code: en, de, fr, …"},
			{Text: "", Widget: s.Translate},
			{Text: "Output", Widget: s.Output, HintText: "type: keystrokes · paste: through the clipboard"},
			{Text: "Typed by", Widget: s.Inserter, HintText: "auto picks by desktop: xtest on X11, wayland (virtual keyboard) on Sway and Hyprland, portal on GNOME and KDE (asks once)"},
			{Text: "Paste keys", Widget: s.PasteChord, HintText: "auto: Ctrl+Shift+V in terminals, else Ctrl+V"},
			{Text: "Terminals", Widget: s.Terminals, HintText: "Window classes, comma-separated"},
			{Text: "Vocabulary", Widget: s.Prompt, HintText: "Initial prompt"},
			{Text: "Replacements", Widget: s.Replacements.Content()},
			{Text: "Tail (ms)", Widget: s.Tail, HintText: "Keeps recording up to this long after release so the last word is not cut; less once you are silent"},
			{Text: "", Widget: s.Sounds},
			{Text: "", Widget: s.StartMinimised},
			{Text: "", Widget: s.LaunchAtLogin},
			{Text: "", Widget: s.GPU},
			{Text: "Speed", Widget: s.TrimAudioCtx},
			{Text: "Least encoded (s)", Widget: s.AudioCtxFloor, HintText: "10 s keeps accuracy"},
			{Text: "Live text", Widget: s.LiveCommit, HintText: "Long takes are typed about as fast as short ones"},
			{Text: "", Widget: s.LivePrompt, HintText: "Off if a model repeats or skips words"},
			{Text: "", Widget: s.LiveType, HintText: "Typed words stay. In hold mode on X11, or with Ctrl, Alt, Shift or Super in the hotkey, they wait for release: use toggle"},
			{Text: "Overlay", Widget: s.Overlay, HintText: "Level, length and live text while you speak; it never takes the focus"},
		},
		SubmitText: "Apply",
		OnSubmit:   func() { s.onApply() },
		CancelText: "Revert",
		OnCancel:   s.Reload,
	}
	s.Fill() // the microphones are listed once the screen is shown (Reload)
	return s
}

func intInRange(lo, hi int, unit string) func(string) error {
	return func(v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < lo || n > hi {
			return fmt.Errorf("a whole number of %s from %d to %d", unit, lo, hi)
		}
		return nil
	}
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Content is the screen's layout.
func (s *SettingsScreen) Content() fyne.CanvasObject {
	return container.NewBorder(nil, s.Message, nil, nil, container.NewVScroll(s.Form))
}

// Reload fills the form from the settings in use, the microphones and the models. The
// microphones are listed in the background (an audio system can take seconds to answer).
func (s *SettingsScreen) Reload() {
	s.Fill()
	ctx, cancel := context.WithCancel(context.Background())
	s.listing.cancelRunning()
	s.listing.start(ctx, cancel, func(ctx context.Context) {
		devices, err := s.ctl.InputDevices()
		fyne.Do(func() {
			if ctx.Err() != nil {
				return // a later Reload lists them again
			}
			if err != nil {
				s.Message.SetText("Microphones: " + err.Error())
			}
			s.showDevices(devices, s.deviceSetting())
		})
	})
}

// Fill shows the settings in use and the models (not the microphones: see Reload).
func (s *SettingsScreen) Fill() {
	set := s.ctl.Settings()
	s.Hotkey.SetSpec(set.Hotkey)
	s.Mode.SetSelected(set.Mode)
	s.showDevices(nil, set.Device)
	s.reloadModels()
	s.Language.SetText(set.Language)
	s.Translate.SetChecked(set.Translate)
	s.Output.SetSelected(set.Output)
	s.Inserter.SetSelected(set.Inserter)
	s.PasteChord.SetSelected(set.PasteChord)
	s.Terminals.SetText(strings.Join(set.TerminalClasses, ", "))
	s.Prompt.SetText(set.Prompt)
	s.Replacements.SetRules(set.Replacements)
	s.Tail.SetText(strconv.Itoa(set.TailMS))
	s.Sounds.SetChecked(set.Sounds)
	s.StartMinimised.SetChecked(set.StartMinimised)
	s.LaunchAtLogin.SetChecked(set.LaunchAtLogin)
	s.GPU.SetChecked(set.GPU)
	s.TrimAudioCtx.SetChecked(set.TrimAudioCtx)
	s.AudioCtxFloor.SetText(strconv.FormatFloat(set.AudioCtxFloorS, 'g', -1, 64))
	s.LiveCommit.SetChecked(set.LiveCommit)
	s.LivePrompt.SetChecked(set.LivePrompt)
	s.Overlay.SetChecked(set.Overlay)
	s.LiveType.SetChecked(set.LiveType)
}

// showDevices offers the system default, the devices found and the chosen one (which may
// be unplugged now), and selects the chosen one.
func (s *SettingsScreen) showDevices(devices []string, chosen string) {
	options := append([]string{defaultDevice}, devices...)
	if chosen != "" && !slices.Contains(options, chosen) {
		options = append(options, chosen)
	}
	s.Device.SetOptions(options)
	s.Device.SetSelected(deviceLabel(chosen))
}

// deviceSetting is the device the form shows, as the settings name it ("" for the default).
func (s *SettingsScreen) deviceSetting() string {
	if s.Device.Selected == defaultDevice {
		return ""
	}
	return s.Device.Selected
}

func deviceLabel(name string) string {
	if name == "" {
		return defaultDevice
	}
	return name
}

func (s *SettingsScreen) reloadModels() {
	list, err := s.ctl.Models()
	if err != nil {
		s.Message.SetText("Models: " + err.Error())
	}
	var names []string
	current := ""
	for _, m := range list {
		names = append(names, m.Name)
		if m.Current {
			current = m.Name
		}
	}
	s.Model.SetOptions(names)
	s.Model.SetSelected(current)
}

// Read returns the settings the form shows; the error names the first refused field.
func (s *SettingsScreen) Read() (app.Settings, error) {
	set := s.ctl.Settings()
	if err := s.Form.Validate(); err != nil {
		return set, err
	}
	set.Hotkey = s.Hotkey.Spec
	set.Mode = s.Mode.Selected
	set.Device = s.deviceSetting()
	set.Language = strings.TrimSpace(s.Language.Text)
	set.Translate = s.Translate.Checked
	set.Output, set.Inserter, set.PasteChord = s.Output.Selected, s.Inserter.Selected, s.PasteChord.Selected
	set.TerminalClasses = splitList(s.Terminals.Text)
	set.Prompt = strings.TrimSpace(s.Prompt.Text)
	set.Replacements = s.Replacements.Rules()
	set.TailMS, _ = strconv.Atoi(strings.TrimSpace(s.Tail.Text))
	set.Sounds, set.StartMinimised, set.LaunchAtLogin = s.Sounds.Checked, s.StartMinimised.Checked, s.LaunchAtLogin.Checked
	set.GPU, set.TrimAudioCtx = s.GPU.Checked, s.TrimAudioCtx.Checked
	set.LiveCommit, set.LivePrompt, set.Overlay = s.LiveCommit.Checked, s.LivePrompt.Checked, s.Overlay.Checked
	set.LiveType = s.LiveType.Checked
	set.AudioCtxFloorS, _ = strconv.ParseFloat(strings.TrimSpace(s.AudioCtxFloor.Text), 64)
	return set, set.Validate()
}

// Apply reads the form, applies and saves it (switching the model if another was picked)
// and shows the outcome. It blocks; the Apply button reads the form on the UI thread and
// applies it in the background.
func (s *SettingsScreen) Apply() error {
	set, err := s.Read()
	if err == nil {
		err = s.apply(set, s.Model.Selected)
	}
	s.showApplied(err)
	return err
}

// apply hands read settings to the app; it touches no widget, so it runs off the UI thread.
func (s *SettingsScreen) apply(set app.Settings, model string) error {
	if model != "" {
		list, err := s.ctl.Models()
		if err != nil {
			return err
		}
		for _, m := range list {
			if m.Name == model && !m.Current {
				if err := s.ctl.UseModel(m.Name); err != nil {
					return err
				}
			}
		}
	}
	return s.ctl.ApplySettings(set)
}

func (s *SettingsScreen) showApplied(err error) {
	if err != nil {
		s.Message.SetText("Not applied: " + strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	s.Message.SetText("Applied and saved at " + time.Now().Format("15:04:05") + ".")
}

func (s *SettingsScreen) onApply() {
	set, err := s.Read()
	if err != nil {
		s.showApplied(err)
		return
	}
	model := s.Model.Selected
	s.Message.SetText("Applying…")
	s.applying.Add(1)
	go func() {
		defer s.applying.Done()
		err := s.apply(set, model)
		fyne.Do(func() {
			s.showApplied(err)
			if err == nil {
				s.Reload()
			}
		})
	}()
}

const fasterCopyLabel = "Make q8_0 copy"

// onFasterCopy converts the chosen model to q8_0, or cancels the conversion running.
func (s *SettingsScreen) onFasterCopy() {
	if s.convert.cancelRunning() {
		return
	}
	name := s.Model.Selected
	if name == "" {
		s.Message.SetText("Choose a model to convert first.")
		return
	}
	s.FasterCopy.SetText("Cancel")
	s.Message.SetText("Converting " + name + " to q8_0…")
	ctx, cancel := context.WithCancel(context.Background())
	s.convert.start(ctx, cancel, func(ctx context.Context) {
		made, err := s.ctl.MakeFasterCopy(ctx, name, func(f float64) {
			fyne.Do(func() { s.Message.SetText(fmt.Sprintf("Converting %s to q8_0… %.0f%%", name, 100*f)) })
		})
		fyne.Do(func() {
			s.FasterCopy.SetText(fasterCopyLabel)
			switch {
			case errors.Is(err, context.Canceled):
				s.Message.SetText("Conversion cancelled.")
			case err != nil:
				s.Message.SetText("Could not convert " + name + ": " + err.Error())
			default:
				s.reloadModels()
				s.Model.SetSelected(made)
				s.Message.SetText("Made " + made + ". Apply to use it.")
			}
		})
	})
}

// onTestMic shows the chosen microphone's level for five seconds.
func (s *SettingsScreen) onTestMic() {
	if !s.micTest.idle() {
		return
	}
	device := s.deviceSetting()
	s.TestMic.Disable()
	s.Meter.SetValue(0)
	s.Meter.Show()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	s.micTest.start(ctx, cancel, func(ctx context.Context) {
		err := s.ctl.TestDevice(ctx, device, func(rms float32) {
			fyne.Do(func() { s.Meter.SetValue(levelToMeter(rms)) })
		})
		fyne.Do(func() {
			s.Meter.SetValue(0)
			s.Meter.Hide()
			s.TestMic.Enable()
			if err != nil {
				s.Message.SetText("Microphone test: " + err.Error())
			}
		})
	})
}

// Close ends a microphone test and a conversion, and waits for an Apply in progress.
func (s *SettingsScreen) Close() {
	for _, j := range []*backgroundJob{&s.micTest, &s.convert, &s.listing} {
		j.cancelRunning()
		j.wait()
	}
	s.applying.Wait()
}

// ReplacementsTable edits spoken-phrase → text rules, one row each.
type ReplacementsTable struct {
	rows *fyne.Container
	Add  *widget.Button
}

// NewReplacementsTable makes an empty table.
func NewReplacementsTable() *ReplacementsTable {
	t := &ReplacementsTable{rows: container.NewVBox()}
	t.Add = widget.NewButton("Add replacement", func() { t.addRow(app.Replacement{}) })
	return t
}

// Content is the table's layout.
func (t *ReplacementsTable) Content() fyne.CanvasObject { return container.NewVBox(t.rows, t.Add) }

// SetRules shows rules.
func (t *ReplacementsTable) SetRules(rules []app.Replacement) {
	t.rows.RemoveAll()
	for _, r := range rules {
		t.addRow(r)
	}
}

func (t *ReplacementsTable) addRow(r app.Replacement) {
	from, to := widget.NewEntry(), widget.NewEntry()
	from.SetPlaceHolder("spoken words")
	to.SetPlaceHolder("text")
	from.SetText(r.From)
	to.SetText(escapeBreaks(r.To))
	var row *fyne.Container
	remove := widget.NewButton("Remove", func() { t.rows.Remove(row) })
	row = container.NewBorder(nil, nil, nil, remove, container.NewGridWithColumns(2, from, to))
	t.rows.Add(row)
}

// Rules returns the rows (\n typed in the text column is a line break).
func (t *ReplacementsTable) Rules() []app.Replacement {
	var out []app.Replacement
	for _, row := range t.Rows() {
		from, to := row[0].Text, row[1].Text
		if strings.TrimSpace(from) == "" && to == "" {
			continue // an empty row left over
		}
		out = append(out, app.Replacement{From: strings.TrimSpace(from), To: unescapeBreaks(to)})
	}
	return out
}

// Rows returns each row's entries: spoken words, text.
func (t *ReplacementsTable) Rows() [][2]*widget.Entry {
	var out [][2]*widget.Entry
	for _, o := range t.rows.Objects {
		grid := o.(*fyne.Container).Objects[0].(*fyne.Container)
		out = append(out, [2]*widget.Entry{grid.Objects[0].(*widget.Entry), grid.Objects[1].(*widget.Entry)})
	}
	return out
}

func escapeBreaks(s string) string   { return strings.ReplaceAll(s, "\n", `\n`) }
func unescapeBreaks(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }
