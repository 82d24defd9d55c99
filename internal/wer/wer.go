// Package wer measures word error rates: how far a transcript's words are from the words
// spoken, as edits (substitutions, insertions, deletions) over the words spoken.
package wer

import (
	"strings"
	"unicode"
)

// Words is text as it is scored: lowercase words, punctuation dropped ("Hello, world." and
// "hello world" score the same). An apostrophe inside a word stays ("don't"). A digit's
// name counts as the digit ("six" and "6" score the same): both are the same speech, and
// Whisper's English normaliser scores them so.
func Words(text string) []string {
	var words []string
	for _, f := range strings.Fields(strings.ToLower(text)) {
		w := strings.TrimFunc(f, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
		if d, ok := digitNames[w]; ok {
			w = d
		}
		if w != "" {
			words = append(words, w)
		}
	}
	return words
}

var digitNames = map[string]string{
	"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
	"five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}

// Errors is the least number of word edits that turn ref into hyp.
func Errors(ref, hyp []string) int {
	row := make([]int, len(hyp)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		diag := row[0]
		row[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := diag
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			diag = row[j]
			row[j] = min(row[j]+1, row[j-1]+1, sub)
		}
	}
	return row[len(hyp)]
}

// Tally sums errors and reference words over many utterances: a corpus WER weighs each
// word once, not each sentence.
type Tally struct {
	Errors, Words int
}

// Add scores one utterance and returns its own errors.
func (t *Tally) Add(ref, hyp string) int {
	r := Words(ref)
	e := Errors(r, Words(hyp))
	t.Errors += e
	t.Words += len(r)
	return e
}

// Rate is the word error rate in percent (0 with no words scored).
func (t Tally) Rate() float64 {
	if t.Words == 0 {
		return 0
	}
	return 100 * float64(t.Errors) / float64(t.Words)
}
