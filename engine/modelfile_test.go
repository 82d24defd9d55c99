package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type tensorAt struct {
	name      string
	headerOff int // n_dims field
	dataOff   int
}

// layout walks a valid model file and returns where its parts start.
func layout(t testing.TB, data []byte) (vocabOff, tensorsOff int, tensors []tensorAt) {
	t.Helper()
	le := binary.LittleEndian
	nMels, nFFT := int(le.Uint32(data[48:])), int(le.Uint32(data[52:]))
	vocabOff = 56 + nMels*nFFT*4
	off := vocabOff + 4
	for i := 0; i < int(le.Uint32(data[vocabOff:])); i++ {
		off += 4 + int(le.Uint32(data[off:]))
	}
	tensorsOff = off
	for off < len(data) {
		nDims := int(le.Uint32(data[off:]))
		nameLen := int(le.Uint32(data[off+4:]))
		ttype := ggmlType(le.Uint32(data[off+8:]))
		shape := make([]int64, nDims)
		for i := range shape {
			shape[i] = int64(le.Uint32(data[off+12+4*i:]))
		}
		nameOff := off + 12 + 4*nDims
		name := string(data[nameOff : nameOff+nameLen])
		n, _ := tensorBytes(ttype, shape)
		tensors = append(tensors, tensorAt{name, off, nameOff + nameLen})
		off = nameOff + nameLen + int(n)
	}
	return vocabOff, tensorsOff, tensors
}

func findTensor(tensors []tensorAt, name string) tensorAt {
	for _, t := range tensors {
		if t.name == name {
			return t
		}
	}
	panic("no tensor " + name)
}

func TestValidateRejectsCorruptModels(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.bin")
	p, _ := PresetByName("micro")
	if err := GenerateModelFile(good, p, GenerateOptions{Type: F16, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	vocabOff, tensorsOff, tensors := layout(t, data)
	le := binary.LittleEndian
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(data)) }
	setI32 := func(off int, v int32) []byte {
		return mutate(func(b []byte) []byte { le.PutUint32(b[off:], uint32(v)); return b })
	}
	hparam := func(i int, v int32) []byte { return setI32(4+4*i, v) }
	embedding := findTensor(tensors, "decoder.token_embedding.weight")
	last := tensors[len(tensors)-1]
	renamed := func(from, to string) []byte {
		tt := findTensor(tensors, from)
		return mutate(func(b []byte) []byte { copy(b[tt.dataOff-len(from):], to); return b })
	}

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", []byte{}, "empty"},
		{"cut in magic", data[:3], "truncated"},
		{"cut in hyper-parameters", data[:20], "truncated"},
		{"cut in mel filters", data[:1000], "truncated"},
		{"cut in vocabulary", data[:vocabOff+100], "truncated"},
		{"cut in tensor header", data[:tensorsOff+5], "truncated"},
		{"cut in first tensor", data[:tensors[0].dataOff+10], "download may be incomplete"},
		{"last byte missing", data[:len(data)-1], "download may be incomplete"},
		{"last tensor missing", data[:last.headerOff], "missing"},
		{"wrong magic", mutate(func(b []byte) []byte { copy(b, "XXXX"); return b }), "bad magic"},
		{"gguf", mutate(func(b []byte) []byte { copy(b, "GGUF"); return b }), "GGUF"},
		{"html error page", []byte("<!DOCTYPE html><html>404</html>"), "HTML"},
		{"absurd n_vocab", hparam(0, 1_000_000_000), "n_vocab"},
		{"zero width", hparam(2, 0), "n_audio_state"},
		{"negative layers", hparam(4, -3), "n_audio_layer"},
		{"heads do not divide width", hparam(3, 3), "multiple of the head count"},
		{"mels disagree with filters", hparam(9, 128), "mel filter bank"},
		{"unknown ftype", hparam(10, 5), "weight type"},
		{"vocabulary count lies", setI32(vocabOff, 60000), "vocabulary has"},
		{"required token missing", mutate(func(b []byte) []byte {
			i := bytes.Index(b[vocabOff:], []byte("\x02\x00\x00\x00 -"))
			copy(b[vocabOff+i+4:], " ~")
			return b
		}), `" -"`},
		{"tensor shape lies", setI32(tensors[0].headerOff+12, 65), "shape"},
		{"tensor type lies", setI32(embedding.headerOff+8, 0), "type"},
		{"tensor dims absurd", setI32(tensors[3].headerOff, 9), "dimensions"},
		{"tensor name unknown", renamed("decoder.ln.bias", "decoder.ln.bogs"), "unknown tensor"},
		{"tensor twice", renamed("decoder.blocks.1.attn.query.bias", "decoder.blocks.0.attn.query.bias"), "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".bin")
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ValidateModelFile(path)
			if !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrInvalidModel mentioning %q", err, c.want)
			}
			// Load refuses it too, and this process is still alive to check.
			if m, err := Load(path, LoadOptions{}); err == nil {
				m.Close()
				t.Fatal("Load accepted a corrupt model")
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		if _, err := Load(dir, LoadOptions{}); !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), "directory") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		if _, err := Load(filepath.Join(dir, "nope.bin"), LoadOptions{}); !errors.Is(err, ErrInvalidModel) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("original still valid", func(t *testing.T) {
		info, err := ValidateModelFile(good)
		if err != nil || info.Preset != "micro" || info.Tensors != len(tensors) {
			t.Fatalf("%+v %v", info, err)
		}
	})
}

