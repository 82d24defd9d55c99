package audio

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gordonklaus/portaudio"
)

// ErrNoInput is returned when no microphone matches or none exists.
var ErrNoInput = errors.New("no audio input device")

// ErrDeviceStopped reports a microphone that stopped delivering audio mid-take (unplugged).
var ErrDeviceStopped = errors.New("the microphone stopped delivering audio")

// CaptureConfig chooses and tunes the microphone.
type CaptureConfig struct {
	Device string // input device name (or a unique part of it); "" for the default

	// Tail keeps recording this long after Stop so the last word is not cut (default 300 ms).
	Tail time.Duration
	// QuietTail ends the tail early when the speaker has already stopped: once audio that
	// arrived after Stop shows the last QuietGap at the background level (QuietFor). A
	// word still being spoken at the release gets the whole Tail.
	QuietTail bool

	// InstantStart keeps the stream open between takes and prepends PreRoll of audio from
	// before the key press, so no first word is ever lost. Off, the stream opens on each
	// press (about 5 ms), which keeps the desktop's microphone indicator off between takes;
	// but ALSA's PulseAudio plugin starts a stream opened after a pause of a second or more
	// only after ~2 s (measured), which a take would lose.
	InstantStart bool
	PreRoll      time.Duration // default 300 ms

	// OnLevel receives the RMS (0..1) of each block while recording; it must not block.
	OnLevel func(rms float32)

	// MaxInMemory bounds the samples a take keeps in memory (default 10 minutes); a longer
	// take is still complete in its spool file.
	MaxInMemory time.Duration

	// SpoolDir, when set, receives every take as a 16 kHz WAV file as it is recorded, so no
	// recording is lost even if transcription fails or the app dies.
	SpoolDir string

	// Stall is how long without audio counts as a failed device (default 1 s).
	Stall time.Duration
}

func (c *CaptureConfig) defaults() {
	if c.Tail == 0 {
		c.Tail = 300 * time.Millisecond
	}
	if c.PreRoll == 0 {
		c.PreRoll = 300 * time.Millisecond
	}
	if c.MaxInMemory == 0 {
		c.MaxInMemory = 10 * time.Minute
	}
	if c.Stall == 0 {
		c.Stall = time.Second
	}
}

// InputDevice is a microphone PortAudio can open.
type InputDevice struct {
	Name       string
	HostAPI    string
	Channels   int
	SampleRate float64
	Default    bool
}

// inputStream is what the microphone needs of PortAudio; tests replace it.
type inputStream interface {
	Start() error
	Stop() error
	Close() error
	// InputLatency is how long audio takes from the microphone to a delivered block.
	InputLatency() time.Duration
}

// streamOpener opens a mono float32 input stream delivering blocks to cb.
type streamOpener func(dev string, cb func(block []float32)) (inputStream, float64, error)

var paInit struct {
	sync.Mutex
	done bool
	err  error
	open int // streams open; PortAudio can only re-scan devices when none are
}

// countedStream keeps paInit.open right.
type countedStream struct{ *portaudio.Stream }

func (c countedStream) Close() error {
	err := c.Stream.Close()
	paInit.Lock()
	paInit.open--
	paInit.Unlock()
	return err
}

func (c countedStream) InputLatency() time.Duration {
	if i := c.Stream.Info(); i != nil {
		return i.InputLatency
	}
	return minInputLatency
}

func openCounted(p portaudio.StreamParameters, cb any) (countedStream, error) {
	s, err := portaudio.OpenStream(p, cb)
	if err != nil {
		return countedStream{}, err
	}
	paInit.Lock()
	paInit.open++
	paInit.Unlock()
	return countedStream{s}, nil
}

