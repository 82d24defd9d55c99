package app

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/dictate-app/dictate/app/textout"
	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
)

// LivePolicy says when commit-while-speaking runs a pass and what a pass may commit.
// Whisper's encoder cannot be resumed, so each pass transcribes the audio not yet
// committed (whisper_streaming's LocalAgreement-2): words two passes in a row agree on are
// committed, the buffer is trimmed at the end of the last committed segment, and a pause
// ends a phrase, which is then committed whole.
type LivePolicy struct {
	Start       time.Duration // no pass before the take is this long
	Step        time.Duration // new audio before the next pass
	Holdback    time.Duration // words ending this close to the end of the audio wait for the next pass
	Pause       time.Duration // silence that ends a phrase
	PromptRunes int           // committed text given to each pass as its prompt
}

// LivePolicyFor is the policy for a model on a GPU (a pass about every 0.5 s from the
// start) or a CPU (the next pass once the last has ended and a second of new audio came,
// from 6 s on). A CPU pass takes seconds, and one still running at release delays the
// text: a 5 s take was 0.65 s slower with passes than without (distil-small.en q8_0 on 2
// cores, BENCHMARKS.md), while takes this short gain nothing from them.
func LivePolicyFor(gpu bool) LivePolicy {
	p := LivePolicy{Start: 6 * time.Second, Step: time.Second, Holdback: time.Second, Pause: 500 * time.Millisecond, PromptRunes: 200}
	if gpu {
		p.Start, p.Step, p.Holdback = 0, 500*time.Millisecond, 500*time.Millisecond
	}
	return p
}

// LiveText is what a take's live transcription shows: words committed (they will be
// typed) and words the last pass heard that may still change.
type LiveText struct {
	Committed string
	Tentative string
	New       string        // committed by this pass
	Elapsed   time.Duration // of the take, when this was heard
}

// Commit is words committed while the take was being spoken, and when (history records
// keep them, so a take shows what was live).
type Commit struct {
	AtMS float64 `json:"at_ms"` // how much of the take had been heard (pre-roll included)
	Text string  `json:"text"`
}

// liveWord is a word of a pass with its time in the take (estimated within its segment).
type liveWord struct {
	text       string
	start, end time.Duration
	segEnd     time.Duration // the end of its segment when it is the segment's last word, else -1
}

// agreement is the commit state of one take: pure bookkeeping, no audio and no engine, so
// its boundaries are tested on their own.
type agreement struct {
	committed []string      // every committed word, as it will be typed
	base      time.Duration // the take's time where the uncommitted buffer starts
	inBuffer  int           // committed words inside the buffer (their segment not yet ended)
	commitEnd time.Duration // where the last committed word ends
	prev      []liveWord    // the last pass's words after the committed ones
}

// passWords splits segments into words with times in the take: a segment's words share
// its span in proportion to their letters (whisper.cpp's segment times are what every
// model gives, token times are not).
func passWords(segs []engine.Segment, offset time.Duration) []liveWord {
	var out []liveWord
	for _, s := range segs {
		fields := strings.Fields(s.Text)
		total := 0
		for _, f := range fields {
			total += len([]rune(f))
		}
		span := s.End - s.Start
		at := 0
		for i, f := range fields {
			w := liveWord{text: f, segEnd: -1}
			w.start = offset + s.Start + span*time.Duration(at)/time.Duration(max(1, total))
			at += len([]rune(f))
			w.end = offset + s.Start + span*time.Duration(at)/time.Duration(max(1, total))
			if i == len(fields)-1 {
				w.segEnd = offset + s.End
			}
			out = append(out, w)
		}
	}
	return out
}

// sameWord compares words as heard: case and punctuation aside.
func sameWord(a, b string) bool {
	norm := func(s string) string {
		return strings.ToLower(strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) }))
	}
	return norm(a) == norm(b)
}

// fresh drops from a pass's words those already committed. The buffer may start with
// committed words whose segment went on: the pass normally repeats them word for word.
// Where it heard them otherwise, words starting before the last commit ended go. And a
// pass may hear again the end of the last committed word (segment times are not exact),
// so new words starting within a second of it that repeat the committed text's last one
// to five words go too (as whisper_streaming does).
func (a *agreement) fresh(words []liveWord) []liveWord {
	if a.inBuffer > 0 {
		tail := a.committed[len(a.committed)-a.inBuffer:]
		if len(words) >= len(tail) && sameWords(words[:len(tail)], tail) {
			return words[len(tail):]
		}
		const slack = 100 * time.Millisecond
		i := 0
		for i < len(words) && words[i].start < a.commitEnd-slack {
			i++
		}
		words = words[i:]
	}
	if len(words) == 0 || len(a.committed) == 0 || words[0].start > a.commitEnd+time.Second {
		return words
	}
	for n := min(5, len(a.committed), len(words)); n > 0; n-- {
		if sameWords(words[:n], a.committed[len(a.committed)-n:]) {
			return words[n:]
		}
	}
	return words
}

