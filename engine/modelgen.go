package engine

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/dictate-app/dictate/internal/atomicfile"
)

// The generator writes whisper.cpp model files of real architectures with deterministic
// pseudo-random weights. No real weights can be downloaded in CI; encoder and decoder
// timings do not depend on weight values, so these files serve tests and benchmarks.

// GenerateOptions tunes the generated file.
type GenerateOptions struct {
	Type FileType // F16 (default) or F32
	Seed uint64
	// Say makes the model say this sentence whatever it hears (see parrot): its words must
	// be distinct words of the generated vocabulary. "" gives a random decoder.
	Say string
}

// GenerateModelFile writes a model of the preset to path atomically.
func GenerateModelFile(path string, p Preset, opts GenerateOptions) error {
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := GenerateModel(w, p, opts); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

// GenerateModel writes a model of the preset to w.
func GenerateModel(w io.Writer, p Preset, opts GenerateOptions) error {
	if opts.Type != F16 && opts.Type != F32 {
		return fmt.Errorf("generator writes f16 or f32, not %v", opts.Type)
	}
	a := p.Arch
	g := &genWriter{w: w, rng: opts.Seed*0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D}
	if opts.Say != "" {
		var err error
		if g.parrot, err = newParrot(a, opts.Say, opts.Seed); err != nil {
			return err
		}
	}
	g.i32(ggmlMagic)
	for _, v := range []int{a.NVocab, a.NAudioCtx, a.NAudioState, a.NAudioHead, a.NAudioLayer,
		a.NTextCtx, a.NTextState, a.NTextHead, a.NTextLayer, a.NMels, int(opts.Type)} {
		g.i32(int32(v))
	}
	g.i32(int32(a.NMels))
	g.i32(201)
	for _, v := range melFilterBank(a.NMels, 201) {
		g.f32(v)
	}
	words := englishVocab(a.eot())
	g.i32(int32(len(words)))
	for _, word := range words {
		g.i32(int32(len(word)))
		g.bytes([]byte(word))
	}

	wtype := typeF32
	if opts.Type == F16 {
		wtype = typeF16
	}
	order, specs := expectedTensors(a)
	for _, name := range order {
		spec := specs[name]
		t := typeF32
		if spec.kind != kindF32 {
			t = wtype
		}
		g.i32(int32(len(spec.shape)))
		g.i32(int32(len(name)))
		g.i32(int32(t))
		for _, d := range spec.shape {
			g.i32(int32(d))
		}
		g.bytes([]byte(name))
		g.tensor(name, spec.shape, t, a)
	}
	return g.err
}

type genWriter struct {
	w      io.Writer
	rng    uint64
	err    error
	buf    []byte
	parrot *parrot // nil: a random decoder
}

func (g *genWriter) bytes(b []byte) {
	if g.err == nil {
		_, g.err = g.w.Write(b)
	}
}

func (g *genWriter) i32(v int32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	g.bytes(b[:])
}

func (g *genWriter) f32(v float32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
	g.bytes(b[:])
}

// uniform returns a deterministic value in [-1, 1) (xorshift64*).
func (g *genWriter) uniform() float32 {
	g.rng ^= g.rng >> 12
	g.rng ^= g.rng << 25
	g.rng ^= g.rng >> 27
	return float32((g.rng*0x2545F4914F6CDD1D)>>40)/float32(1<<23) - 1
}

// tensor writes one tensor's values: layer-norm gains 1, biases 0, the embeddings of the
// special tokens 0 (so a random model emits text tokens, never end-of-text), and small
// uniform values scaled by fan-in elsewhere so activations stay finite.
func (g *genWriter) tensor(name string, shape []int64, t ggmlType, a Arch) {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	isGain := strings.HasSuffix(name, "ln.weight") || strings.HasSuffix(name, "ln_post.weight")
	isBias := strings.HasSuffix(name, ".bias")
	scale := float32(1 / math.Sqrt(float64(shape[0])))
	if strings.Contains(name, "positional_embedding") {
		scale = 0.02
	}
	rowLen := shape[0]
	textTokens := int64(a.eot())
	isTokenEmbedding := name == "decoder.token_embedding.weight"

	size := int64(4)
	if t == typeF16 {
		size = 2
	}
	const chunk = 1 << 16
	if cap(g.buf) < chunk*4 {
		g.buf = make([]byte, chunk*4)
	}
	for start := int64(0); start < n && g.err == nil; start += chunk {
		end := min(start+chunk, n)
		buf := g.buf[:(end-start)*size]
		for i := start; i < end; i++ {
			var v float32
			var set bool
			if g.parrot != nil {
				v, set = g.parrot.value(name, i)
			}
			switch {
			case set:
			case isGain:
				v = 1
			case isBias:
				v = 0
			case isTokenEmbedding && i/rowLen >= textTokens:
				v = 0
			default:
				v = g.uniform() * scale
			}
			off := (i - start) * size
			if t == typeF16 {
				binary.LittleEndian.PutUint16(buf[off:], float32ToHalf(v))
			} else {
				binary.LittleEndian.PutUint32(buf[off:], math.Float32bits(v))
			}
		}
		g.bytes(buf)
	}
}

// float32ToHalf converts with round-to-nearest-even; generated values are small and finite.
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case exp >= 31:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - exp)
		half := uint16(mant >> shift)
		if rem := mant & (1<<shift - 1); rem > 1<<(shift-1) || (rem == 1<<(shift-1) && half&1 == 1) {
			half++
		}
		return sign | half
	}
	half := sign | uint16(exp)<<10 | uint16(mant>>13)
	if rem := mant & 0x1fff; rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++
	}
	return half
}

