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
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/dictate-app/dictate/internal/atomicfile"
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
	GPUDevice      int  // which GPU: its ordinal among the GPUs (dictate devices), or AutoGPU
	FlashAttention bool
}

// AutoGPU picks the GPU: the first discrete one, else the first integrated one.
const AutoGPU = -1

// PickGPU returns the GPU ordinal (as whisper.cpp counts GPUs: discrete and integrated, in
// device order) that AutoGPU means, or -1 when there is no GPU. A discrete GPU is preferred:
// an integrated one shares the CPU's memory bandwidth and is often slower than the CPU.
func PickGPU(devs []Device) int {
	ordinal, firstIntegrated := 0, -1
	for _, d := range devs {
		switch d.Kind {
		case DeviceGPU:
			return ordinal
		case DeviceIntegratedGPU:
			if firstIntegrated < 0 {
				firstIntegrated = ordinal
			}
		default:
			continue
		}
		ordinal++
	}
	return firstIntegrated
}

// Model is a loaded whisper model. It is safe for concurrent use: jobs run one at a time.
type Model struct {
	slot     chan struct{} // holds one token: whoever has it may use ctx
	ctx      *C.struct_whisper_context
	info     ModelInfo
	device   string
	onGPU    bool
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
	if useGPU && opts.GPUDevice == AutoGPU {
		opts.GPUDevice = PickGPU(Devices())
		useGPU = opts.GPUDevice >= 0
	}
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
		engineLog().Warn("loading on the GPU failed; falling back to the CPU", "device", device)
		device = "CPU"
		ctx = C.dictate_load(cpath, false, 0, C.bool(opts.FlashAttention))
	}
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s", ErrLoadFailed, path)
	}
	onGPU := device != "CPU"
	if !onGPU {
		device = cpuDeviceName()
	}
	m := &Model{slot: make(chan struct{}, 1), ctx: ctx, info: info, device: device, onGPU: onGPU, loadTime: time.Since(start)}
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

// OnGPU tells whether the model runs on a GPU.
func (m *Model) OnGPU() bool { return m.onGPU }

// WarmUp transcribes a second of silence with opts (capped at two tokens) on a GPU, so that
// the backend builds its kernels for a take's shapes now rather than during the first take:
// on a fresh Vulkan driver cache that is seconds. The CPU has nothing to build (the first
// take is as fast as later ones), so there it returns at once.
func (m *Model) WarmUp(ctx context.Context, opts Options) error {
	if !m.onGPU {
		return nil
	}
	opts.MaxTokens, opts.Progress, opts.TemperatureFallback = 2, nil, false
	_, err := m.Transcribe(ctx, make([]float32, SampleRate), opts)
	return err
}

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
	Language      string // ISO code such as "en"; "" or "auto" detects
	Translate     bool   // translate into English
	Threads       int    // 0: DefaultThreads (one per physical core, at most 8)
	InitialPrompt string // vocabulary or style hint
	MaxTokens     int    // tokens per 30 s window; 0: no limit
	AudioCtx      int    // encoder context (0: full 1500 = 30 s)
	// AudioCtxFloorMS, when set and AudioCtx is not, encodes only as much of the 30 s window
	// as the audio needs, but never less than this: the encoder's cost falls with it, and a
	// 10 s floor keeps accuracy (shorter contexts make the decoder hallucinate).
	AudioCtxFloorMS     int
	BeamSize            int     // 0 or 1: greedy
	NoSpeechThreshold   float32 // 0: whisper.cpp's default
	CarryContext        bool    // feed earlier windows' text into later ones (off: avoids loops; the initial prompt still goes into every window)
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

// TrimmedAudioCtx is the encoder context for samples of 16 kHz audio: the audio's length
// (at least floorMS), in encoder frames (1500 per 30 s), rounded up to a multiple of 64 so
// the matrix shapes stay friendly to the backends. Audio longer than the window gets it all.
func TrimmedAudioCtx(samples, floorMS, full int) int {
	ms := max(samples*1000/SampleRate, floorMS)
	n := (ms*full + 29999) / 30000
	n = (n + 63) / 64 * 64
	return min(n, full)
}

