package audio

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gordonklaus/portaudio"
)

// pa guards PortAudio. Calls hold it shared; re-initialising it (Terminate, Initialize),
// which invalidates every device handle, holds it alone and only while no stream is open.
// A device looked up is used under the same shared hold, so a re-scan cannot pull it away.
var pa struct {
	sync.RWMutex
	ready bool
	err   error
	open  atomic.Int32 // streams open
}

func initPortAudio() error {
	pa.Lock()
	defer pa.Unlock()
	if !pa.ready {
		pa.err = portaudio.Initialize()
		pa.ready = pa.err == nil
	}
	return pa.err
}

// rescanDevices makes PortAudio list the devices again (it lists them once, at
// initialisation), so a microphone plugged in later, or an audio server that restarted,
// is found. It can only when no stream is open, and reports whether it did.
func rescanDevices() bool {
	pa.Lock()
	defer pa.Unlock()
	if !pa.ready || pa.open.Load() > 0 {
		return false
	}
	portaudio.Terminate()
	pa.err = portaudio.Initialize()
	pa.ready = pa.err == nil
	return pa.ready
}

// sharedPortAudio initialises PortAudio if needed and holds it shared; call the result to let go.
func sharedPortAudio() (func(), error) {
	if err := initPortAudio(); err != nil {
		return nil, err
	}
	pa.RLock()
	if !pa.ready { // a re-scan failed in between
		err := pa.err
		pa.RUnlock()
		return nil, err
	}
	return pa.RUnlock, nil
}

// inputStream is what the microphone needs of PortAudio; tests replace it.
type inputStream interface {
	Start() error
	Stop() error
	// Abort stops at once, for a stream whose device is gone (Stop may wait on it).
	Abort() error
	Close() error
	// InputLatency is how long audio takes from the microphone to a delivered block.
	InputLatency() time.Duration
}

// streamOpener opens a mono float32 input stream delivering blocks to cb.
type streamOpener func(dev string, cb func(block []float32)) (inputStream, float64, error)

// paStream is a PortAudio stream whose calls hold PortAudio shared and which keeps
// pa.open right. Close is idempotent.
type paStream struct {
	s      *portaudio.Stream
	mu     sync.Mutex
	closed bool
}

// openStream opens a stream (PortAudio held shared by the caller).
func openStream(p portaudio.StreamParameters, cb any) (*paStream, error) {
	s, err := portaudio.OpenStream(p, cb)
	if err != nil {
		return nil, err
	}
	pa.open.Add(1)
	return &paStream{s: s}, nil
}

func (p *paStream) call(f func() error) error {
	pa.RLock()
	defer pa.RUnlock()
	return f()
}

func (p *paStream) Start() error { return p.call(p.s.Start) }
func (p *paStream) Stop() error  { return p.call(p.s.Stop) }
func (p *paStream) Abort() error { return p.call(p.s.Abort) }

func (p *paStream) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	err := p.call(p.s.Close)
	pa.open.Add(-1)
	return err
}

func (p *paStream) InputLatency() time.Duration {
	var lat time.Duration
	p.call(func() error {
		if i := p.s.Info(); i != nil {
			lat = i.InputLatency
		}
		return nil
	})
	if lat == 0 {
		return minInputLatency
	}
	return lat
}

// InputDevice is a microphone PortAudio can open.
type InputDevice struct {
	Name       string
	HostAPI    string
	Channels   int
	SampleRate float64
	Default    bool
}

// InputDevices lists the microphones.
func InputDevices() ([]InputDevice, error) {
	release, err := sharedPortAudio()
	if err != nil {
		return nil, err
	}
	defer release()
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

// checkInput tells whether the named input ("" for the default) exists, re-scanning the
// devices once if it does not.
func checkInput(name string) error {
	find := func() error {
		release, err := sharedPortAudio()
		if err != nil {
			return err
		}
		defer release()
		_, err = findInput(name)
		return err
	}
	err := find()
	if err != nil && rescanDevices() {
		err = find()
	}
	return err
}

// findInput looks a microphone up (PortAudio held shared).
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
// most USB microphones do), else at its own rate for the resampler. A device that is not
// found makes PortAudio re-scan once (a microphone plugged in, an audio server restarted).
func openPortAudio(name string, cb func([]float32)) (inputStream, float64, error) {
	if err := checkInput(name); err != nil {
		return nil, 0, err
	}
	release, err := sharedPortAudio()
	if err != nil {
		return nil, 0, err
	}
	defer release()
	dev, err := findInput(name)
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
	s, err := openStream(p, func(in []float32) { cb(in) })
	if err != nil {
		return nil, 0, fmt.Errorf("opening %s: %w", dev.Name, err)
	}
	return s, p.SampleRate, nil
}

// openOutput opens a mono stream on the default output device, re-scanning the devices
// once if there is none.
func openOutput(rate int, cb func(out []float32)) (*paStream, error) {
	open := func() (*paStream, error) {
		release, err := sharedPortAudio()
		if err != nil {
			return nil, err
		}
		defer release()
		dev, err := portaudio.DefaultOutputDevice()
		if err != nil {
			return nil, fmt.Errorf("no sound output: %w", err)
		}
		params := portaudio.HighLatencyParameters(nil, dev)
		params.Output.Channels = 1
		params.SampleRate = float64(rate)
		params.FramesPerBuffer = portaudio.FramesPerBufferUnspecified
		s, err := openStream(params, cb)
		if err != nil {
			return nil, fmt.Errorf("sound output %s: %w", dev.Name, err)
		}
		return s, nil
	}
	s, err := open()
	if err != nil && rescanDevices() {
		s, err = open()
	}
	return s, err
}