// Every preset's generated header and tensor table matches the published architecture.
func TestPresetsValidate(t *testing.T) {
	for _, p := range Presets {
		order, specs := expectedTensors(p.Arch)
		if len(order) != len(specs) {
			t.Errorf("%s: duplicate tensor names", p.Name)
		}
		want := 7 + 15*p.Arch.NAudioLayer + 4 + 24*p.Arch.NTextLayer
		if len(order) != want {
			t.Errorf("%s: %d tensors, want %d", p.Name, len(order), want)
		}
	}
	for _, name := range []string{"micro", "tiny.en"} {
		p, _ := PresetByName(name)
		for _, ft := range []FileType{F16, F32} {
			path := filepath.Join(t.TempDir(), "m.bin")
			if err := GenerateModelFile(path, p, GenerateOptions{Type: ft}); err != nil {
				t.Fatal(err)
			}
			info, err := ValidateModelFile(path)
			if err != nil || info.Preset != name || info.WeightType != ft.String() || info.Vocab != p.Arch.eot() {
				t.Errorf("%s %v: %+v %v", name, ft, info, err)
			}
		}
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	p, _ := PresetByName("micro")
	var a, b, c bytes.Buffer
	GenerateModel(&a, p, GenerateOptions{Seed: 5, Type: F16})
	GenerateModel(&b, p, GenerateOptions{Seed: 5, Type: F16})
	GenerateModel(&c, p, GenerateOptions{Seed: 6, Type: F16})
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("same seed, different files")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds, same file")
	}
}

func TestVocabIsPlainASCII(t *testing.T) {
	words := englishVocab(50256)
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w] {
			t.Fatalf("duplicate %q", w)
		}
		seen[w] = true
		for _, r := range w {
			if r < ' ' || r > '~' {
				t.Fatalf("token %q is not printable ASCII", w)
			}
		}
	}
	for _, req := range []string{" ", " -", " '"} {
		if !seen[req] {
			t.Errorf("missing %q", req)
		}
	}
}

func TestFloat32ToHalf(t *testing.T) {
	cases := map[float32]uint16{0: 0, 1: 0x3c00, -2: 0xc000, 0.5: 0x3800, 65504: 0x7bff, 1e-8: 0, 6.1035156e-05: 0x0400}
	for in, want := range cases {
		if got := float32ToHalf(in); got != want {
			t.Errorf("%g: %#04x, want %#04x", in, got, want)
		}
	}
}

// flakyWriter refuses the one write that covers byte failAt; the rest go through, as a
// disk that hiccups once. Quantising must stop there, not write a file with a hole.
type flakyWriter struct {
	w      bytes.Buffer
	failAt int
	failed bool
}

func (f *flakyWriter) Write(p []byte) (int, error) {
	if !f.failed && f.w.Len()+len(p) > f.failAt {
		f.failed = true
		return 0, errors.New("disk hiccup")
	}
	return f.w.Write(p)
}

func TestQuantizeStopsAtAFailedWrite(t *testing.T) {
	p, _ := PresetByName("micro")
	path := filepath.Join(t.TempDir(), "micro.bin")
	if err := GenerateModelFile(path, p, GenerateOptions{Type: F16, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	info, err := ValidateModelFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Byte 50 is in the mel filter header, which goes out in 4-byte writes.
	for _, at := range []int{50, 200, 5000} {
		w := &flakyWriter{failAt: at}
		err := quantizeStream(context.Background(), bytes.NewReader(data), w, info, typeQ8_0, int32(Q8_0), nil)
		if err == nil || !strings.Contains(err.Error(), "disk hiccup") {
			t.Errorf("write failing at byte %d: %v", at, err)
		}
	}
}

// FuzzValidateModelFile: the validator stands between any file a user picks and
// whisper.cpp, which aborts the process on a malformed model; whatever the bytes, it
// answers with ErrInvalidModel or accepts, and never panics. Seeded from the corrupt
// models above (cut short to keep the corpus small: the whole file is 8 MB).
func FuzzValidateModelFile(f *testing.F) {
	p, _ := PresetByName("micro")
	var buf bytes.Buffer
	if err := GenerateModel(&buf, p, GenerateOptions{Type: F16, Seed: 3}); err != nil {
		f.Fatal(err)
	}
	data := buf.Bytes()
	vocabOff, tensorsOff, tensors := layout(f, data)
	for _, n := range []int{0, 3, 20, 1000, vocabOff + 100, tensorsOff + 5, tensors[0].dataOff + 10, tensors[1].dataOff + 64} {
		f.Add(bytes.Clone(data[:n]))
	}
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Add([]byte("<!DOCTYPE html><html>404</html>"))
	path := filepath.Join(f.TempDir(), "model.bin")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		info, err := ValidateModelFile(path)
		if err != nil && !errors.Is(err, ErrInvalidModel) {
			t.Fatalf("error %v is not ErrInvalidModel", err)
		}
		if err == nil && info.Tensors == 0 {
			t.Fatalf("accepted a model without tensors: %+v", info)
		}
	})
}

// whisper.cpp forces timestamps off for first-release distilled models only.
func TestArchTimestamps(t *testing.T) {
	for _, tc := range []struct {
		name          string
		layers, vocab int
		want          bool
	}{
		{"small.en", 12, 51864, true},
		{"distil-small.en", 2, 51864, false},
		{"distil-large-v2", 2, 51865, false},
		{"distil-large-v3", 2, 51866, true},
		{"test teacher", 4, 51864, true},
	} {
		if got := (Arch{NTextLayer: tc.layers, NVocab: tc.vocab}).Timestamps(); got != tc.want {
			t.Errorf("%s: Timestamps() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
