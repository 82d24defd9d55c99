package audio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/hajimehoshi/go-mp3"
	"github.com/jfreymuth/oggvorbis"
	"github.com/mewkiz/flac"
)

// mp3Source: go-mp3 always yields 16-bit stereo.
type mp3Source struct {
	d      *mp3.Decoder
	closer io.Closer
	buf    []byte
}

func newMP3Source(r io.Reader, c io.Closer) (Source, error) {
	d, err := mp3.NewDecoder(r)
	if err != nil {
		return nil, err
	}
	return &mp3Source{d: d, closer: c}, nil
}

func (m *mp3Source) Format() Format {
	frames := int64(-1)
	if l := m.d.Length(); l > 0 {
		frames = l / 4
	}
	return Format{SampleRate: m.d.SampleRate(), Channels: 2, Frames: frames}
}

func (m *mp3Source) Read(dst []float32) (int, error) {
	want := len(dst) / 2 * 4
	if cap(m.buf) < want {
		m.buf = make([]byte, want)
	}
	n, err := io.ReadFull(m.d, m.buf[:want])
	n -= n % 4
	decodeSamples(dst, m.buf[:n], 2, false)
	switch {
	case err == io.ErrUnexpectedEOF || (err == io.EOF && n > 0):
		err = nil
	case err != nil && err != io.EOF:
		// A bad frame after good ones (a layer II frame, measured by FuzzDecodeMP3).
		err = fmt.Errorf("%w: MP3: %v", ErrCorrupt, err)
	}
	return n / 2, err
}

func (m *mp3Source) Close() error { return m.closer.Close() }

type flacSource struct {
	s       *flac.Stream
	closer  io.Closer
	pending []float32
}

func newFLACSource(r io.Reader, c io.Closer) (Source, error) {
	s, err := flac.New(r)
	if err != nil {
		return nil, err
	}
	if s.Info.NChannels == 0 || s.Info.SampleRate == 0 {
		return nil, errors.New("FLAC stream info lacks channels or rate")
	}
	return &flacSource{s: s, closer: c}, nil
}

func (f *flacSource) Format() Format {
	frames := int64(f.s.Info.NSamples)
	if frames == 0 {
		frames = -1
	}
	return Format{SampleRate: int(f.s.Info.SampleRate), Channels: int(f.s.Info.NChannels), Frames: frames}
}

func (f *flacSource) Read(dst []float32) (int, error) {
	ch := int(f.s.Info.NChannels)
	for len(f.pending) == 0 {
		frame, err := f.s.ParseNext()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			return 0, fmt.Errorf("%w: FLAC: %v", ErrCorrupt, err)
		}
		if len(frame.Subframes) != ch {
			return 0, fmt.Errorf("%w: FLAC frame has %d channels, want %d", ErrCorrupt, len(frame.Subframes), ch)
		}
		scale := float32(int64(1) << (frame.BitsPerSample - 1))
		n := int(frame.BlockSize)
		for i := 0; i < n; i++ {
			for c := 0; c < ch; c++ {
				f.pending = append(f.pending, float32(frame.Subframes[c].Samples[i])/scale)
			}
		}
	}
	n := copy(dst[:len(dst)/ch*ch], f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

func (f *flacSource) Close() error { return f.closer.Close() }

type vorbisSource struct {
	r      *oggvorbis.Reader
	closer io.Closer
}

func newVorbisSource(r io.Reader, c io.Closer) (Source, error) {
	vr, err := oggvorbis.NewReader(r)
	if err != nil {
		return nil, err
	}
	return &vorbisSource{r: vr, closer: c}, nil
}

func (v *vorbisSource) Format() Format {
	frames := v.r.Length()
	if frames <= 0 {
		frames = -1
	}
	return Format{SampleRate: v.r.SampleRate(), Channels: v.r.Channels(), Frames: frames}
}

func (v *vorbisSource) Read(dst []float32) (int, error) {
	ch := v.r.Channels()
	n, err := v.r.Read(dst[:len(dst)/ch*ch])
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("%w: Ogg Vorbis: %v", ErrCorrupt, err)
	}
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (v *vorbisSource) Close() error { return v.closer.Close() }

// ffmpegSource runs ffmpeg (argv, never a shell) to decode to 16 kHz mono float32.
type ffmpegSource struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *limitedBuffer
	name   string
	buf    []byte
	done   bool
}

// FFmpegPath is the ffmpeg binary looked up on PATH; tests may point it elsewhere.
var FFmpegPath = "ffmpeg"

func openFFmpeg(ctx context.Context, path string) (Source, error) {
	bin, err := exec.LookPath(FFmpegPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not WAV, MP3, FLAC or Ogg Vorbis; install ffmpeg to open other formats",
			ErrUnsupportedFormat, filepath.Base(path))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	// Only local files and the output pipe: a crafted playlist (HLS, DASH, …) must not make
	// ffmpeg fetch URLs. The path goes in as a file: URL, so a name such as
	// "concat:x.m4a" or "http:…" is read as the file it is, not as a protocol.
	cmd := exec.CommandContext(ctx, bin, "-nostdin", "-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file,pipe",
		"-i", "file:"+abs, "-vn", "-f", "f32le", "-acodec", "pcm_f32le", "-ac", "1", "-ar", "16000", "pipe:1")
	cmd.WaitDelay = 2 * time.Second
	stderr := &limitedBuffer{max: 4096}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &ffmpegSource{cmd: cmd, out: out, stderr: stderr, name: filepath.Base(path)}, nil
}

func (f *ffmpegSource) Format() Format {
	return Format{SampleRate: TargetRate, Channels: 1, Frames: -1}
}

func (f *ffmpegSource) Read(dst []float32) (int, error) {
	if f.done {
		return 0, io.EOF
	}
	want := len(dst) * 4
	if cap(f.buf) < want {
		f.buf = make([]byte, want)
	}
	n, err := io.ReadFull(f.out, f.buf[:want])
	n -= n % 4
	decodeSamples(dst, f.buf[:n], 4, true)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		f.done = true
		if werr := f.cmd.Wait(); werr != nil {
			return 0, fmt.Errorf("%w: ffmpeg could not decode %s: %s", ErrUnsupportedFormat, f.name, f.stderr.String())
		}
		if n == 0 {
			return 0, io.EOF
		}
		return n / 4, nil
	}
	if err != nil {
		return 0, err
	}
	return n / 4, nil
}

func (f *ffmpegSource) Close() error {
	if !f.done {
		f.done = true
		f.out.Close()
		_ = f.cmd.Process.Kill()
		_ = f.cmd.Wait()
	}
	return nil
}

// limitedBuffer keeps the first max bytes written (ffmpeg's error message).
type limitedBuffer struct {
	max int
	b   []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	s := string(l.b)
	if s == "" {
		return "no message"
	}
	return s
}
