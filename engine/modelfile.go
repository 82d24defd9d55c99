package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// The legacy whisper.cpp model file ("ggml" magic). Its loader aborts the whole process on
// many malformed inputs, so every file is checked here, in Go, before whisper.cpp sees it.

const ggmlMagic = 0x67676d6c

// ErrInvalidModel is wrapped by every model-file problem (see *ModelError).
var ErrInvalidModel = errors.New("invalid model file")

// ModelError says what is wrong with a model file.
type ModelError struct {
	Path   string
	Reason string
}

func (e *ModelError) Error() string { return fmt.Sprintf("model %s: %s", e.Path, e.Reason) }
func (e *ModelError) Unwrap() error { return ErrInvalidModel }

// Arch holds a whisper model's hyper-parameters as stored in its file.
type Arch struct {
	NVocab      int
	NAudioCtx   int
	NAudioState int
	NAudioHead  int
	NAudioLayer int
	NTextCtx    int
	NTextState  int
	NTextHead   int
	NTextLayer  int
	NMels       int
}

// Multilingual reports whether the vocabulary carries language tokens.
func (a Arch) Multilingual() bool { return a.NVocab >= 51865 }

// Timestamps reports whether whisper.cpp decodes timestamps with this model, and so ends
// each 30 s window where its last sentence ends: it forces them off for first-release
// distilled models (two decoder layers, any vocabulary but large-v3's), which then go
// through long audio 30 s at a time, cutting words at window ends.
func (a Arch) Timestamps() bool { return a.NTextLayer != 2 || a.NVocab == 51866 }

// eot is the id of the end-of-text token: the first id after the regular text tokens.
func (a Arch) eot() int {
	if a.Multilingual() {
		return 50257
	}
	return 50256
}

// Preset is a named real architecture (or the tiny test-only "micro").
type Preset struct {
	Name string
	Arch Arch
}

func arch(vocab, mels, as, ah, al, ts, th, tl int) Arch {
	return Arch{NVocab: vocab, NAudioCtx: 1500, NAudioState: as, NAudioHead: ah, NAudioLayer: al,
		NTextCtx: 448, NTextState: ts, NTextHead: th, NTextLayer: tl, NMels: mels}
}

// Presets lists the architectures the generator knows, with the published models' dims.
var Presets = []Preset{
	{"micro", arch(51864, 80, 64, 2, 2, 64, 2, 2)},
	{"tiny.en", arch(51864, 80, 384, 6, 4, 384, 6, 4)},
	{"tiny", arch(51865, 80, 384, 6, 4, 384, 6, 4)},
	{"base.en", arch(51864, 80, 512, 8, 6, 512, 8, 6)},
	{"base", arch(51865, 80, 512, 8, 6, 512, 8, 6)},
	{"small.en", arch(51864, 80, 768, 12, 12, 768, 12, 12)},
	{"small", arch(51865, 80, 768, 12, 12, 768, 12, 12)},
	{"distil-small.en", arch(51864, 80, 768, 12, 12, 768, 12, 4)},
	{"medium.en", arch(51864, 80, 1024, 16, 24, 1024, 16, 24)},
	{"medium", arch(51865, 80, 1024, 16, 24, 1024, 16, 24)},
	{"large-v2", arch(51865, 80, 1280, 20, 32, 1280, 20, 32)},
	{"distil-medium.en", arch(51864, 80, 1024, 16, 24, 1024, 16, 2)},
	{"distil-large-v2", arch(51865, 80, 1280, 20, 32, 1280, 20, 2)},
	{"large-v3", arch(51866, 128, 1280, 20, 32, 1280, 20, 32)},
	{"large-v3-turbo", arch(51866, 128, 1280, 20, 32, 1280, 20, 4)},
	{"distil-large-v3", arch(51866, 128, 1280, 20, 32, 1280, 20, 2)},
}