// melFilterBank builds Slaney-style triangular filters over 0–8 kHz, as whisper's own bank.
func melFilterBank(nMels, nFFT int) []float32 {
	hzToMel := func(f float64) float64 { return 2595 * math.Log10(1+f/700) }
	melToHz := func(m float64) float64 { return 700 * (math.Pow(10, m/2595) - 1) }
	lo, hi := hzToMel(0), hzToMel(8000)
	edges := make([]float64, nMels+2)
	for i := range edges {
		edges[i] = melToHz(lo + (hi-lo)*float64(i)/float64(nMels+1))
	}
	out := make([]float32, nMels*nFFT)
	for m := 0; m < nMels; m++ {
		l, c, r := edges[m], edges[m+1], edges[m+2]
		norm := 2 / (r - l)
		for k := 0; k < nFFT; k++ {
			f := float64(k) * 8000 / float64(nFFT-1)
			var v float64
			switch {
			case f > l && f <= c:
				v = (f - l) / (c - l)
			case f > c && f < r:
				v = (r - f) / (r - c)
			}
			out[m*nFFT+k] = float32(v * norm)
		}
	}
	return out
}

// englishVocab returns n distinct plain-ASCII tokens: the printable characters, the pieces
// whisper_full looks up (" ", " -", " '"), common English words, then pronounceable
// made-up words. A random model therefore decodes to text that can be typed and compared.
func englishVocab(n int) []string {
	words := make([]string, 0, n)
	seen := make(map[string]bool, n)
	add := func(w string) {
		if len(words) < n && !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	for c := byte(' '); c <= '~'; c++ {
		add(string(c))
	}
	add(" -")
	add(" '")
	common := strings.Fields(`the of and to a in is you that it he was for on are as with his they
		I at be this have from or one had by word but not what all were we when your can said there
		use an each which she do how their if will up other about out many then them these so some
		her would make like him into time has look two more write go see number no way could people
		my than first water been call who oil its now find long down day did get come made may part
		hello world dictate voice text speech quick brown fox jumps over lazy dog yes okay thanks thank`)
	for _, w := range common {
		add(" " + w)
		add(w)
		add(" " + strings.ToUpper(w[:1]) + w[1:])
	}
	onsets := strings.Fields("b c d f g h j k l m n p r s t v w y z bl br ch cl cr dr fl fr gl gr pl pr sc sh sl sm sn sp st sw th tr wh")
	vowels := strings.Fields("a e i o u ai ea ee oo ou")
	codas := []string{"", "n", "r", "s", "t", "l", "m", "nd", "st", "ck"}
	syllables := make([]string, 0, len(onsets)*len(vowels)*len(codas))
	for _, o := range onsets {
		for _, v := range vowels {
			for _, c := range codas {
				syllables = append(syllables, o+v+c)
			}
		}
	}
	for i := 0; len(words) < n; i++ {
		s := syllables[i%len(syllables)]
		if i >= len(syllables) {
			s += syllables[(i/len(syllables)*7919)%len(syllables)]
		}
		add(" " + s)
	}
	return words
}

// parrot makes a generated model say one sentence whatever it hears. Its decoder ignores
// the audio and the position (attention outputs and positional embeddings are zero), and
// the MLP of its first block maps each token to the token after it in the sentence: one
// hidden unit per token detects that token's (normalised) embedding and writes the next
// token's embedding, scaled up, into the residual stream. Greedy decoding in whisper.cpp
// then yields exactly the sentence, after any prompt, with a low no-speech probability.
// Tests use it where the words must be known (a spoken "Thank you." is typed), while the
// timings stay those of the architecture.
type parrot struct {
	n      int
	seed   uint64
	norms  map[int][]float64 // normalised embeddings, by token
	tokens map[int]bool      // the sentence's tokens and end-of-text: their embeddings are larger
	hidden []int             // hidden unit j detects token hidden[j] …
	next   []int             // … and writes token next[j]
}

const (
	parrotGain   = 20 // a detector's pre-activation is parrotGain/2 for its token, about -parrotGain/2 for others
	parrotStrong = 5  // the sentence's embeddings against the others'
)

func newParrot(a Arch, sentence string, seed uint64) (*parrot, error) {
	eot := a.eot()
	ids := map[string]int{}
	for i, w := range englishVocab(eot) {
		ids[w] = i
	}
	var tokens []int
	for _, word := range strings.Fields(sentence) {
		// Whole words with their leading space, punctuation as its own token.
		core := strings.TrimRightFunc(word, func(r rune) bool { return strings.ContainsRune(".,!?;:", r) })
		id, ok := ids[" "+core]
		if !ok {
			return nil, fmt.Errorf("the generated vocabulary has no word %q", core)
		}
		tokens = append(tokens, id)
		for _, r := range word[len(core):] {
			tokens = append(tokens, ids[string(r)])
		}
	}
	p := &parrot{n: a.NTextState, seed: seed, tokens: map[int]bool{eot: true}, norms: map[int][]float64{}}
	for _, t := range tokens {
		if p.tokens[t] {
			return nil, fmt.Errorf("%q repeats a token; a parrot model says each token once", sentence)
		}
		p.tokens[t] = true
	}
	// Every prompt ends in a special token (start of transcript, language, task, no
	// timestamps); each of them starts the sentence.
	for special := eot + 1; special < a.NVocab-1501; special++ {
		p.hidden, p.next = append(p.hidden, special), append(p.next, tokens[0])
	}
	for i, t := range tokens {
		after := eot
		if i+1 < len(tokens) {
			after = tokens[i+1]
		}
		p.hidden, p.next = append(p.hidden, t), append(p.next, after)
	}
	if len(p.hidden) > 4*p.n {
		return nil, fmt.Errorf("the sentence is too long for this architecture's MLP (%d hidden units)", 4*p.n)
	}
	return p, nil
}

// embedding is token tok's embedding value at col: uniform by a hash, scaled by fan-in as
// the random weights are, larger for the sentence's tokens.
func (p *parrot) embedding(tok, col int) float32 {
	x := p.seed ^ uint64(tok)*0x9E3779B97F4A7C15 ^ uint64(col)*0xC2B2AE3D27D4EB4F
	x ^= x >> 33
	x *= 0xFF51AFD7ED558CCD
	x ^= x >> 33
	x *= 0xC4CEB9FE1A85EC53
	x ^= x >> 33
	v := (float32(x>>40)/float32(1<<23) - 1) / float32(math.Sqrt(float64(p.n)))
	if p.tokens[tok] {
		v *= parrotStrong
	}
	return v
}

// normalised is tok's embedding as a layer norm (gain 1, bias 0) leaves it.
func (p *parrot) normalised(tok int) []float64 {
	if row, ok := p.norms[tok]; ok {
		return row
	}
	row := make([]float64, p.n)
	defer func() { p.norms[tok] = row }()
	var mean float64
	for c := range row {
		row[c] = float64(p.embedding(tok, c))
		mean += row[c]
	}
	mean /= float64(p.n)
	var variance float64
	for c := range row {
		row[c] -= mean
		variance += row[c] * row[c]
	}
	std := math.Sqrt(variance/float64(p.n) + 1e-5)
	for c := range row {
		row[c] /= std
	}
	return row
}

// value is element i of the named tensor where the parrot sets it.
func (p *parrot) value(name string, i int64) (float32, bool) {
	n := int64(p.n)
	switch {
	case name == "decoder.positional_embedding":
		return 0, true
	case name == "decoder.token_embedding.weight":
		return p.embedding(int(i/n), int(i%n)), true
	case !strings.HasPrefix(name, "decoder.blocks."):
		return 0, false
	case strings.HasSuffix(name, "attn.out.weight") || strings.HasSuffix(name, "attn.out.bias"):
		return 0, true // self- and cross-attention add nothing: no audio, no position
	case strings.HasSuffix(name, ".mlp.2.weight") && !strings.HasPrefix(name, "decoder.blocks.0."):
		return 0, true // later blocks pass the residual stream through
	case name == "decoder.blocks.0.mlp.0.weight": // [hidden][n]
		h := int(i / n)
		if h >= len(p.hidden) {
			return 0, true
		}
		return float32(parrotGain * p.normalised(p.hidden[h])[i%n] / float64(n)), true
	case name == "decoder.blocks.0.mlp.0.bias":
		if int(i) < len(p.hidden) {
			return -parrotGain / 2, true
		}
		return 0, true
	case name == "decoder.blocks.0.mlp.2.weight": // [n][hidden]
		out, h := int(i/(4*n)), int(i%(4*n))
		if h >= len(p.hidden) {
			return 0, true
		}
		return p.embedding(p.next[h], out), true
	}
	return 0, false
}