func sameWords(words []liveWord, texts []string) bool {
	for i, w := range words {
		if !sameWord(w.text, texts[i]) {
			return false
		}
	}
	return true
}

// pass takes a pass over the buffer (segments timed from the buffer's start, which is
// a.base) that heard audio up to end. It commits the words this pass and the last agree
// on, except those ending within holdback of end, moves the buffer's start past the last
// segment committed whole, and returns the words committed.
func (a *agreement) pass(segs []engine.Segment, end, holdback time.Duration) []string {
	words := a.fresh(passWords(segs, a.base))
	n := 0
	for n < len(words) && n < len(a.prev) && sameWord(words[n].text, a.prev[n].text) && words[n].end <= end-holdback {
		n++
	}
	a.prev = words[n:]
	return a.commit(words[:n])
}

// final commits all of a pass's words (a phrase ended by a pause, or the take's end) and
// starts the buffer afresh at next.
func (a *agreement) final(segs []engine.Segment, next time.Duration) []string {
	words := a.fresh(passWords(segs, a.base))
	out := a.commit(words)
	a.base, a.inBuffer, a.prev = next, 0, nil
	return out
}

func (a *agreement) commit(words []liveWord) []string {
	var out []string
	for _, w := range words {
		out = append(out, w.text)
		a.committed = append(a.committed, w.text)
		a.commitEnd = w.end
		a.inBuffer++
		if w.segEnd >= 0 {
			// The segment is committed whole: the buffer starts after it.
			a.base, a.inBuffer = w.segEnd, 0
		}
	}
	return out
}

// tentative is what the last pass heard beyond the committed words.
func (a *agreement) tentative() string {
	var b strings.Builder
	for i, w := range a.prev {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.text)
	}
	return b.String()
}

// prompt is the end of the committed text before the buffer, at most n runes, starting
// at a word. Committed words still inside the buffer are left out (as whisper_streaming
// does): the pass hears them again, and a prompt ending in them made a model skip ahead.
func (a *agreement) prompt(n int) string {
	s := strings.Join(a.committed[:len(a.committed)-a.inBuffer], " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[len(r)-n:])
	if i := strings.IndexByte(cut, ' '); i >= 0 {
		cut = cut[i+1:]
	}
	return cut
}

// liveSource is a take whose audio can be read while it records (audio.Take).
type liveSource interface {
	Recorded() int                  // samples so far
	SamplesFrom(from int) []float32 // a copy of them from index from
}

// gpuModel is a Transcriber that says where it runs (engine.Model).
type gpuModel interface{ OnGPU() bool }

// liveRun transcribes one take while it records. Its goroutine owns the agreement until
// finish has returned; then the worker finishes the take with it.
type liveRun struct {
	d      *Dictation
	src    liveSource
	policy LivePolicy
	cfg    DictationConfig
	cancel context.CancelFunc
	done   chan struct{}

	agr     agreement
	commits []Commit
	passes  int

	// Live typing (DictationConfig.LiveType): the committed words typed so far, as
	// inserted; stopped for the take by a failure.
	quick     bool
	typeCtx   context.Context // Run's: a release must not cut a word being typed
	typed     int
	typedText string
	noTyping  bool
}

// startLive begins transcribing take while it records, when the setting is on and the take
// can be read meanwhile (d.mu held).
func (d *Dictation) startLive(take RecordingTake, quick bool) *liveRun {
	src, ok := take.(liveSource)
	if !d.cfg.Live || !ok {
		return nil
	}
	g, _ := d.eng.(gpuModel)
	parent := d.runCtx
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	policy := LivePolicyFor(g != nil && g.OnGPU())
	if !d.cfg.LivePrompt {
		policy.PromptRunes = 0
	}
	l := &liveRun{d: d, src: src, policy: policy, cfg: d.cfg, cancel: cancel, done: make(chan struct{}), quick: quick, typeCtx: parent}
	go l.run(ctx)
	return l
}

func samplesOf(t time.Duration) int { return int(t * audio.TargetRate / time.Second) }

func durationOf(samples int) time.Duration {
	return time.Duration(samples) * time.Second / audio.TargetRate
}

// run passes over the uncommitted audio until finish: once per Step of new audio (a pass
// that takes longer delays the next), a phrase ended by a pause committed whole.
func (l *liveRun) run(ctx context.Context) {
	defer close(l.done)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	heard := 0 // the take's samples when the last pass began
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		total := l.src.Recorded()
		if total < samplesOf(l.policy.Start) || total-heard < samplesOf(l.policy.Step) {
			continue
		}
		heard = total
		base := samplesOf(l.agr.base)
		buf := l.src.SamplesFrom(base)
		g := audio.Gate(buf, l.cfg.Gate)
		if !g.Speech {
			// Nothing said yet: keep the last second, so the buffer does not grow with quiet.
			if len(buf) > 5*audio.TargetRate && l.agr.inBuffer == 0 {
				l.agr.base = durationOf(base + len(buf) - audio.TargetRate)
				l.agr.prev = nil
			}
			l.publish(nil, durationOf(base+len(buf)))
			continue
		}
		// A phrase ended by a pause is transcribed up to 200 ms into it and committed whole.
		start, _, phraseEnded := audio.LastPause(buf, l.policy.Pause)
		cut := len(buf)
		if phraseEnded {
			cut = min(len(buf), start+samplesOf(200*time.Millisecond))
		}
		res, err := l.transcribe(ctx, buf[:cut])
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		end, speech := durationOf(base+len(buf)), speechSegments(res.Segments, l.cfg.NoSpeechThreshold)
		if phraseEnded {
			l.publish(l.agr.final(speech, durationOf(base+cut)), end)
			heard = 0 // what follows the pause is heard at once
		} else {
			l.publish(l.agr.pass(speech, end, l.policy.Holdback), end)
		}
		l.typeCommitted()
	}
}

