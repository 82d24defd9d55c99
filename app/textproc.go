package app

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Whisper invents text for silence and noise: annotations and stock phrases learnt from
// subtitles. Annotations are removed anywhere. A take that is nothing but a stock phrase is
// dropped only when the audio itself suggests there was no speech: "Thank you.", "Okay" or
// "Bye" are also real, common replies.
var annotation = regexp.MustCompile(`(?i)\s*(\[(blank_audio|music|noise|silence|sound|inaudible|applause|laughter|no speech)\]|\((music|silence|applause|laughs|laughter|inaudible|noise|no speech)\)|♪+)\s*`)

var hallucinations = map[string][]string{
	"en": {"thank you", "thank you very much", "thanks for watching", "thank you for watching",
		"thanks for watching and see you next time", "please subscribe", "subscribe to my channel",
		"you", "bye", "bye bye", "okay", "so", "subtitles by the amara.org community",
		"transcription by castingwords", "the end"},
	"de": {"vielen dank", "danke", "untertitel im auftrag des zdf für funk, 2017",
		"untertitel im auftrag des zdf, 2017", "untertitelung des zdf, 2020", "tschüss"},
	"fr": {"merci", "sous-titres réalisés para la communauté d'amara.org", "merci d'avoir regardé"},
	"es": {"gracias", "subtítulos realizados por la comunidad de amara.org", "gracias por ver el video"},
}

// SpeechEvidence is what the audio of a take says about whether anyone spoke.
type SpeechEvidence struct {
	NoSpeechProb    float32       // the highest no-speech probability of the text's segments
	Voiced          time.Duration // speech the gate found
	PeakOverFloorDB float64       // the loudest 20 ms over the take's background
}

// likelySilence: the audio gives a reason to doubt there was speech. A short reply spoken
// into a microphone is voiced for 300 ms or more, stands 15 dB or more above the room and
// gets a low no-speech probability; noise, breath and a click fall short of one of these.
func (e SpeechEvidence) likelySilence() bool {
	return e.NoSpeechProb > 0.2 || e.Voiced < 300*time.Millisecond || e.PeakOverFloorDB < 15
}

// normalizePhrase lowercases and strips punctuation and spaces at the ends.
func normalizePhrase(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) })
}

// FilterHallucinations returns text without non-speech annotations, and whether the take
// should be dropped: left empty, or a stock phrase from audio that shows no speech.
func FilterHallucinations(text, lang string, ev SpeechEvidence) (string, bool) {
	clean := strings.TrimSpace(annotation.ReplaceAllString(text, " "))
	clean = strings.Join(strings.Fields(clean), " ")
	norm := normalizePhrase(clean)
	if norm == "" {
		return "", true
	}
	if isStockPhrase(norm, lang) && ev.likelySilence() {
		return "", true
	}
	return clean, false
}

func isStockPhrase(norm, lang string) bool {
	return slices.Contains(hallucinations[lang], norm) || slices.Contains(hallucinations["en"], norm)
}

// Replacement rewrites spoken words, e.g. "new line" → "\n".
type Replacement struct {
	From string `toml:"from" json:"from"`
	To   string `toml:"to" json:"to"`
}

// DefaultReplacements are the spoken commands every user gets.
var DefaultReplacements = []Replacement{
	{From: "new paragraph", To: "\n\n"},
	{From: "new line", To: "\n"},
}

// ApplyReplacements applies rules in order, case-insensitively, on whole words. A rule whose
// result is only whitespace (a line break) also eats the spaces and the punctuation Whisper
// puts around the spoken command.
func ApplyReplacements(text string, rules []Replacement) string {
	for _, r := range rules {
		from := strings.TrimSpace(r.From)
		if from == "" {
			continue
		}
		words := strings.Fields(regexp.QuoteMeta(from))
		pattern := `(?i)\b` + strings.Join(words, `[\s,]+`) + `\b`
		if strings.TrimSpace(r.To) == "" {
			pattern = `(?i)[ \t]*\b` + strings.Join(words, `[\s,]+`) + `\b[.,;:!?]*[ \t]*`
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			continue
		}
		text = re.ReplaceAllLiteralString(text, r.To)
	}
	return text
}

// Joiner spaces and capitalises consecutive takes so they read as one text: a take that
// continues a sentence starts lower-case after a space; one after a full stop or a line
// break starts with a capital. After a long pause the cursor has likely moved, so the
// next take starts afresh.
type Joiner struct {
	Fresh time.Duration // default 2 minutes
	prev  string
	at    time.Time
}

// Join returns text as it should be inserted after the previous take.
func (j *Joiner) Join(text string, now time.Time) string {
	fresh := j.Fresh
	if fresh == 0 {
		fresh = 2 * time.Minute
	}
	if text == "" {
		return ""
	}
	out := text
	if j.prev != "" && now.Sub(j.at) < fresh {
		last, _ := utf8.DecodeLastRuneInString(j.prev)
		first, size := utf8.DecodeRuneInString(text)
		endsSentence := strings.ContainsRune(".!?:\n", last)
		if !endsSentence && unicode.IsUpper(first) && !keepCapital(text) {
			out = string(unicode.ToLower(first)) + text[size:]
		}
		if endsSentence && unicode.IsLower(first) {
			out = string(unicode.ToUpper(first)) + text[size:]
		}
		if !unicode.IsSpace(last) && !unicode.IsSpace(first) && !unicode.IsPunct(first) {
			out = " " + out
		}
	}
	j.prev, j.at = out, now
	return out
}

// keepCapital: "I", "I'm", acronyms and names Whisper capitalised mid-word keep their case.
func keepCapital(text string) bool {
	word, _, _ := strings.Cut(text, " ")
	word = strings.TrimRightFunc(word, unicode.IsPunct)
	if word == "I" || strings.HasPrefix(word, "I'") {
		return true
	}
	upper := 0
	for _, r := range word {
		if unicode.IsUpper(r) {
			upper++
		}
	}
	return upper > 1
}