// rescanDevices makes PortAudio list the devices again when no stream is open (it lists
// them once, at initialisation), so a microphone plugged in later can be found. It reports
// whether it did.
func rescanDevices() bool {
	paInit.Lock()
	defer paInit.Unlock()
	if !paInit.done || paInit.open > 0 {
		return false
	}
	portaudio.Terminate()
	paInit.err = portaudio.Initialize()
	paInit.done = paInit.err == nil
	return paInit.done
}

func initPortAudio() error {
	paInit.Lock()
	defer paInit.Unlock()
	if !paInit.done {
		paInit.err = portaudio.Initialize()
		paInit.done = paInit.err == nil
	}
	return paInit.err
}

// InputDevices lists the microphones.
func InputDevices() ([]InputDevice, error) {
	if err := initPortAudio(); err != nil {
		return nil, err
	}
	devs, err := portaudio.Devices()
	if err != nil {
		return nil, err
	}
	def, _ := portaudio.DefaultInputDevice()
	var out []InputDevice
	for _, d := range devs {
		if d.MaxInputChannels < 1 {
			continue
		}
		out = append(out, InputDevice{Name: d.Name, HostAPI: d.HostApi.Name, Channels: d.MaxInputChannels,
			SampleRate: d.DefaultSampleRate, Default: def != nil && d.Name == def.Name})
	}
	return out, nil
}

func findInput(name string) (*portaudio.DeviceInfo, error) {
	if name == "" {
		d, err := portaudio.DefaultInputDevice()
		if err != nil || d == nil {
			return nil, fmt.Errorf("%w: no default input (%v)", ErrNoInput, err)
		}
		return d, nil
	}
	devs, err := portaudio.Devices()
	if err != nil {
		return nil, err
	}
	var matches []*portaudio.DeviceInfo
	for _, d := range devs {
		if d.MaxInputChannels < 1 {
			continue
		}
		if d.Name == name {
			return d, nil
		}
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(name)) {
			matches = append(matches, d)
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%w named %q (see dictate devices)", ErrNoInput, name)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, d := range matches {
		names[i] = d.Name
	}
	return nil, fmt.Errorf("%w: %q matches several inputs: %s", ErrNoInput, name, strings.Join(names, "; "))
}

var minInputLatency = 30 * time.Millisecond

// deviceRates remembers the rate chosen for each device: Pa_IsFormatSupported is asked
// once, because with ALSA's PulseAudio plugin a stream opened right after that check stays
// silent (measured: 232 samples in a second, every time).
var deviceRates struct {
	sync.Mutex
	m map[string]float64
}

// openPortAudio opens the device at 16 kHz when it supports that (PulseAudio, PipeWire and
// most USB microphones do), else at its own rate for the resampler.
func openPortAudio(name string, cb func([]float32)) (inputStream, float64, error) {
	if err := initPortAudio(); err != nil {
		return nil, 0, err
	}
	dev, err := findInput(name)
	if err != nil && rescanDevices() {
		dev, err = findInput(name)
	}
	if err != nil {
		return nil, 0, err
	}
	p := portaudio.LowLatencyParameters(dev, nil)
	p.Input.Channels = 1
	// The same plugin starves below ~20 ms of buffering; 30 ms costs nothing noticeable.
	p.Input.Latency = max(p.Input.Latency, minInputLatency)
	deviceRates.Lock()
	rate, ok := deviceRates.m[dev.Name]
	if !ok {
		p.SampleRate = TargetRate
		rate = TargetRate
		if portaudio.IsFormatSupported(p, func([]float32) {}) != nil {
			rate = dev.DefaultSampleRate
		}
		if deviceRates.m == nil {
			deviceRates.m = map[string]float64{}
		}
		deviceRates.m[dev.Name] = rate
	}
	deviceRates.Unlock()
	p.SampleRate = rate
	// 100 ms blocks. Each callback costs about 0.3 ms of CPU in PortAudio, ALSA's PulseAudio
	// plugin and cgo (measured on a 2-core VM): the 120-frame blocks the host API picks by
	// itself made an open, waiting stream cost 4% of a core, 100 ms blocks 0.4%. (10 ms blocks
	// stall that plugin: one callback per second.) The take's start is covered by pre-roll,
	// and its tail by the 300 ms recorded after release.
	p.FramesPerBuffer = int(rate / 10)
	s, err := openCounted(p, func(in []float32) { cb(in) })
	if err != nil {
		return nil, 0, fmt.Errorf("opening %s: %w", dev.Name, err)
	}
	return s, p.SampleRate, nil
}