// Languages are the codes Whisper knows ("en", "zh", …), in its order.
var Languages = func() []string {
	var langs []string
	for i := 0; i <= int(C.whisper_lang_max_id()); i++ {
		langs = append(langs, C.GoString(C.whisper_lang_str(C.int(i))))
	}
	return langs
}()

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
	samples := len(pcm)
	duration := time.Duration(samples) * time.Second / SampleRate
	if len(pcm) < minSamples {
		padded := make([]float32, minSamples)
		copy(padded, pcm)
		pcm = padded
	}

	params, err := m.params(opts, samples)
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
	cancelled := false
	go func() {
		defer close(watcherDone)
		select {
		case <-ctx.Done():
			cancelling.Add(1)
			cancelled = true
			C.dictate_job_cancel(job)
		case <-done:
		}
	}()
	reporterDone := reporter.run(done)

	rc := C.dictate_full(m.ctx, params, (*C.float)(unsafe.Pointer(&pcm[0])), C.int(len(pcm)), job)
	total := time.Duration(int64(C.dictate_now_us())-int64(job.t_start_us)) * time.Microsecond
	close(done)
	<-watcherDone
	if cancelled {
		cancelling.Add(-1)
	}
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
func (m *Model) params(opts Options, samples int) (*C.struct_whisper_full_params, error) {
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
		threads = DefaultThreads()
	}
	bp.SetThreads(threads)
	bp.SetNoContext(!opts.CarryContext)
	if opts.MaxTokens > 0 {
		bp.SetMaxTokensPerSegment(opts.MaxTokens)
	}
	if opts.AudioCtx > 0 {
		bp.SetAudioCtx(min(opts.AudioCtx, m.info.Arch.NAudioCtx))
	} else if opts.AudioCtxFloorMS > 0 && samples > 0 {
		bp.SetAudioCtx(TrimmedAudioCtx(samples, opts.AudioCtxFloorMS, m.info.Arch.NAudioCtx))
	}
	if !opts.TemperatureFallback {
		bp.SetTemperatureFallback(-1)
	}
	bp.SetTemperature(0)
	if opts.NoSpeechThreshold > 0 {
		p.no_speech_thold = C.float(opts.NoSpeechThreshold)
	}
	promptTokens := 0
	if opts.InitialPrompt != "" {
		cs := C.CString(opts.InitialPrompt)
		n := C.dictate_params_set_prompt(m.ctx, p, cs)
		C.free(unsafe.Pointer(cs))
		if n < 0 {
			return fail(fmt.Errorf("%w: could not tokenise the prompt", ErrTranscribeFailed))
		}
		promptTokens = int(n)
	}
	if !opts.CarryContext {
		// no_context only drops an earlier call's text: within one call whisper.cpp prompts
		// each 30 s window with the text of those before it, so a misheard window steers the
		// next, and a model not trained on such prompts skips whole windows after one. Only
		// the initial prompt (the vocabulary hint) goes into every window, and nothing else:
		// room for <|startofprev|> and the prompt, none for earlier text.
		p.carry_initial_prompt = true
		room := 0
		if promptTokens > 0 {
			room = promptTokens + 1
		}
		bp.SetMaxContext(room)
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

// logger receives whisper.cpp's messages and the engine's own; whisper.cpp's log callback
// is one for the process, so this is too.
var logger atomic.Pointer[slog.Logger]

// SetLogger sends the engine's and whisper.cpp's messages to l (default: slog.Default()).
func SetLogger(l *slog.Logger) { logger.Store(l) }

func engineLog() *slog.Logger {
	if l := logger.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// cancelling counts the jobs being cancelled: whisper.cpp reports an aborted job as an
// error, which a cancelled job is not.
var cancelling atomic.Int32

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
	if cancelling.Load() > 0 && (strings.Contains(s, "aborting") || strings.Contains(s, "failed to encode") || strings.Contains(s, "failed to decode")) {
		logLine.level = slog.LevelDebug // how whisper.cpp ends a job we cancelled: a live pass cut short
	}
	logLine.buf.WriteString(s)
	if strings.HasSuffix(s, "\n") {
		if line := strings.TrimSpace(logLine.buf.String()); line != "" {
			engineLog().Log(context.Background(), logLine.level, line, "source", "whisper.cpp")
		}
		logLine.buf.Reset()
	}
}

// DefaultThreads is one thread per physical core (hyper-threads share a core's matrix
// units, so a second thread per core slows ggml down), at most 8: beyond that whisper.cpp's
// encoder gains little and the desktop stutters.
var DefaultThreads = sync.OnceValue(func() int { return min(physicalCores(), 8) })

// physicalCores counts distinct (package, core) pairs in /proc/cpuinfo, where there is one
// (Linux), and falls back to the logical CPU count.
func physicalCores() int {
	n := runtime.NumCPU()
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return n
	}
	cores := map[[2]string]bool{}
	var pkg string
	for _, line := range strings.Split(string(data), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "physical id":
			pkg = strings.TrimSpace(value)
		case "core id":
			cores[[2]string{pkg, strings.TrimSpace(value)}] = true
		}
	}
	if len(cores) == 0 || len(cores) > n {
		return n // no topology given (some VMs, ARM), or affinity limits us further
	}
	return len(cores)
}

