// Package engine runs Whisper models through whisper.cpp. It holds all of the project's
// whisper/ggml cgo and exposes only Go types: 16 kHz mono []float32 in, segments out.
package engine

/*
#cgo pkg-config: whisper
#cgo LDFLAGS: -lggml -lggml-base
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	whisper "github.com/ggerganov/whisper.cpp/bindings/go"
)

// SampleRate is the rate Transcribe expects.
const SampleRate = 16000

// Errors returned by the engine; wrap-checked with errors.Is.
var (
	ErrEmptyAudio       = errors.New("no audio to transcribe")
	ErrClosed           = errors.New("model is closed")
	ErrLoadFailed       = errors.New("whisper.cpp could not load the model")
	ErrTranscribeFailed = errors.New("whisper.cpp transcription failed")
	ErrLanguage         = errors.New("unsupported language")
)

// DeviceKind classifies a ggml device.
type DeviceKind int

const (
	DeviceCPU DeviceKind = iota
	DeviceGPU
	DeviceIntegratedGPU
	DeviceAccelerator
)

func (k DeviceKind) String() string {
	switch k {
	case DeviceCPU:
		return "CPU"
	case DeviceGPU:
		return "GPU"
	case DeviceIntegratedGPU:
		return "iGPU"
	case DeviceAccelerator:
		return "accelerator"
	}
	return "other"
}

// Device is one ggml compute device (a CPU, a CUDA/Vulkan/Metal GPU, a BLAS accelerator).
type Device struct {
	Index       int
	Name        string
	Description string
	Kind        DeviceKind
	FreeMemory  uint64
	TotalMemory uint64
}

func (d Device) String() string {
	if d.Description == "" || d.Description == d.Name {
		return d.Name
	}
	return d.Name + " " + d.Description
}

var initOnce sync.Once

// initBackends loads every ggml backend module once and routes logs into slog.
func initBackends() { initOnce.Do(func() { C.dictate_init_backends() }) }

// Devices lists the compute devices that ggml found.
func Devices() []Device {
	initBackends()
	n := int(C.dictate_device_count())
	out := make([]Device, 0, n)
	for i := 0; i < n; i++ {
		var d C.dictate_device
		C.dictate_device_get(C.int(i), &d)
		kind := DeviceKind(-1)
		switch d._type {
		case C.GGML_BACKEND_DEVICE_TYPE_CPU:
			kind = DeviceCPU
		case C.GGML_BACKEND_DEVICE_TYPE_GPU:
			kind = DeviceGPU
		case C.GGML_BACKEND_DEVICE_TYPE_IGPU:
			kind = DeviceIntegratedGPU
		case C.GGML_BACKEND_DEVICE_TYPE_ACCEL:
			kind = DeviceAccelerator
		}
		out = append(out, Device{Index: i, Name: C.GoString(&d.name[0]), Description: C.GoString(&d.description[0]),
			Kind: kind, FreeMemory: uint64(d.memory_free), TotalMemory: uint64(d.memory_total)})
	}
	return out
}

// Version is whisper.cpp's version string.
func Version() string { return C.GoString(C.whisper_version()) }

// SystemInfo is whisper.cpp's CPU feature and backend summary.
func SystemInfo() string {
	initBackends()
	return strings.TrimSpace(whisper.Whisper_print_system_info())
}

// LoadOptions choose where the model runs.
type LoadOptions struct {
	GPU            bool // use a GPU when one is present
	GPUDevice      int  // which GPU (0 = first)
	FlashAttention bool
}

// Model is a loaded whisper model. It is safe for concurrent use: jobs run one at a time.
type Model struct {
	slot     chan struct{} // holds one token: whoever has it may use ctx
	ctx      *C.struct_whisper_context
	info     ModelInfo
	device   string
	loadTime time.Duration
}

// Load validates the file, then loads it with whisper.cpp. When a GPU was asked for but
// loading on it fails, it falls back to the CPU.
func Load(path string, opts LoadOptions) (*Model, error) {
	info, err := ValidateModelFile(path)
	if err != nil {
		return nil, err
	}
	initBackends()
	start := time.Now()
	device := "CPU"
	useGPU := opts.GPU
	if useGPU {
		idx := int(C.dictate_gpu_device_index(C.int(opts.GPUDevice)))
		if idx < 0 {
			useGPU = false
		} else {
			device = Devices()[idx].String()
		}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	ctx := C.dictate_load(cpath, C.bool(useGPU), C.int(opts.GPUDevice), C.bool(opts.FlashAttention))
	if ctx == nil && useGPU {
		slog.Warn("loading on the GPU failed; falling back to the CPU", "device", device)
		device = "CPU"
		ctx = C.dictate_load(cpath, false, 0, C.bool(opts.FlashAttention))
	}
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s", ErrLoadFailed, path)
	}
	if device == "CPU" {
		device = cpuDeviceName()
	}
	m := &Model{slot: make(chan struct{}, 1), ctx: ctx, info: info, device: device, loadTime: time.Since(start)}
	m.slot <- struct{}{}
	return m, nil
}

func cpuDeviceName() string {
	for _, d := range Devices() {
		if d.Kind == DeviceCPU {
			return "CPU (" + d.Description + ")"
		}
	}
	return "CPU"
}

// Info describes the loaded file.
func (m *Model) Info() ModelInfo { return m.info }

// Device names where the model runs, e.g. "CUDA0 NVIDIA GeForce RTX 4090" or "CPU (…)".
func (m *Model) Device() string { return m.device }

// LoadTime is how long whisper.cpp took to load the model.
func (m *Model) LoadTime() time.Duration { return m.loadTime }

// Close frees the model after any running job ends. Later calls return ErrClosed.
func (m *Model) Close() error {
	if _, ok := <-m.slot; !ok {
		return ErrClosed
	}
	C.whisper_free(m.ctx)
	m.ctx = nil
	close(m.slot)
	return nil
}

// Options for one transcription.
type Options struct {
	Language            string  // ISO code such as "en"; "" or "auto" detects
	Translate           bool    // translate into English
	Threads             int     // 0: one per core, at most 8
	InitialPrompt       string  // vocabulary or style hint
	MaxTokens           int     // tokens per 30 s window; 0: no limit
	AudioCtx            int     // encoder context (0: full 1500 = 30 s)
	BeamSize            int     // 0 or 1: greedy
	NoSpeechThreshold   float32 // 0: whisper.cpp's default
	CarryContext        bool    // feed earlier windows' text into later ones (off: avoids loops)
	TemperatureFallback bool    // retry failed windows at higher temperature
	Progress            func(percent int)
}

// Segment is a span of recognised text.
type Segment struct {
	Start, End   time.Duration
	Text         string
	NoSpeechProb float32
}

// Timings break down one transcription.
type Timings struct {
	Load   time.Duration // model load (same for every job of a model)
	Mel    time.Duration // audio to log-mel spectrogram
	Encode time.Duration // encoder, all windows
	Decode time.Duration // decoder and sampling
	Total  time.Duration
	Tokens int // sampling steps
}

// Result of a transcription.
type Result struct {
	Text     string
	Segments []Segment
	Language string
	Timings  Timings
	Device   string
}

// minSamples pads short takes: whisper.cpp skips input under one second.
const minSamples = SampleRate * 11 / 10

// Transcribe runs whisper_full over pcm (16 kHz mono). Cancelling ctx stops it at the next
// window or token and returns ctx.Err(). Concurrent callers wait their turn (or until their
// context ends).
func (m *Model) Transcribe(ctx context.Context, pcm []float32, opts Options) (Result, error) {
	if len(pcm) == 0 {
		return Result{}, ErrEmptyAudio
	}
	select {
	case _, ok := <-m.slot:
		if !ok {
			return Result{}, ErrClosed
		}
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { m.slot <- struct{}{} }()
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	duration := time.Duration(len(pcm)) * time.Second / SampleRate
	if len(pcm) < minSamples {
		padded := make([]float32, minSamples)
		copy(padded, pcm)
		pcm = padded
	}

	params, err := m.params(opts)
	if err != nil {
		return Result{}, err
	}
	defer C.dictate_params_free(params)

	// The job lives in C memory: C callbacks read it while Go may be moving its stack.
	job := (*C.dictate_job)(C.calloc(1, C.size_t(unsafe.Sizeof(C.dictate_job{}))))
	defer C.free(unsafe.Pointer(job))
	reporter := newProgressReporter(opts.Progress)
	handle := cgo.NewHandle(reporter)
	defer handle.Delete()
	job.handle = C.uintptr_t(handle)

	done := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
			C.dictate_job_cancel(job)
		case <-done:
		}
	}()
	reporterDone := reporter.run(done)

	rc := C.dictate_full(m.ctx, params, (*C.float)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)), job)
	total := time.Duration(int64(C.dictate_now_us())-int64(job.t_start_us)) * time.Microsecond
	close(done)
	<-watcherDone
	<-reporterDone
	runtime.KeepAlive(pcm)

	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if rc != 0 {
		return Result{}, fmt.Errorf("%w (code %d)", ErrTranscribeFailed, int(rc))
	}
	res := Result{Device: m.device}
	res.Timings = Timings{Load: m.loadTime, Total: total, Tokens: int(job.steps),
		Encode: time.Duration(job.encode_us) * time.Microsecond}
	if job.windows > 0 {
		res.Timings.Mel = time.Duration(int64(job.t_first_encode_us)-int64(job.t_start_us)) * time.Microsecond
	}
	res.Timings.Decode = max(0, total-res.Timings.Mel-res.Timings.Encode)

	wctx := (*whisper.Context)(unsafe.Pointer(m.ctx))
	res.Language = "en"
	if m.info.Arch.Multilingual() {
		res.Language = whisper.Whisper_lang_str(wctx.Whisper_full_lang_id())
	}
	var text strings.Builder
	var prevEnd time.Duration
	for i := 0; i < wctx.Whisper_full_n_segments(); i++ {
		seg := Segment{
			Start:        time.Duration(wctx.Whisper_full_get_segment_t0(i)) * 10 * time.Millisecond,
			End:          time.Duration(wctx.Whisper_full_get_segment_t1(i)) * 10 * time.Millisecond,
			Text:         strings.TrimSpace(wctx.Whisper_full_get_segment_text(i)),
			NoSpeechProb: float32(C.whisper_full_get_segment_no_speech_prob(m.ctx, C.int(i))),
		}
		// Without timestamp tokens (first-generation distilled models force that) whisper.cpp
		// leaves t0 meaningless; the segment then starts where the previous one ended.
		if seg.Start < 0 || seg.Start > seg.End {
			seg.Start = prevEnd
		}
		// Padding and window ends can run past the real audio.
		seg.Start, seg.End = min(seg.Start, duration), min(seg.End, duration)
		prevEnd = seg.End
		if seg.End < seg.Start {
			seg.End = seg.Start
		}
		if seg.Text == "" {
			continue
		}
		if text.Len() > 0 {
			text.WriteByte(' ')
		}
		text.WriteString(seg.Text)
		res.Segments = append(res.Segments, seg)
	}
	res.Text = text.String()
	return res, nil
}

// params builds whisper_full parameters. Defaults suit dictation with distilled models:
// greedy, no temperature fallback (random or confused windows then end at MaxTokens instead
// of re-decoding), and no text carried between windows, which avoids repetition loops.
func (m *Model) params(opts Options) (*C.struct_whisper_full_params, error) {
	p := C.dictate_params_new(C.int(opts.BeamSize))
	bp := (*whisper.Params)(unsafe.Pointer(p))
	fail := func(err error) (*C.struct_whisper_full_params, error) {
		C.dictate_params_free(p)
		return nil, err
	}
	lang := strings.ToLower(strings.TrimSpace(opts.Language))
	multilingual := m.info.Arch.Multilingual()
	switch {
	case (lang == "" || lang == "auto") && !multilingual:
		if err := bp.SetLanguage(0); err != nil { // English, the only choice
			return fail(err)
		}
	case lang == "" || lang == "auto":
		if err := bp.SetLanguage(-1); err != nil {
			return fail(err)
		}
	default:
		id := (*whisper.Context)(unsafe.Pointer(m.ctx)).Whisper_lang_id(lang)
		if id < 0 {
			return fail(fmt.Errorf("%w: %q is not a language whisper knows", ErrLanguage, opts.Language))
		}
		if !multilingual && lang != "en" {
			return fail(fmt.Errorf("%w: this model is English-only; use a multilingual model for %q", ErrLanguage, lang))
		}
		if err := bp.SetLanguage(id); err != nil {
			return fail(err)
		}
	}
	if opts.Translate && !multilingual {
		return fail(fmt.Errorf("%w: translation needs a multilingual model", ErrLanguage))
	}
	bp.SetTranslate(opts.Translate)
	threads := opts.Threads
	if threads <= 0 {
		threads = min(runtime.NumCPU(), 8)
	}
	bp.SetThreads(threads)
	bp.SetNoContext(!opts.CarryContext)
	if opts.MaxTokens > 0 {
		bp.SetMaxTokensPerSegment(opts.MaxTokens)
	}
	if opts.AudioCtx > 0 {
		bp.SetAudioCtx(min(opts.AudioCtx, m.info.Arch.NAudioCtx))
	}
	if !opts.TemperatureFallback {
		bp.SetTemperatureFallback(-1)
	}
	bp.SetTemperature(0)
	if opts.NoSpeechThreshold > 0 {
		p.no_speech_thold = C.float(opts.NoSpeechThreshold)
	}
	if opts.InitialPrompt != "" {
		cs := C.CString(opts.InitialPrompt)
		C.dictate_params_set_prompt(p, cs)
		C.free(unsafe.Pointer(cs))
	}
	return p, nil
}

// progressReporter passes whisper's progress from the C callback to the caller's function on
// a goroutine of its own, so the callback never blocks inference.
type progressReporter struct {
	fn      func(int)
	percent atomic.Int32
	wake    chan struct{}
}

func newProgressReporter(fn func(int)) *progressReporter {
	return &progressReporter{fn: fn, wake: make(chan struct{}, 1)}
}

func (r *progressReporter) report(p int) {
	// whisper.cpp reports past 100 when the last window overruns the audio.
	r.percent.Store(int32(min(max(p, 0), 100)))
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run forwards reports until done closes; the returned channel closes when it has ended.
func (r *progressReporter) run(done <-chan struct{}) <-chan struct{} {
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		if r.fn == nil {
			return
		}
		last := int32(-1)
		for {
			select {
			case <-r.wake:
				if p := r.percent.Load(); p != last {
					last = p
					r.fn(int(p))
				}
			case <-done:
				return
			}
		}
	}()
	return ended
}

//export dictateProgress
func dictateProgress(handle C.uintptr_t, progress C.int) {
	cgo.Handle(handle).Value().(*progressReporter).report(int(progress))
}

// whisper.cpp logs in fragments (GGML_LOG_LEVEL_CONT continues a line); lines are joined
// here and sent to slog, with whisper's chatty INFO demoted to DEBUG.
var logLine struct {
	sync.Mutex
	level slog.Level
	buf   strings.Builder
}

//export dictateLog
func dictateLog(level C.int, text *C.char) {
	s := C.GoString(text)
	logLine.Lock()
	defer logLine.Unlock()
	if level != C.GGML_LOG_LEVEL_CONT {
		logLine.level = map[C.int]slog.Level{C.GGML_LOG_LEVEL_DEBUG: slog.LevelDebug - 4,
			C.GGML_LOG_LEVEL_INFO: slog.LevelDebug, C.GGML_LOG_LEVEL_WARN: slog.LevelWarn,
			C.GGML_LOG_LEVEL_ERROR: slog.LevelError}[level]
	}
	if strings.Contains(s, "forcing no_timestamps") {
		logLine.level = slog.LevelDebug // expected for distilled models, not a user concern
	}
	logLine.buf.WriteString(s)
	if strings.HasSuffix(s, "\n") {
		if line := strings.TrimSpace(logLine.buf.String()); line != "" {
			slog.Log(context.Background(), logLine.level, line, "source", "whisper.cpp")
		}
		logLine.buf.Reset()
	}
}