// Microphone records takes.
type Microphone struct {
	cfg  CaptureConfig
	open streamOpener

	mu      sync.Mutex
	stream  inputStream
	rate    float64
	latency time.Duration // the stream's input latency
	blocks  chan []float32
	take    *Take
	closed  bool
	pumpEnd chan struct{}
	warm    chan struct{} // closed once the device has run once (nil: no warm-up)

	firstBlock chan struct{} // closed once the open stream has delivered a pre-roll's worth
	firstOnce  sync.Once
	received   atomic.Int64

	// Between takes the stream's callback keeps the pre-roll itself: handing every block to
	// a goroutine woke Go's scheduler ten times a second, which cost a waiting app more CPU
	// than PortAudio did (1.05 % against 0.35 % of a core, measured). Blocks go to the pump
	// only while recording.
	ringMu    sync.Mutex
	ring      []float32 // the last PreRoll of audio
	ringKeep  int
	recording bool
}

// OpenMicrophone initialises PortAudio and checks the device now (host APIs probe their
// devices for up to seconds on the first call, which must not delay the first take); in
// instant-start mode the stream opens now too.
func OpenMicrophone(cfg CaptureConfig) (*Microphone, error) {
	if err := initPortAudio(); err != nil {
		return nil, fmt.Errorf("audio system: %w", err)
	}
	if _, err := findInput(cfg.Device); err != nil {
		return nil, err
	}
	m, err := openMicrophone(cfg, openPortAudio)
	if err != nil {
		return nil, err
	}
	m.warm = make(chan struct{})
	if cfg.InstantStart {
		go func() {
			select {
			case <-m.firstBlock:
			case <-time.After(3 * time.Second):
			}
			close(m.warm)
		}()
	} else {
		go m.warmUp()
	}
	return m, nil
}

// Ready is closed once the microphone can start a take without delay.
func (m *Microphone) Ready() <-chan struct{} {
	if m.warm == nil {
		ready := make(chan struct{})
		close(ready)
		return ready
	}
	return m.warm
}