// Quantize writes a copy of the f16 or f32 model at src to dst with its weight matrices
// in type to (Q8_0, Q5_0, Q5_1, Q4_0), using ggml's own quantisers the way whisper.cpp's
// quantize tool does: biases, norms and positional embeddings stay f32, the convolutions
// f16. Distil-Whisper publishes only f16/f32 ggml files; q8_0 halves the size and speeds
// up the CPU path. progress gets the fraction of tensor bytes done.
func Quantize(ctx context.Context, src, dst string, to FileType, progress func(float64)) (ModelInfo, error) {
	info, err := ValidateModelFile(src)
	if err != nil {
		return info, err
	}
	qtype, ok := ftypeWeights[int32(to)]
	if !ok || to == F32 || to == F16 {
		return info, fmt.Errorf("cannot quantise to %v (want q8_0, q5_0, q5_1 or q4_0)", to)
	}
	from := FileType(info.FType % 1000)
	if from != F16 && from != F32 {
		return info, fmt.Errorf("%s is already quantised (%s); start from the f16 or f32 file", src, info.WeightType)
	}
	in, err := os.Open(src)
	if err != nil {
		return info, err
	}
	defer in.Close()
	out, err := atomicfile.Create(dst, 0o644)
	if err != nil {
		return info, err
	}
	defer out.Abort()
	r := bufio.NewReaderSize(in, 1<<20)
	w := bufio.NewWriterSize(out, 1<<20)
	if err := quantizeStream(ctx, r, w, info, qtype, int32(to), progress); err != nil {
		return info, err
	}
	if err := w.Flush(); err != nil {
		return info, err
	}
	if _, err := ValidateModelFile(out.Name()); err != nil {
		return info, fmt.Errorf("quantised file failed its check: %w", err)
	}
	if err := out.Commit(); err != nil {
		return info, err
	}
	return ValidateModelFile(dst)
}

