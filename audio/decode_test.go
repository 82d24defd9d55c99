package audio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dictate-app/dictate/internal/testenv"
)

// goertzelPower is the power of x at freq (Hz) relative to x's total power: 1 for a pure tone.
func tonePurity(x []float32, rate int, freq float64) float64 {
	a, b := len(x)/5, len(x)*4/5
	x = x[a:b]
	w := 2 * math.Pi * freq / float64(rate)
	var re, im, total float64
	for i, v := range x {
		re += float64(v) * math.Cos(w*float64(i))
		im += float64(v) * math.Sin(w*float64(i))
		total += float64(v) * float64(v)
	}
	return 2 * (re*re + im*im) / float64(len(x)) / total
}

// The fixtures (testdata/make-fixtures.sh, made with sox and ffmpeg) each hold one second
// of a 440 Hz sine at amplitude 0.5 on every channel.
var decoderFixtures = []struct {
	file     string
	rate, ch int
	lossy    bool
	ffmpeg   bool
}{
	{"wav_u8_8k_mono.wav", 8000, 1, false, false},
	{"wav_s16_16k_mono.wav", 16000, 1, false, false},
	{"wav_s16_44k_stereo.wav", 44100, 2, false, false},
	{"wav_s24_48k_stereo.wav", 48000, 2, false, false},
	{"wav_s32_22k_mono.wav", 22050, 1, false, false},
	{"wav_f32_48k_mono.wav", 48000, 1, false, false},
	{"wav_f64_32k_mono.wav", 32000, 1, false, false},
	{"wav_s16_48k_6ch.wav", 48000, 6, false, false},
	{"flac_s16_44k_stereo.flac", 44100, 2, false, false},
	{"flac_s24_96k_mono.flac", 96000, 1, false, false},
	{"mp3_44k_stereo.mp3", 44100, 2, true, false},
	{"ogg_44k_stereo.ogg", 44100, 2, true, false},
	{"opus_48k_stereo.opus", 16000, 1, true, true},
	{"aac_44k_stereo.m4a", 16000, 1, true, true},
}

func TestDecodeFixtures(t *testing.T) {
	for _, fx := range decoderFixtures {
		t.Run(fx.file, func(t *testing.T) {
			if fx.ffmpeg {
				testenv.Tool(t, FFmpegPath) // fails in the build root, skips elsewhere
			}
			path := filepath.Join("testdata", fx.file)
			src, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			f := src.Format()
			if f.SampleRate != fx.rate || f.Channels != fx.ch {
				t.Errorf("format %d Hz × %d, want %d Hz × %d", f.SampleRate, f.Channels, fx.rate, fx.ch)
			}
			src.Close()

			pcm, err := DecodeFile(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			// Lossy codecs add encoder delay and padding.
			tol := 0.01
			if fx.lossy {
				tol = 0.08
			}
			if got := float64(len(pcm)) / TargetRate; math.Abs(got-1) > tol {
				t.Errorf("duration %.3f s, want 1 s", got)
			}
			level := midRMS(pcm) * math.Sqrt2
			want := 0.5
			if fx.ffmpeg {
				want *= math.Sqrt2 // ffmpeg downmixes stereo as (L+R)/√2, we average
			}
			maxDB := 0.2
			if fx.lossy {
				maxDB = 1
			}
			if d := db(level / want); math.Abs(d) > maxDB {
				t.Errorf("amplitude %.4f (%.2f dB off %.3f)", level, d, want)
			}
			if p := tonePurity(pcm, TargetRate, 440); p < 0.97 {
				t.Errorf("440 Hz holds %.3f of the power, want ≥ 0.97", p)
			}
		})
	}
}

// Integer PCM must decode to exact values (full scale, zero, negative full scale).
func TestWAVExactSamples(t *testing.T) {
	for _, bits := range []int{8, 16, 24, 32} {
		var data []byte
		switch bits {
		case 8:
			data = []byte{255, 128, 0}
		case 16:
			data = binary.LittleEndian.AppendUint16(nil, 0x7fff)
			data = binary.LittleEndian.AppendUint16(data, 0)
			data = binary.LittleEndian.AppendUint16(data, 0x8000)
		case 24:
			data = []byte{0xff, 0xff, 0x7f, 0, 0, 0, 0, 0, 0x80}
		case 32:
			data = binary.LittleEndian.AppendUint32(nil, 0x7fffffff)
			data = binary.LittleEndian.AppendUint32(data, 0)
			data = binary.LittleEndian.AppendUint32(data, 0x80000000)
		}
		src, err := newWAVSource(bytes.NewReader(wavBytes(1, 1, 8000, bits, data)), nil)
		if err != nil {
			t.Fatal(bits, err)
		}
		got := make([]float32, 8)
		n, err := src.Read(got)
		if err != nil || n != 3 {
			t.Fatalf("%d bits: read %d, %v", bits, n, err)
		}
		if got[0] < 0.99 || got[1] != 0 || got[2] != -1 {
			t.Errorf("%d bits: got %v, want [~1 0 -1]", bits, got[:3])
		}
	}
}

// wavBytes builds a minimal WAV file.
func wavBytes(format, channels, rate, bits int, data []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+len(data)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))
	binary.Write(&b, le, uint16(format))
	binary.Write(&b, le, uint16(channels))
	binary.Write(&b, le, uint32(rate))
	binary.Write(&b, le, uint32(rate*channels*bits/8))
	binary.Write(&b, le, uint16(channels*bits/8))
	binary.Write(&b, le, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, le, uint32(len(data)))
	b.Write(data)
	return b.Bytes()
}

