package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/go-gl/glfw/v3.4/glfw"

	"github.com/dictate-app/dictate/app"
	"github.com/dictate-app/dictate/app/models"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeController stands in for app.Desktop in the screen tests; TestFilesWithRealEngine,
// app's desktop e2e test and the Xvfb test use the real parts.
type fakeController struct {
	mu          sync.Mutex
	toggles     int
	quick       int
	copied      []string
	history     []app.TakeRecord
	events      chan app.Event
	transcribe  func(ctx context.Context, path string, progress func(float64)) (app.Transcript, error)
	settings    app.Settings
	applied     []app.Settings
	applyErr    error
	models      []app.ModelChoice
	used        []string
	needsModel  bool
	downloaded  []string
	devices     []string
	tested      []string
	leveled     chan struct{} // closed once TestDevice reported a level
	converted   []string
	convertHold chan struct{} // when set, MakeFasterCopy closes it after progress, then waits to be cancelled
	inserted    []string
	downloadErr error
}

func (f *fakeController) InsertText(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inserted = append(f.inserted, s)
	return nil
}

func (f *fakeController) Toggle()                               { f.mu.Lock(); f.toggles++; f.mu.Unlock() }
func (f *fakeController) QuickToggle()                          { f.mu.Lock(); f.quick++; f.mu.Unlock() }
func (f *fakeController) Subscribe() (<-chan app.Event, func()) { return f.events, func() {} }
func (f *fakeController) History(n int) []app.TakeRecord        { return f.history }
func (f *fakeController) Status() string                        { return "distil-small.en · CPU (test) · hotkey F9" }
func (f *fakeController) Notices() []string                     { return nil }
func (f *fakeController) CopyText(s string) error {
	f.mu.Lock()
	f.copied = append(f.copied, s)
	f.mu.Unlock()
	return nil
}
func (f *fakeController) TranscribeFile(ctx context.Context, path string, progress func(float64)) (app.Transcript, error) {
	return f.transcribe(ctx, path, progress)
}
func (f *fakeController) Settings() app.Settings { f.mu.Lock(); defer f.mu.Unlock(); return f.settings }
func (f *fakeController) ApplySettings(s app.Settings) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.applyErr != nil {
		return f.applyErr
	}
	if err := s.Validate(); err != nil {
		return err
	}
	f.applied = append(f.applied, s)
	f.settings = s
	return nil
}
func (f *fakeController) Models() ([]app.ModelChoice, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.models), nil
}
func (f *fakeController) UseModel(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.used = append(f.used, name)
	for i := range f.models {
		f.models[i].Current = f.models[i].Name == name
	}
	return nil
}
func (f *fakeController) MakeFasterCopy(ctx context.Context, name string, progress func(float64)) (string, error) {
	f.mu.Lock()
	f.converted = append(f.converted, name)
	hold := f.convertHold
	f.mu.Unlock()
	progress(0.5)
	if hold != nil {
		close(hold)
		<-ctx.Done()
		return "", ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	made := name + "-q8_0"
	f.models = append(f.models, app.ModelChoice{Name: made, Size: "90 MB"})
	return made, nil
}
func (f *fakeController) InputDevices() ([]string, error) { return f.devices, nil }
func (f *fakeController) TestDevice(ctx context.Context, name string, level func(float32)) error {
	f.mu.Lock()
	f.tested = append(f.tested, name)
	f.mu.Unlock()
	level(0.1)
	close(f.leveled)
	<-ctx.Done()
	return nil
}
func (f *fakeController) NeedsModel() bool                 { f.mu.Lock(); defer f.mu.Unlock(); return f.needsModel }
func (f *fakeController) CanDictate() bool                 { f.mu.Lock(); defer f.mu.Unlock(); return !f.needsModel }
func (f *fakeController) Recommended() (name, size string) { return "distil-small.en", "166 MB" }
func (f *fakeController) DownloadModel(ctx context.Context, name string, progress func(models.Progress)) error {
	if f.downloadErr != nil {
		progress(models.Progress{Name: name, Phase: "retrying", Problem: "no network connection to huggingface.co", RetryIn: 2 * time.Second})
		return f.downloadErr
	}
	progress(models.Progress{Name: name, Done: 50, Total: 100})
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downloaded = append(f.downloaded, name)
	f.needsModel = false
	return nil
}

func newFake() *fakeController {
	return &fakeController{events: make(chan app.Event, 16), history: []app.TakeRecord{
		{Time: time.Now(), Text: "earlier take"}, {Time: time.Now(), Dropped: "silence"}},
		settings: app.DefaultSettings(),
		models:   []app.ModelChoice{{Name: "distil-small.en", Size: "166 MB", Current: true}, {Name: "tiny.en", Size: "75 MB"}},
		devices:  []string{"USB Mic", "Webcam"}, leveled: make(chan struct{})}
}

func TestMainWindowFollowsTheFlow(t *testing.T) {
	a := newTestApp(t)
	ctl := newFake()
	m := NewMainWindow(a, ctl)
	t.Cleanup(m.Close)
	if m.Window().Title() != "Dictate" || !strings.Contains(m.Model.Text, "distil-small.en · CPU") {
		t.Fatalf("title %q, model %q", m.Window().Title(), m.Model.Text)
	}
	if m.History.Length() != 2 {
		t.Fatalf("history rows %d", m.History.Length())
	}
	test.Tap(m.Toggle)
	if ctl.toggles != 1 {
		t.Fatal("the button did not toggle dictation")
	}
	m.Apply(app.Event{Kind: app.EventState, State: app.Recording})
	m.Apply(app.Event{Kind: app.EventLevel, Level: 0.1})
	if m.State.Text != "Recording…" || m.Toggle.Text != "Stop dictation" || m.Level.Value <= 0.5 || m.Level.Value > 1 || !m.Level.Visible() {
		t.Fatalf("recording: %q %q %v", m.State.Text, m.Toggle.Text, m.Level.Value)
	}
	m.Apply(app.Event{Kind: app.EventState, State: app.Transcribing})
	if m.State.Text != "Transcribing…" || m.Level.Value != 0 || m.Toggle.Text != "Start dictation" || m.Level.Visible() || !m.Busy.Visible() {
		t.Fatalf("transcribing: %q %v", m.State.Text, m.Level.Value)
	}
	if !m.Copy.Disabled() {
		t.Fatal("copy enabled with no transcript")
	}
	m.Apply(app.Event{Kind: app.EventTake, Take: &app.TakeRecord{Time: time.Now(), Text: "Hello from the window."}})
	if m.Last.Text != "Hello from the window." || m.History.Length() != 3 || m.Copy.Disabled() {
		t.Fatalf("take: %q rows %d", m.Last.Text, m.History.Length())
	}
	test.Tap(m.Copy)
	if len(ctl.copied) != 1 || ctl.copied[0] != "Hello from the window." {
		t.Fatalf("copied %q", ctl.copied)
	}
	// Insert again hides the window so the text goes where the user was typing.
	m.Window().Show()
	m.InsertAgain("Hello from the window.")
	m.bg.Wait()
	if len(ctl.inserted) != 1 || ctl.inserted[0] != "Hello from the window." {
		t.Fatalf("inserted %q", ctl.inserted)
	}
	m.Apply(app.Event{Kind: app.EventError, Err: errors.New("microphone: unplugged")})
	if !strings.Contains(m.State.Text, "unplugged") {
		t.Fatalf("error shown as %q", m.State.Text)
	}
}

func waitJobs(t *testing.T, p *FilesPanel, n int) []FileJob {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		jobs := p.Jobs()
		finished := 0
		for _, j := range jobs {
			if j.Status != "queued" && j.Status != "transcribing" {
				finished++
			}
		}
		if len(jobs) == n && finished == n {
			return jobs
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("jobs did not finish: %+v", p.Jobs())
	return nil
}

// Dropped files go through the real engine; a broken file shows its error and the queue
// goes on; exports land next to the audio file.
func TestFilesWithRealEngine(t *testing.T) {
	a := newTestApp(t)
	model, err := engine.Load(testenv.Model(t, "micro"), engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	ctl := newFake()
	ctl.transcribe = func(ctx context.Context, path string, progress func(float64)) (app.Transcript, error) {
		return app.TranscribeFile(ctx, model, path, engine.Options{MaxTokens: 5}, func(p app.FileProgress) { progress(p.Fraction) })
	}
	m := NewMainWindow(a, ctl)
	t.Cleanup(m.Close)
	dir := t.TempDir()
	good := testenv.Speak(t, dir, "Drag and drop this file.")
	broken := filepath.Join(dir, "broken.wav")
	os.WriteFile(broken, []byte("RIFF\x04\x00\x00\x00WAVEjunk"), 0o644)
	m.Drop([]fyne.URI{storage.NewFileURI(broken), storage.NewFileURI(good)})
	if m.Tabs.SelectedIndex() != 1 {
		t.Error("the Files tab is not shown after a drop")
	}
	jobs := waitJobs(t, m.Files, 2)
	if !strings.Contains(jobs[0].Status, "corrupt") || jobs[0].Transcript != nil {
		t.Errorf("broken file: %+v", jobs[0])
	}
	if jobs[1].Transcript == nil || jobs[1].Progress != 1 || !strings.HasPrefix(jobs[1].Status, "done") {
		t.Fatalf("good file: %+v", jobs[1])
	}
	var job *FileJob
	m.Files.mu.Lock()
	job = m.Files.jobs[1]
	m.Files.mu.Unlock()
	for _, format := range app.Formats {
		out, err := m.Files.Export(job, format)
		if err != nil {
			t.Fatal(err)
		}
		if out != filepath.Join(dir, "speech."+format) {
			t.Errorf("exported to %s", out)
		}
		data, _ := os.ReadFile(out)
		if !strings.Contains(string(data), jobs[1].Transcript.Segments[0].Text) {
			t.Errorf("%s export lacks the text: %q", format, data)
		}
	}
	if _, err := m.Files.Export(m.Files.jobs[0], "srt"); err == nil {
		t.Error("exported a file that failed")
	}
	// Exporting again keeps the first export (or the user's own file of that name).
	first, _ := os.ReadFile(filepath.Join(dir, "speech.srt"))
	os.WriteFile(filepath.Join(dir, "speech.srt"), []byte("my own notes"), 0o644)
	again, err := m.Files.Export(job, "srt")
	if err != nil || again != filepath.Join(dir, "speech (2).srt") {
		t.Fatalf("second export to %q: %v", again, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "speech.srt")); string(b) != "my own notes" {
		t.Errorf("the existing file was overwritten: %q", b)
	}
	if b, _ := os.ReadFile(again); string(b) != string(first) {
		t.Errorf("second export %q, want %q", b, first)
	}
}

func TestFirstWordsKeepsCharactersWhole(t *testing.T) {
	for in, want := range map[string]string{
		"short":                  "short",
		"Grüße aus München, ж €": "Grüße aus …",
		"🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂": "🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂…",
	} {
		if got := firstWords(in, 10); got != want || !utf8.ValidString(got) {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// The Add files picker: folders first and audio files only, several ticked at once, a
// subfolder opened and left again; what is added is queued.
func TestAddFilesPicker(t *testing.T) {
	a := newTestApp(t)
	ctl := newFake()
	started := make(chan string, 8)
	ctl.transcribe = func(ctx context.Context, path string, progress func(float64)) (app.Transcript, error) {
		started <- path
		return app.Transcript{File: path}, nil
	}
	m := NewMainWindow(a, ctl)
	t.Cleanup(m.Close)
	dir := t.TempDir()
	for _, name := range []string{"b talk.MP3", "a talk.wav", "notes.txt", ".hidden.wav", "sub/c talk.flac"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}
	p := NewFilePicker(dir, func(paths []string) {
		for _, path := range paths {
			m.Files.Add(path)
		}
	})
	names := func() []string {
		var out []string
		for _, e := range p.entries {
			out = append(out, e.name)
		}
		return out
	}
	if got := names(); !slices.Equal(got, []string{"sub", "a talk.wav", "b talk.MP3"}) || !p.Add.Disabled() {
		t.Fatalf("listed %q, Add enabled %v", got, !p.Add.Disabled())
	}
	test.Tap(p.All)
	if got := names(); !slices.Contains(got, "notes.txt") {
		t.Errorf("show all: %q", got)
	}
	test.Tap(p.All)
	p.Open(filepath.Join(dir, "missing"))
	if !strings.Contains(p.Message.Text, "Cannot open") || p.Folder.Text != dir {
		t.Errorf("a missing folder: %q, folder %q", p.Message.Text, p.Folder.Text)
	}
	p.Tick("a talk.wav", true)
	p.Tick("b talk.MP3", true)
	if p.Add.Text != "Add 2 files" {
		t.Fatalf("button %q", p.Add.Text)
	}
	p.Open(filepath.Join(dir, "sub"))
	if got := names(); !slices.Equal(got, []string{"c talk.flac"}) || p.Folder.Text != filepath.Join(dir, "sub") {
		t.Fatalf("in sub: %q, folder %q", got, p.Folder.Text)
	}
	test.Tap(p.Up)
	p.Tick("a talk.wav", true)
	p.Tick("b talk.MP3", true)
	test.Tap(p.Add)
	waitJobs(t, m.Files, 2)
	if got := []string{<-started, <-started}; !slices.Equal(got, []string{filepath.Join(dir, "a talk.wav"), filepath.Join(dir, "b talk.MP3")}) {
		t.Errorf("queued %q", got)
	}
}

func TestFilesCancel(t *testing.T) {
	a := newTestApp(t)
	ctl := newFake()
	started := make(chan struct{}, 1)
	ctl.transcribe = func(ctx context.Context, path string, progress func(float64)) (app.Transcript, error) {
		started <- struct{}{}
		<-ctx.Done()
		return app.Transcript{}, ctx.Err()
	}
	m := NewMainWindow(a, ctl)
	t.Cleanup(m.Close)
	m.Files.Add("/tmp/long.wav")
	m.Files.Add("/tmp/queued.wav")
	<-started
	m.Files.mu.Lock()
	first, second := m.Files.jobs[0], m.Files.jobs[1]
	m.Files.mu.Unlock()
	m.Files.Cancel(second)
	m.Files.Cancel(first)
	jobs := waitJobs(t, m.Files, 2)
	if jobs[0].Status != "cancelled" || jobs[1].Status != "cancelled" {
		t.Fatalf("jobs %+v", jobs)
	}
}

// The live text while a take records: committed words as typed, the words that may still
// change dimmed, the take's length; all of it gone once the take is done.
func TestMainWindowShowsLiveText(t *testing.T) {
	a := newTestApp(t)
	m := NewMainWindow(a, newFake())
	t.Cleanup(m.Close)
	if m.Live.Visible() {
		t.Fatal("live text shown before any take")
	}
	m.Apply(app.Event{Kind: app.EventState, State: app.Recording})
	m.Apply(app.Event{Kind: app.EventLive, Live: &app.LiveText{Tentative: "the cat", Elapsed: 1500 * time.Millisecond}})
	if !m.Live.Visible() || m.Live.String() != "the cat" || m.State.Text != "Recording… 0:01" {
		t.Fatalf("first pass: visible %v, %q, state %q", m.Live.Visible(), m.Live.String(), m.State.Text)
	}
	m.Apply(app.Event{Kind: app.EventLive, Live: &app.LiveText{Committed: "the cat sat", Tentative: "on a", Elapsed: 72 * time.Second}})
	segs := m.Live.Segments
	if len(segs) != 2 || m.Live.String() != "the cat sat on a" || m.State.Text != "Recording… 1:12" {
		t.Fatalf("later pass: %q in %d segments, state %q", m.Live.String(), len(segs), m.State.Text)
	}
	committed, tentative := segs[0].(*widget.TextSegment), segs[1].(*widget.TextSegment)
	if committed.Style.ColorName == theme.ColorNamePlaceHolder || tentative.Style.ColorName != theme.ColorNamePlaceHolder || !tentative.Style.TextStyle.Italic {
		t.Errorf("committed %+v, tentative %+v: only the tentative words are dimmed", committed.Style, tentative.Style)
	}
	// The final pass after release shows too, until the take is done.
	m.Apply(app.Event{Kind: app.EventState, State: app.Transcribing})
	m.Apply(app.Event{Kind: app.EventLive, Live: &app.LiveText{Committed: "the cat sat on a mat", Elapsed: 73 * time.Second}})
	if m.Live.String() != "the cat sat on a mat" || m.State.Text != "Transcribing…" {
		t.Fatalf("final pass: %q, state %q", m.Live.String(), m.State.Text)
	}
	m.Apply(app.Event{Kind: app.EventState, State: app.Idle})
	if m.Live.Visible() || len(m.Live.Segments) != 0 {
		t.Fatal("live text still shown after the take")
	}
}

// Only the panics with which GLFW meets a display that gives no window become ErrNoWindow;
// any other panic, a bug, goes on as it was.
func TestWindowFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value any
		want  string // "" when the panic must go on
	}{
		{"no OpenGL", &glfw.Error{Code: glfw.FormatUnavailable, Desc: "GLX: Failed to find a suitable GLXFBConfig"},
			"the window cannot open: the display offers no OpenGL 2.1 (FormatUnavailable: GLX: Failed to find a suitable GLXFBConfig)"},
		{"no GLX", &glfw.Error{Code: glfw.APIUnavailable, Desc: "GLX: GLX extension not found"}, "offers no OpenGL 2.1"},
		{"old OpenGL", &glfw.Error{Code: glfw.VersionUnavailable, Desc: "GLX: OpenGL 2.1 unavailable"}, "offers no OpenGL 2.1"},
		{"init failed", &glfw.Error{Code: glfwNotInitialized, Desc: "The GLFW library is not initialized"},
			"the window cannot open: no display answered"},
		{"no platform", &glfw.Error{Code: glfw.PlatformUnavailable, Desc: "X11: Failed to open display :9"}, "no display answered"},
		{"GLFW misused", &glfw.Error{Code: 0x00010003, Desc: "Invalid enum"}, ""},
		{"another error", errors.New("index out of range"), ""},
		{"a string", "boom", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			repanicked := func() (r any) {
				defer func() { r = recover() }()
				err = windowFailure(tc.value)
				return nil
			}()
			if tc.want == "" {
				if repanicked != tc.value || err != nil {
					t.Fatalf("got error %v, panic %v; want the panic %v to go on", err, repanicked, tc.value)
				}
				return
			}
			if repanicked != nil || !errors.Is(err, ErrNoWindow) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "dictate listen dictates without a window") {
				t.Fatalf("got error %v, panic %v; want ErrNoWindow saying %q", err, repanicked, tc.want)
			}
		})
	}
}