// PresetByName finds a preset.
func PresetByName(name string) (Preset, bool) {
	for _, p := range Presets {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// PresetNames lists the preset names, for messages.
func PresetNames() []string {
	names := make([]string, len(Presets))
	for i, p := range Presets {
		names[i] = p.Name
	}
	return names
}

// ggml tensor types used by whisper model files.
type ggmlType int32

const (
	typeF32  ggmlType = 0
	typeF16  ggmlType = 1
	typeQ4_0 ggmlType = 2
	typeQ4_1 ggmlType = 3
	typeQ5_0 ggmlType = 6
	typeQ5_1 ggmlType = 7
	typeQ8_0 ggmlType = 8
	typeQ2K  ggmlType = 10
	typeQ3K  ggmlType = 11
	typeQ4K  ggmlType = 12
	typeQ5K  ggmlType = 13
	typeQ6K  ggmlType = 14
)

type typeLayout struct {
	name       string
	blockElems int64
	blockBytes int64
}

var typeLayouts = map[ggmlType]typeLayout{
	typeF32: {"f32", 1, 4}, typeF16: {"f16", 1, 2},
	typeQ4_0: {"q4_0", 32, 18}, typeQ4_1: {"q4_1", 32, 20},
	typeQ5_0: {"q5_0", 32, 22}, typeQ5_1: {"q5_1", 32, 24}, typeQ8_0: {"q8_0", 32, 34},
	typeQ2K: {"q2_K", 256, 84}, typeQ3K: {"q3_K", 256, 110}, typeQ4K: {"q4_K", 256, 144},
	typeQ5K: {"q5_K", 256, 176}, typeQ6K: {"q6_K", 256, 210},
}

// ftypeWeights maps the file's ftype (mod 1000) to the type of its matrices.
var ftypeWeights = map[int32]ggmlType{
	0: typeF32, 1: typeF16, 2: typeQ4_0, 3: typeQ4_1, 7: typeQ8_0, 8: typeQ5_0, 9: typeQ5_1,
	10: typeQ2K, 11: typeQ3K, 12: typeQ4K, 13: typeQ5K, 14: typeQ6K,
}

// FileType is a model file's weight type (its ftype): the generator writes F32 and F16,
// Quantize the others.
type FileType int32

const (
	F32  FileType = 0
	F16  FileType = 1
	Q4_0 FileType = 2
	Q8_0 FileType = 7
	Q5_0 FileType = 8
	Q5_1 FileType = 9
)

// ParseFileType reads "f16", "q8_0", ….
func ParseFileType(s string) (FileType, error) {
	for _, f := range []FileType{F32, F16, Q4_0, Q8_0, Q5_0, Q5_1} {
		if f.String() == strings.ToLower(s) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("unknown model type %q (want f32, f16, q8_0, q5_0, q5_1 or q4_0)", s)
}

func (f FileType) String() string { return typeLayouts[ftypeWeights[int32(f)]].name }

// ModelInfo is what a valid model file declares.
type ModelInfo struct {
	Path       string
	Size       int64
	Arch       Arch
	FType      int32
	WeightType string // "f16", "q8_0", …
	Preset     string // the matching preset's name, or "" when the dims match none
	Vocab      int    // entries in the file's vocabulary section
	Tensors    int
}

// tensorKind says which type a tensor must have.
type tensorKind int

const (
	kindF32    tensorKind = iota // always f32
	kindWeight                   // the file's weight type
	kindConv                     // f16, or f32 in an f32 file
)

type tensorSpec struct {
	shape []int64
	kind  tensorKind
}

// expectedTensors lists every tensor whisper.cpp loads for an architecture, in file order.
func expectedTensors(a Arch) ([]string, map[string]tensorSpec) {
	var order []string
	specs := map[string]tensorSpec{}
	add := func(name string, kind tensorKind, shape ...int) {
		s := make([]int64, len(shape))
		for i, v := range shape {
			s[i] = int64(v)
		}
		order = append(order, name)
		specs[name] = tensorSpec{s, kind}
	}
	s, t, m := a.NAudioState, a.NTextState, a.NMels
	add("encoder.positional_embedding", kindF32, s, a.NAudioCtx)
	add("encoder.conv1.weight", kindConv, 3, m, s)
	add("encoder.conv1.bias", kindF32, 1, s)
	add("encoder.conv2.weight", kindConv, 3, s, s)
	add("encoder.conv2.bias", kindF32, 1, s)
	add("encoder.ln_post.weight", kindF32, s)
	add("encoder.ln_post.bias", kindF32, s)
	attn := func(prefix string, n int) {
		add(prefix+".query.weight", kindWeight, n, n)
		add(prefix+".query.bias", kindF32, n)
		add(prefix+".key.weight", kindWeight, n, n)
		add(prefix+".value.weight", kindWeight, n, n)
		add(prefix+".value.bias", kindF32, n)
		add(prefix+".out.weight", kindWeight, n, n)
		add(prefix+".out.bias", kindF32, n)
	}
	block := func(prefix string, n int, cross bool) {
		add(prefix+".mlp_ln.weight", kindF32, n)
		add(prefix+".mlp_ln.bias", kindF32, n)
		add(prefix+".mlp.0.weight", kindWeight, n, 4*n)
		add(prefix+".mlp.0.bias", kindF32, 4*n)
		add(prefix+".mlp.2.weight", kindWeight, 4*n, n)
		add(prefix+".mlp.2.bias", kindF32, n)
		add(prefix+".attn_ln.weight", kindF32, n)
		add(prefix+".attn_ln.bias", kindF32, n)
		attn(prefix+".attn", n)
		if cross {
			add(prefix+".cross_attn_ln.weight", kindF32, n)
			add(prefix+".cross_attn_ln.bias", kindF32, n)
			attn(prefix+".cross_attn", n)
		}
	}
	for i := 0; i < a.NAudioLayer; i++ {
		block("encoder.blocks."+strconv.Itoa(i), s, false)
	}
	add("decoder.positional_embedding", kindF32, t, a.NTextCtx)
	add("decoder.token_embedding.weight", kindWeight, t, a.NVocab)
	add("decoder.ln.weight", kindF32, t)
	add("decoder.ln.bias", kindF32, t)
	for i := 0; i < a.NTextLayer; i++ {
		block("decoder.blocks."+strconv.Itoa(i), t, true)
	}
	return order, specs
}

func tensorBytes(t ggmlType, shape []int64) (int64, error) {
	l, ok := typeLayouts[t]
	if !ok {
		return 0, fmt.Errorf("unknown tensor type %d", t)
	}
	if shape[0]%l.blockElems != 0 {
		return 0, fmt.Errorf("row of %d elements does not fit %s blocks of %d", shape[0], l.name, l.blockElems)
	}
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n / l.blockElems * l.blockBytes, nil
}

// countingReader tracks the file offset for messages and size checks.
type countingReader struct {
	f    *os.File
	r    *bufio.Reader
	off  int64
	size int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.off += int64(n)
	return n, err
}

// discard skips n bytes. Beyond what is buffered it seeks instead of reading: the tensor
// data is nearly all of the file, and whisper.cpp reads it again right after (reading it
// here doubled a cold load of large-v3).
func (c *countingReader) discard(n int64) error {
	if c.off+n > c.size {
		c.off = c.size
		return io.ErrUnexpectedEOF
	}
	if n <= int64(c.r.Buffered()) {
		d, err := c.r.Discard(int(n))
		c.off += int64(d)
		return err
	}
	if _, err := c.f.Seek(c.off+n, io.SeekStart); err != nil {
		return err
	}
	c.r.Reset(c.f)
	c.off += n
	return nil
}

func (c *countingReader) i32() (int32, error) {
	var b [4]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}

// ValidateModelFile checks that path is a whisper.cpp model file that its loader will accept:
// magic, sane hyper-parameters, mel filters, vocabulary (including the tokens whisper_full
// looks up by text), and a tensor table that names exactly the architecture's tensors with
// the right shapes and types, and whose data the file really holds.
func ValidateModelFile(path string) (ModelInfo, error) {
	info := ModelInfo{Path: path}
	bad := func(format string, args ...any) (ModelInfo, error) {
		return info, &ModelError{Path: path, Reason: fmt.Sprintf(format, args...)}
	}
	st, err := os.Stat(path)
	if err != nil {
		return info, &ModelError{Path: path, Reason: err.Error()}
	}
	if st.IsDir() {
		return bad("is a directory, not a model file")
	}
	if !st.Mode().IsRegular() {
		return bad("is not a regular file")
	}
	info.Size = st.Size()
	if info.Size == 0 {
		return bad("file is empty")
	}
	f, err := os.Open(path)
	if err != nil {
		return info, &ModelError{Path: path, Reason: err.Error()}
	}
	defer f.Close()
	r := &countingReader{f: f, r: bufio.NewReaderSize(f, 1<<16), size: info.Size}
	truncated := func(what string) (ModelInfo, error) {
		return bad("truncated at byte %d (reading %s); the download may be incomplete", r.off, what)
	}

	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return truncated("magic")
	}
	switch magic := binary.LittleEndian.Uint32(head[:]); {
	case magic == ggmlMagic:
	case string(head[:]) == "GGUF":
		return bad("is a GGUF file; whisper.cpp needs its own ggml format (ggml-*.bin)")
	case head[0] == 'P' && head[1] == 'K':
		return bad("is a zip/PyTorch checkpoint; convert it to ggml with whisper.cpp's convert scripts")
	case head[0] == '<' || head[0] == '{':
		return bad("is a text/HTML file, not a model (was an error page downloaded?)")
	default:
		return bad("bad magic %#08x: not a whisper.cpp ggml model", magic)
	}

	var hp [11]int32
	for i := range hp {
		if hp[i], err = r.i32(); err != nil {
			return truncated("hyper-parameters")
		}
	}
	a := Arch{NVocab: int(hp[0]), NAudioCtx: int(hp[1]), NAudioState: int(hp[2]), NAudioHead: int(hp[3]),
		NAudioLayer: int(hp[4]), NTextCtx: int(hp[5]), NTextState: int(hp[6]), NTextHead: int(hp[7]),
		NTextLayer: int(hp[8]), NMels: int(hp[9])}
	info.Arch, info.FType = a, hp[10]
	checks := []struct {
		name      string
		v, lo, hi int
	}{
		{"n_vocab", a.NVocab, 51864, 51866},
		{"n_audio_ctx", a.NAudioCtx, 1, 1500},
		{"n_audio_state", a.NAudioState, 1, 8192},
		{"n_audio_head", a.NAudioHead, 1, 128},
		{"n_audio_layer", a.NAudioLayer, 1, 128},
		{"n_text_ctx", a.NTextCtx, 1, 448},
		{"n_text_state", a.NTextState, 1, 8192},
		{"n_text_head", a.NTextHead, 1, 128},
		{"n_text_layer", a.NTextLayer, 1, 128},
		{"n_mels", a.NMels, 1, 256},
	}
	for _, c := range checks {
		if c.v < c.lo || c.v > c.hi {
			return bad("%s = %d is outside %d..%d", c.name, c.v, c.lo, c.hi)
		}
	}
	if a.NAudioState%a.NAudioHead != 0 || a.NTextState%a.NTextHead != 0 {
		return bad("state width is not a multiple of the head count")
	}
	wtype, ok := ftypeWeights[info.FType%1000]
	if !ok || info.FType < 0 {
		return bad("unknown weight type (ftype %d)", info.FType)
	}
	info.WeightType = typeLayouts[wtype].name

	nMel, err := r.i32()
	if err != nil {
		return truncated("mel filters")
	}
	nFFT, err := r.i32()
	if err != nil {
		return truncated("mel filters")
	}
	if int(nMel) != a.NMels || nFFT != 201 {
		return bad("mel filter bank is %dx%d, want %dx201", nMel, nFFT, a.NMels)
	}
	if err := r.discard(int64(nMel) * int64(nFFT) * 4); err != nil {
		return truncated("mel filters")
	}

	nWords, err := r.i32()
	if err != nil {
		return truncated("vocabulary")
	}
	if nWords < 0 || int(nWords) > a.NVocab {
		return bad("vocabulary has %d entries, more than n_vocab %d", nWords, a.NVocab)
	}
	info.Vocab = int(nWords)
	required := map[string]bool{" ": false, " -": false, " '": false}
	word := make([]byte, 0, 1024) // the longest entry allowed below
	for i := int32(0); i < nWords; i++ {
		n, err := r.i32()
		if err != nil {
			return truncated("vocabulary")
		}
		if n < 0 || n > 1024 {
			return bad("vocabulary entry %d has length %d", i, n)
		}
		word = word[:n]
		if _, err := io.ReadFull(r, word); err != nil {
			return truncated("vocabulary")
		}
		if _, ok := required[string(word)]; ok {
			required[string(word)] = true
		}
	}
	for tok, seen := range required {
		if !seen {
			return bad("vocabulary lacks the token %q that whisper.cpp needs", tok)
		}
	}

	order, specs := expectedTensors(a)
	seen := make(map[string]bool, len(order))
	for {
		nDims, err := r.i32()
		if err == io.EOF {
			break
		}
		if err != nil {
			return truncated("tensor header")
		}
		nameLen, err1 := r.i32()
		ttype, err2 := r.i32()
		if err1 != nil || err2 != nil {
			return truncated("tensor header")
		}
		if nDims < 1 || nDims > 4 {
			return bad("tensor at byte %d has %d dimensions", r.off-12, nDims)
		}
		if nameLen < 1 || nameLen > 256 {
			return bad("tensor at byte %d has a name of %d bytes", r.off-12, nameLen)
		}
		shape := make([]int64, nDims)
		for i := range shape {
			d, err := r.i32()
			if err != nil {
				return truncated("tensor shape")
			}
			if d < 1 {
				return bad("tensor at byte %d has dimension %d", r.off, d)
			}
			shape[i] = int64(d)
		}
		nameBytes := make([]byte, nameLen)
		if _, err := io.ReadFull(r, nameBytes); err != nil {
			return truncated("tensor name")
		}
		name := string(nameBytes)
		spec, known := specs[name]
		if !known {
			return bad("unknown tensor %q", name)
		}
		if seen[name] {
			return bad("tensor %q appears twice", name)
		}
		seen[name] = true
		if !sameShape(shape, spec.shape) {
			return bad("tensor %q has shape %v, want %v", name, shape, spec.shape)
		}
		want := typeF32
		switch spec.kind {
		case kindWeight:
			want = wtype
		case kindConv:
			if wtype != typeF32 {
				want = typeF16
			}
		}
		if ggmlType(ttype) != want {
			return bad("tensor %q has type %d, want %s", name, ttype, typeLayouts[want].name)
		}
		nbytes, err := tensorBytes(want, shape)
		if err != nil {
			return bad("tensor %q: %v", name, err)
		}
		if r.off+nbytes > info.Size {
			return bad("tensor %q needs %d bytes at offset %d but the file ends at %d; the download may be incomplete",
				name, nbytes, r.off, info.Size)
		}
		if err := r.discard(nbytes); err != nil {
			return truncated("tensor data")
		}
		info.Tensors++
	}
	for _, name := range order {
		if !seen[name] {
			return bad("tensor %q is missing (%d of %d present)", name, info.Tensors, len(order))
		}
	}
	for _, p := range Presets {
		if p.Arch == a {
			info.Preset = p.Name
			break
		}
	}
	return info, nil
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Describe is a one-line summary such as "distil-small.en architecture, f16, 12+4 layers".
func (m ModelInfo) Describe() string {
	name := m.Preset
	if name == "" {
		name = "custom"
	}
	lang := "English-only"
	if m.Arch.Multilingual() {
		lang = "multilingual"
	}
	return strings.Join([]string{name + " architecture", m.WeightType,
		fmt.Sprintf("%d+%d layers", m.Arch.NAudioLayer, m.Arch.NTextLayer), lang}, ", ")
}