var wavHeaderCases = []struct {
	name    string
	data    []byte
	wantErr string
}{
	{"ok s16", wavBytes(1, 1, 16000, 16, make([]byte, 64)), ""},
	{"ok f32 stereo", wavBytes(3, 2, 48000, 32, make([]byte, 64)), ""},
	{"empty", nil, "too short"},
	{"not riff", []byte("RIFX\x00\x00\x00\x00WAVEfmt "), "not a RIFF"},
	{"no fmt", []byte("RIFF\x04\x00\x00\x00WAVE"), "no fmt"},
	{"12-bit pcm", wavBytes(1, 1, 16000, 12, nil), "unsupported"},
	{"mu-law", wavBytes(7, 1, 8000, 8, nil), "unsupported"},
	{"zero channels", wavBytes(1, 0, 16000, 16, nil), "channels"},
	{"absurd rate", wavBytes(1, 1, 5, 16, nil), "sample rate"},
	{"truncated fmt", wavBytes(1, 1, 16000, 16, nil)[:30], "truncated fmt"},
}

func TestParseWAVHeader(t *testing.T) {
	for _, c := range wavHeaderCases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseWAVHeader(bytes.NewReader(c.data))
			if c.wantErr == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

// A WAV whose data chunk is cut short (a recording interrupted) keeps what it has.
func TestWAVTruncatedDataKept(t *testing.T) {
	full := wavBytes(1, 1, 16000, 16, make([]byte, 2000))
	src, err := newWAVSource(bytes.NewReader(full[:44+1001]), nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 4096)
	total := 0
	for {
		n, err := src.Read(buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != 500 {
		t.Fatalf("read %d samples, want the 500 whole ones present", total)
	}
}

func FuzzWAV(f *testing.F) {
	for _, c := range wavHeaderCases {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newWAVSource(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		fm := src.Format()
		if fm.Channels < 1 || fm.SampleRate < 1000 {
			t.Fatalf("accepted format %+v", fm)
		}
		buf := make([]float32, 256*fm.Channels)
		for i := 0; i < 1000; i++ {
			n, err := src.Read(buf)
			if n%fm.Channels != 0 {
				t.Fatalf("read %d samples, not whole frames of %d", n, fm.Channels)
			}
			if err != nil {
				return
			}
		}
	})
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.wav")
	os.WriteFile(empty, nil, 0o644)
	badWAV := filepath.Join(dir, "bad.wav")
	os.WriteFile(badWAV, []byte("RIFF\x04\x00\x00\x00WAVEjunk"), 0o644)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello, this is not audio"), 0o644)

	cases := []struct {
		path string
		want error
	}{
		{empty, ErrCorrupt},
		{badWAV, ErrCorrupt},
		{filepath.Join(dir, "missing.wav"), os.ErrNotExist},
	}
	for _, c := range cases {
		_, err := Open(context.Background(), c.path)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", filepath.Base(c.path), err, c.want)
		}
	}
	// Without ffmpeg an unknown format says how to fix it; with ffmpeg, ffmpeg's error shows.
	old := FFmpegPath
	FFmpegPath = "/nonexistent/ffmpeg"
	_, err := Open(context.Background(), text)
	FFmpegPath = old
	if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), "install ffmpeg") {
		t.Errorf("unknown format without ffmpeg: %v", err)
	}
	if _, lookErr := exec.LookPath(FFmpegPath); lookErr == nil {
		_, err := DecodeFile(context.Background(), text)
		if !errors.Is(err, ErrUnsupportedFormat) {
			t.Errorf("text through ffmpeg: %v, want ErrUnsupportedFormat", err)
		}
	}
}