func quantizeStream(ctx context.Context, r io.Reader, w io.Writer, info ModelInfo, qtype ggmlType, ftype int32, progress func(float64)) error {
	s := &binStream{r: r, w: w}
	// magic and hyper-parameters, with the new ftype last
	s.copyN(4 + 10*4)
	s.i32()
	s.put(ftype)
	nMel, nFFT := s.i32(), s.i32()
	if s.err == nil && (nMel < 0 || nFFT < 0) {
		return fmt.Errorf("%w: mel filters %d×%d", ErrInvalidModel, nMel, nFFT)
	}
	s.put(nMel)
	s.put(nFFT)
	s.copyN(int64(nMel) * int64(nFFT) * 4)
	nWords := s.i32()
	s.put(nWords)
	for i := int32(0); i < nWords && s.err == nil; i++ {
		n := s.i32()
		if n < 0 {
			return fmt.Errorf("%w: vocabulary entry of %d bytes", ErrInvalidModel, n)
		}
		s.put(n)
		s.copyN(int64(n))
	}
	if s.err != nil {
		return s.err
	}
	_, specs := expectedTensors(info.Arch)
	total, done := float64(info.Size), 0.0
	for {
		nDims := s.i32()
		if s.err == io.EOF { // the end, between tensors
			if progress != nil {
				progress(1)
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		nameLen, ttype := s.i32(), s.i32()
		if s.err != nil {
			return s.err
		}
		if nDims < 1 || nDims > 4 || nameLen < 1 || nameLen > 1024 {
			return fmt.Errorf("%w: tensor header with %d dimensions and a %d-byte name", ErrInvalidModel, nDims, nameLen)
		}
		shape := make([]int64, nDims)
		for i := range shape {
			shape[i] = int64(s.i32())
		}
		name := s.read(int64(nameLen))
		if s.err != nil {
			return s.err
		}
		size, err := tensorBytes(ggmlType(ttype), shape)
		if err != nil {
			return err
		}
		data := s.read(size)
		if s.err != nil {
			return s.err
		}
		outType := ggmlType(ttype)
		switch kind := specs[string(name)].kind; {
		case kind == kindWeight:
			outType = qtype
			if data, err = quantizeTensor(data, ggmlType(ttype), qtype, shape); err != nil {
				return fmt.Errorf("tensor %s: %w", name, err)
			}
		case kind == kindConv && ggmlType(ttype) == typeF32:
			outType = typeF16 // whisper.cpp keeps convolutions in f16 in quantised models
			data = f32ToF16(data)
		}
		s.put(nDims)
		s.put(nameLen)
		s.put(int32(outType))
		for _, d := range shape {
			s.put(int32(d))
		}
		s.write(name)
		s.write(data)
		if s.err != nil {
			return s.err
		}
		done += float64(size)
		if progress != nil {
			progress(min(1, done/total))
		}
	}
}

// binStream reads and writes little-endian model fields, keeping the first error: once
// one read or write fails, the rest do nothing, and the caller checks err where it matters.
type binStream struct {
	r   io.Reader
	w   io.Writer
	err error
}

func (s *binStream) i32() int32 {
	var v int32
	if s.err == nil {
		s.err = binary.Read(s.r, binary.LittleEndian, &v)
	}
	return v
}

func (s *binStream) put(v int32) {
	if s.err == nil {
		s.err = binary.Write(s.w, binary.LittleEndian, v)
	}
}

func (s *binStream) copyN(n int64) {
	if s.err == nil {
		_, s.err = io.CopyN(s.w, s.r, n)
	}
}

func (s *binStream) read(n int64) []byte {
	if s.err != nil {
		return nil
	}
	b := make([]byte, n)
	_, s.err = io.ReadFull(s.r, b)
	return b
}

func (s *binStream) write(b []byte) {
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

func quantizeTensor(data []byte, from, to ggmlType, shape []int64) ([]byte, error) {
	perRow := shape[0]
	rows := int64(1)
	for _, d := range shape[1:] {
		rows *= d
	}
	layout := typeLayouts[to]
	if perRow%layout.blockElems != 0 {
		return nil, fmt.Errorf("rows of %d values do not split into %s blocks of %d", perRow, layout.name, layout.blockElems)
	}
	n := perRow * rows
	f32 := make([]float32, n)
	switch from {
	case typeF32:
		for i := range f32 {
			f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case typeF16:
		C.dictate_f16_to_f32((*C.uint16_t)(unsafe.Pointer(&data[0])), (*C.float)(unsafe.Pointer(&f32[0])), C.int64_t(n))
	default:
		return nil, fmt.Errorf("source type %d", from)
	}
	out := make([]byte, n/layout.blockElems*layout.blockBytes)
	written := C.dictate_quantize_rows(C.int(to), (*C.float)(unsafe.Pointer(&f32[0])), unsafe.Pointer(&out[0]), C.int64_t(rows), C.int64_t(perRow))
	if int64(written) != int64(len(out)) {
		return nil, fmt.Errorf("ggml wrote %d bytes, want %d", written, len(out))
	}
	return out, nil
}

func f32ToF16(data []byte) []byte {
	n := len(data) / 4
	f32 := make([]float32, n)
	for i := range f32 {
		f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	out := make([]byte, 2*n)
	C.dictate_f32_to_f16((*C.float)(unsafe.Pointer(&f32[0])), (*C.uint16_t)(unsafe.Pointer(&out[0])), C.int64_t(n))
	return out
}