// typeCommitted types the words committed since the last call (LiveType), unless the
// held hotkey would turn them into shortcuts: then they wait for the next pass or release.
func (l *liveRun) typeCommitted() {
	if !l.cfg.LiveType || l.quick || l.noTyping || l.typed == len(l.agr.committed) || l.d.typingBlocked(l) {
		return
	}
	inserted, err := l.d.insert(l.typeCtx, l.untyped(l.cfg.Replacements))
	if err != nil {
		// Where nothing can type, the text went to the clipboard: at release all of it goes
		// there. Otherwise the rest waits for release.
		l.noTyping = true
		if !errors.Is(err, textout.ErrCopiedOnly) {
			l.d.log.Warn("typing committed words failed; the rest is typed at release", "err", err)
		}
		return
	}
	l.typed, l.typedText = len(l.agr.committed), l.typedText+inserted
}

// untyped is the committed words not typed yet, with the replacements applied.
func (l *liveRun) untyped(replacements []Replacement) string {
	return ApplyReplacements(strings.Join(l.agr.committed[l.typed:], " "), replacements)
}

// transcribe runs a pass, prompted with the end of the committed text.
func (l *liveRun) transcribe(ctx context.Context, pcm []float32) (engine.Result, error) {
	opts := l.cfg.Engine
	if p := l.agr.prompt(l.policy.PromptRunes); p != "" {
		// A leading space, as Whisper tokenises a prompt: words then are the tokens that
		// follow text (" word"), the ones the model writes.
		opts.InitialPrompt = " " + strings.TrimSpace(opts.InitialPrompt+" "+p)
	}
	res, err := l.d.eng.Transcribe(ctx, pcm, opts)
	if err == nil {
		l.passes++
	} else if ctx.Err() == nil {
		l.d.log.Warn("a live pass failed; the take is transcribed at release", "err", err)
	}
	return res, err
}

// speechSegments is the segments Whisper thinks likely speech: no more likely silence
// than threshold (DictationConfig.NoSpeechThreshold).
func speechSegments(segs []engine.Segment, threshold float32) []engine.Segment {
	var out []engine.Segment
	for _, s := range segs {
		if s.NoSpeechProb <= threshold {
			out = append(out, s)
		}
	}
	return out
}

// publish records what a pass committed and shows the live text.
func (l *liveRun) publish(words []string, elapsed time.Duration) {
	text := strings.Join(words, " ")
	if text != "" {
		l.commits = append(l.commits, Commit{AtMS: Millis(elapsed), Text: text})
	}
	l.d.events.publish(Event{Kind: EventLive, Live: &LiveText{Committed: strings.Join(l.agr.committed, " "),
		Tentative: l.agr.tentative(), New: text, Elapsed: elapsed}})
}

// finish stops the pass in flight and the loop; afterwards the agreement is the caller's.
func (l *liveRun) finish() {
	l.cancel()
	<-l.done
}

// finalText finishes the take: one pass on the audio after the last commit, all of it
// committed. The whole take's text is returned (empty: nothing was said).
func (l *liveRun) finalText(ctx context.Context, samples []float32) (string, engine.Result, error) {
	l.finish()
	base := samplesOf(l.agr.base)
	var res engine.Result
	if base < len(samples) {
		rest := samples[base:]
		if g := audio.Gate(rest, l.cfg.Gate); g.Speech {
			var err error
			if res, err = l.transcribe(ctx, rest); err != nil {
				return strings.Join(l.agr.committed, " "), res, err
			}
			l.publish(l.agr.final(speechSegments(res.Segments, l.cfg.NoSpeechThreshold), durationOf(len(samples))), durationOf(len(samples)))
		}
	}
	return strings.Join(l.agr.committed, " "), res, nil
}