// Streaming must equal decoding the whole file, whatever the read size.
func TestMono16kStreamsInSmallReads(t *testing.T) {
	path := filepath.Join("testdata", "wav_s16_44k_stereo.wav")
	whole, err := DecodeFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := Open(context.Background(), path)
	m, err := NewMono16k(src)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var got []float32
	buf := make([]float32, 37)
	for {
		n, err := m.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(whole) {
		t.Fatalf("streamed %d samples, whole-file %d", len(got), len(whole))
	}
	for i := range got {
		if got[i] != whole[i] {
			t.Fatalf("sample %d differs: %v vs %v", i, got[i], whole[i])
		}
	}
}

// panicSource is a decoder with a bug.
type panicSource struct{}

func (panicSource) Format() Format { return Format{SampleRate: 8000, Channels: 1, Frames: -1} }
func (panicSource) Read(dst []float32) (int, error) {
	return copy(dst, make([]float32, len(dst)+1)[len(dst)+1:len(dst)]), nil
}
func (panicSource) Close() error { return nil }

// A decoder that panics fails its file with ErrCorrupt and names the format; nothing escapes.
func TestDecoderPanicIsContained(t *testing.T) {
	src := guardedSource{panicSource{}, "MP3"}
	_, err := src.Read(make([]float32, 8))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "MP3 decoder failed") {
		t.Fatalf("read: %v", err)
	}
	if _, err := contained("FLAC", func() (Source, error) { var s *mp3Source; return s, s.Close() }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open: %v", err)
	}
}

// A playlist handed to ffmpeg cannot make it fetch a URL: the test server sees no request.
func TestFFmpegFetchesNoURLs(t *testing.T) {
	testenv.Tool(t, FFmpegPath)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.ServeFile(w, r, filepath.Join("testdata", "mp3_44k_stereo.mp3"))
	}))
	defer srv.Close()
	playlist := filepath.Join(t.TempDir(), "talk.m3u8")
	os.WriteFile(playlist, []byte("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n"+srv.URL+"/segment.mp3\n#EXT-X-ENDLIST\n"), 0o644)
	pcm, err := DecodeFile(context.Background(), playlist)
	if err == nil || hits.Load() != 0 {
		t.Fatalf("playlist: %d samples, err %v, %d requests to the server", len(pcm), err, hits.Load())
	}
}

// A file whose name looks like an ffmpeg protocol ("concat:…") is decoded as the file it is.
func TestFFmpegReadsNamesAsFiles(t *testing.T) {
	testenv.Tool(t, FFmpegPath)
	data, err := os.ReadFile(filepath.Join("testdata", "aac_44k_stereo.m4a"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "concat:talk.m4a")
	os.WriteFile(path, data, 0o644)
	t.Chdir(dir)
	for _, p := range []string{path, "concat:talk.m4a"} {
		pcm, err := DecodeFile(context.Background(), p)
		if err != nil || len(pcm) < TargetRate*9/10 {
			t.Errorf("%s: %d samples, %v", p, len(pcm), err)
		}
	}
}

// fuzzDecode decodes arbitrary bytes as a file named name, as a dropped file would be: a
// clear error (ErrCorrupt or ErrUnsupportedFormat) or finite samples, and never a panic
// or a hang. ffmpeg is left out (it is another program; its crashes fail its file anyway).
func fuzzDecode(f *testing.F, name string, seeds ...string) {
	for _, s := range seeds {
		data, err := os.ReadFile(filepath.Join("testdata", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	ffmpeg := FFmpegPath
	FFmpegPath = "/nonexistent/ffmpeg"
	f.Cleanup(func() { FFmpegPath = ffmpeg })
	path := filepath.Join(f.TempDir(), name)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		pcm, err := DecodeFile(ctx, path)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedFormat) {
				t.Fatalf("error %v is neither ErrCorrupt nor ErrUnsupportedFormat", err)
			}
			return
		}
		for i, v := range pcm {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("sample %d is %v", i, v)
			}
		}
	})
}

func FuzzDecodeWAV(f *testing.F) {
	fuzzDecode(f, "take.wav", "wav_u8_8k_mono.wav", "wav_s16_16k_mono.wav", "wav_f32_48k_mono.wav", "wav_s24_48k_stereo.wav")
}
func FuzzDecodeFLAC(f *testing.F) {
	fuzzDecode(f, "take.flac", "flac_s16_44k_stereo.flac", "flac_s24_96k_mono.flac")
}
func FuzzDecodeOgg(f *testing.F) { fuzzDecode(f, "take.ogg", "ogg_44k_stereo.ogg") }
func FuzzDecodeMP3(f *testing.F) { fuzzDecode(f, "take.mp3", "mp3_44k_stereo.mp3") }