// warmUp runs the device once: with ALSA's PulseAudio plugin the first stream of a
// process delivers its first block only after ~2 s and then starves (measured), a stream
// opened right after it starts in ~12 ms. The first take waits for this.
func (m *Microphone) warmUp() {
	defer close(m.warm)
	got := make(chan struct{}, 1)
	s, _, err := m.open(m.cfg.Device, func([]float32) {
		select {
		case got <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return
	}
	if s.Start() == nil {
		select {
		case <-got:
		case <-time.After(3 * time.Second):
		}
		s.Stop()
	}
	s.Close()
}

func openMicrophone(cfg CaptureConfig, open streamOpener) (*Microphone, error) {
	cfg.defaults()
	m := &Microphone{cfg: cfg, open: open, firstBlock: make(chan struct{})}
	if cfg.InstantStart {
		if err := m.openStream(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// openStream starts the device and the goroutine that drains its blocks.
func (m *Microphone) openStream() error {
	blocks := make(chan []float32, 512) // ~50 s of 100 ms blocks of slack
	s, rate, err := m.open(m.cfg.Device, func(in []float32) { m.onBlock(in, blocks) })
	if err != nil {
		return err
	}
	m.ringMu.Lock()
	m.ring, m.ringKeep, m.recording = m.ring[:0], int(m.cfg.PreRoll.Seconds()*rate), false
	m.ringMu.Unlock()
	m.received.Store(0)
	if err := s.Start(); err != nil {
		s.Close()
		return err
	}
	m.stream, m.rate, m.blocks, m.latency = s, rate, blocks, s.InputLatency()
	m.pumpEnd = make(chan struct{})
	go m.pump(blocks, m.pumpEnd)
	return nil
}

// onBlock runs on PortAudio's thread: it keeps the pre-roll between takes, or copies the
// block to the pump while recording; it never waits on anything but the short ring lock.
func (m *Microphone) onBlock(in []float32, blocks chan []float32) {
	m.ringMu.Lock()
	if !m.recording {
		m.keepPreRoll(in)
		keep := m.ringKeep
		m.ringMu.Unlock()
		m.prime(len(in), keep)
		return
	}
	m.ringMu.Unlock()
	select {
	case blocks <- append([]float32(nil), in...):
	default:
	}
}

// keepPreRoll appends to the ring, keeping its last ringKeep samples (m.ringMu held).
func (m *Microphone) keepPreRoll(b []float32) {
	m.ring = append(m.ring, b...)
	if len(m.ring) > m.ringKeep {
		m.ring = append(m.ring[:0], m.ring[len(m.ring)-m.ringKeep:]...)
	}
}

// prime makes the microphone ready once a full pre-roll has arrived: a stream's first
// blocks can be silence while the audio server starts it (with 100 ms blocks, a take
// started on the first block lost its first 100 ms; measured by TestE2ESignalCapture).
func (m *Microphone) prime(n, keep int) {
	if m.received.Add(int64(n)) >= int64(keep) {
		m.firstOnce.Do(func() { close(m.firstBlock) })
	}
}

func (m *Microphone) closeStream() {
	if m.stream == nil {
		return
	}
	m.stream.Stop()
	m.stream.Close()
	close(m.blocks)
	<-m.pumpEnd
	m.stream = nil
}

// pump moves blocks to the current take. The first block after a take has ended goes back
// to the ring, and from then on the callback keeps the pre-roll again.
func (m *Microphone) pump(blocks chan []float32, end chan struct{}) {
	defer close(end)
	for b := range blocks {
		m.mu.Lock()
		if t := m.take; t != nil {
			t.add(b)
		} else {
			m.ringMu.Lock()
			m.keepPreRoll(b)
			m.recording = false
			m.ringMu.Unlock()
		}
		m.mu.Unlock()
	}
}

// Start begins a take. Only one take records at a time.
func (m *Microphone) Start() (*Take, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("microphone is closed")
	}
	if m.take != nil {
		m.mu.Unlock()
		return nil, errors.New("a take is already recording")
	}
	m.mu.Unlock()
	if m.warm != nil {
		<-m.warm
	}
	started := time.Now()
	if m.stream == nil {
		if err := m.openStream(); err != nil {
			return nil, err
		}
	}
	t, err := newTake(m, started)
	if err != nil {
		if !m.cfg.InstantStart {
			m.closeStream()
		}
		return nil, err
	}
	// From here the callback hands blocks to the pump, which cannot attach them anywhere
	// before m.take is set: m.mu is held across the switch, so no block is lost or reordered.
	m.mu.Lock()
	m.ringMu.Lock()
	m.recording = true
	pre := append([]float32(nil), m.ring...)
	m.ring = m.ring[:0]
	m.ringMu.Unlock()
	if len(pre) > 0 {
		t.add(pre)
		t.prerolled = time.Duration(len(pre)) * time.Second / time.Duration(m.rate)
	}
	m.take = t
	m.mu.Unlock()
	go t.watch()
	return t, nil
}

func (m *Microphone) finish(t *Take) {
	m.mu.Lock()
	if m.take == t {
		m.take = nil
	}
	m.mu.Unlock()
	if !m.cfg.InstantStart {
		m.closeStream()
	}
}

// Close stops the device.
func (m *Microphone) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.closeStream()
	return nil
}

// TakeAudio is a finished take.
type TakeAudio struct {
	Samples       []float32     // 16 kHz mono; complete unless Truncated
	Truncated     bool          // longer than MaxInMemory: the full take is in Path
	Path          string        // the spooled WAV ("" without SpoolDir)
	Duration      time.Duration // of the whole take
	StartedAt     time.Time     // when Start was called
	FirstSampleAt time.Time     // when the first block arrived
	PreRoll       time.Duration // audio from before Start (instant-start mode)
	Err           error         // a device failure mid-take; the audio so far is kept
}

// Take is one recording in progress.
type Take struct {
	mic       *Microphone
	res       *resampler
	samples   []float32
	limit     int
	total     int64
	spool     *wavSpool
	started   time.Time
	first     time.Time
	prerolled time.Duration
	lastBlock time.Time
	latency   time.Duration // from the microphone to a delivered block
	err       error
	stopping  chan struct{}
	done      chan struct{}
	mu        sync.Mutex
}

func newTake(m *Microphone, started time.Time) (*Take, error) {
	t := &Take{mic: m, started: started, limit: int(m.cfg.MaxInMemory.Seconds() * TargetRate),
		stopping: make(chan struct{}), done: make(chan struct{}), lastBlock: time.Now(), latency: m.latency}
	if m.rate != TargetRate {
		r, err := newResampler(int(m.rate), TargetRate)
		if err != nil {
			return nil, err
		}
		t.res = r
	}
	if m.cfg.SpoolDir != "" {
		sp, err := newWAVSpool(m.cfg.SpoolDir, started)
		if err != nil {
			return nil, fmt.Errorf("cannot save the recording: %w", err)
		}
		t.spool = sp
	}
	return t, nil
}

// add takes a block at the device rate (called with the microphone locked).
func (t *Take) add(block []float32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if t.first.IsZero() {
		t.first = now
	}
	t.lastBlock = now
	if f := t.mic.cfg.OnLevel; f != nil {
		f(rms(block))
	}
	out := block
	if t.res != nil {
		var err error
		if out, err = t.res.process(block); err != nil {
			t.err = err
			return
		}
	}
	t.keep(out)
}

func (t *Take) keep(out []float32) {
	t.total += int64(len(out))
	if room := t.limit - len(t.samples); room > 0 {
		t.samples = append(t.samples, out[:min(room, len(out))]...)
	}
	if t.spool != nil {
		if err := t.spool.write(out); err != nil && t.err == nil {
			t.err = fmt.Errorf("saving the recording: %w", err)
		}
	}
}

// watch notices a device that stops delivering audio and ends the take with what it has.
func (t *Take) watch() {
	tick := time.NewTicker(t.mic.cfg.Stall / 4)
	defer tick.Stop()
	for {
		select {
		case <-t.stopping:
			return
		case <-tick.C:
			t.mu.Lock()
			stalled := time.Since(t.lastBlock) > t.mic.cfg.Stall
			if stalled && t.err == nil {
				t.err = ErrDeviceStopped
			}
			t.mu.Unlock()
			if stalled {
				return
			}
		}
	}
}

// Failed reports a device failure while recording (callers may end the take early).
func (t *Take) Failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if errors.Is(t.err, ErrDeviceStopped) {
		return t.err
	}
	return nil
}

// Stop records the tail, ends the take and returns its audio. A device failure is reported
// in TakeAudio.Err with the audio recorded until then.
func (t *Take) Stop() TakeAudio {
	select {
	case <-t.done:
		return t.result()
	default:
	}
	if t.Failed() == nil {
		t.recordTail()
	}
	close(t.stopping)
	t.mic.finish(t)
	t.mu.Lock()
	if t.res != nil {
		if tail, err := t.res.flush(); err == nil {
			t.keep(tail)
		}
	}
	if t.spool != nil {
		if err := t.spool.close(); err != nil && t.err == nil {
			t.err = err
		}
	}
	t.mu.Unlock()
	close(t.done)
	return t.result()
}

// QuietGap is how long the end of a take must be silent for QuietTail to end the tail.
const QuietGap = 200 * time.Millisecond

// recordTail waits out the tail, or with QuietTail until the speaker is found silent.
func (t *Take) recordTail() {
	tail := t.mic.cfg.Tail
	if !t.mic.cfg.QuietTail {
		time.Sleep(tail)
		return
	}
	stopAt := time.Now()
	deadline := stopAt.Add(tail)
	for {
		wait := min(20*time.Millisecond, time.Until(deadline))
		if wait <= 0 {
			return
		}
		time.Sleep(wait)
		if t.quietAfter(stopAt) {
			return
		}
	}
}

// quietAfter tells whether the speaker has been silent for QuietGap at the end of what the
// take holds, once a block arrived long enough after stopAt for the release's audio to be
// in: the input latency, at most 100 ms. PortAudio reports its whole buffer there (200 ms
// through ALSA's PulseAudio plugin), while a block's newest audio is younger; and a word
// lasts longer than 100 ms, so one begun before the release shows in the audio by then.
// Only the last 10 s are looked at.
func (t *Take) quietAfter(stopAt time.Time) bool {
	t.mu.Lock()
	if t.lastBlock.Before(stopAt.Add(min(t.latency, 100*time.Millisecond))) || int64(len(t.samples)) < t.total {
		t.mu.Unlock()
		return false // the release's audio is still on its way, or past what is kept in memory
	}
	recent := append([]float32(nil), t.samples[max(0, len(t.samples)-10*TargetRate):]...)
	t.mu.Unlock()
	return QuietFor(recent) >= QuietGap
}

func (t *Take) result() TakeAudio {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := TakeAudio{Samples: t.samples, Truncated: int64(len(t.samples)) < t.total,
		Duration: time.Duration(t.total) * time.Second / TargetRate, StartedAt: t.started,
		FirstSampleAt: t.first, PreRoll: t.prerolled, Err: t.err}
	if t.spool != nil {
		a.Path = t.spool.path
	}
	return a
}

func rms(b []float32) float32 {
	if len(b) == 0 {
		return 0
	}
	var s float64
	for _, v := range b {
		s += float64(v) * float64(v)
	}
	return float32(math.Sqrt(s / float64(len(b))))
}

// wavSpool writes a 16 kHz mono 16-bit WAV as samples arrive; the header's sizes are
// filled in on close (a reader treats the zero sizes of an unclosed file as "to the end").
type wavSpool struct {
	f     *os.File
	path  string
	bytes int64
	buf   []byte
}

func newWAVSpool(dir string, t time.Time) (*wavSpool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, t.Format("take-20060102-150405-*.wav"))
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	if err := WriteWAV(f, nil, TargetRate, 1); err != nil {
		f.Close()
		return nil, err
	}
	// Zero sizes until close.
	if _, err := f.WriteAt(make([]byte, 4), 4); err != nil {
		f.Close()
		return nil, err
	}
	return &wavSpool{f: f, path: f.Name()}, nil
}

func (w *wavSpool) write(s []float32) error {
	w.buf = w.buf[:0]
	for _, v := range s {
		x := int16(math.Round(float64(max(-1, min(1, v))) * 32767))
		w.buf = append(w.buf, byte(x), byte(x>>8))
	}
	n, err := w.f.Write(w.buf)
	w.bytes += int64(n)
	return err
}

func (w *wavSpool) close() error {
	var hdr [4]byte
	put := func(off int64, v uint32) error {
		hdr[0], hdr[1], hdr[2], hdr[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		_, err := w.f.WriteAt(hdr[:], off)
		return err
	}
	err := errors.Join(put(4, uint32(36+w.bytes)), put(40, uint32(w.bytes)))
	return errors.Join(err, w.f.Close())
}
