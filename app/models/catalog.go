// Package models finds, downloads, verifies and keeps Whisper model files.
package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/dictate-app/dictate/engine"
)

// Entry is one downloadable model.
type Entry struct {
	Name        string `json:"name"`
	URL         string `json:"url"`
	Size        int64  `json:"size"`             // bytes, approximate for catalog entries
	SHA1        string `json:"sha1,omitempty"`   // as published (whisper.cpp's models README)
	SHA256      string `json:"sha256,omitempty"` // custom catalogs
	EnglishOnly bool   `json:"english_only"`
	Params      string `json:"params,omitempty"` // "166M"
	Speed       string `json:"speed,omitempty"`  // relative to large-v3
	Arch        string `json:"arch,omitempty"`   // engine preset whose dims the header must have
	Weights     string `json:"weights,omitempty"`
	Notes       string `json:"notes,omitempty"`
	// ArchDims lets a custom catalog give dimensions that match no preset.
	ArchDims *engine.Arch `json:"arch_dims,omitempty"`
}

// Verification names how a file was checked.
func (e Entry) Verification() string {
	switch {
	case e.SHA256 != "":
		return "sha256"
	case e.SHA1 != "":
		return "sha1"
	}
	return "size+header"
}

const (
	hf       = "https://huggingface.co/"
	mib      = 1 << 20
	whisperR = hf + "ggerganov/whisper.cpp/resolve/main/"
)

// whisperCppModel is an entry of the models whisper.cpp publishes (ggerganov/whisper.cpp on
// Hugging Face), with their published SHA-1.
func whisperCppModel(name string, sizeMiB int64, sha1 string, en bool, params, speed, arch, weights string) Entry {
	return Entry{Name: name, URL: whisperR + "ggml-" + name + ".bin", Size: sizeMiB * mib, SHA1: sha1,
		EnglishOnly: en, Params: params, Speed: speed, Arch: arch, Weights: weights}
}

// Catalog is the built-in list. Checksums are the SHA-1s that whisper.cpp's models README
// publishes; Distil-Whisper publishes none, so those files are checked by size and by their
// header and tensor table matching the architecture, and their SHA-256 is recorded locally.
// Sizes are the publishers' figures (MiB, or MB for Distil-Whisper), for space checks and
// progress before the server reports the exact length.
var Catalog = []Entry{
	{Name: "distil-small.en", URL: hf + "distil-whisper/distil-small.en/resolve/main/ggml-distil-small.en.bin",
		Size: 336 * 1000 * 1000, EnglishOnly: true, Params: "166M", Speed: "~6x", Arch: "distil-small.en", Weights: "f16",
		Notes: "4 decoder layers; the best choice on a CPU"},
	{Name: "distil-medium.en", URL: hf + "distil-whisper/distil-medium.en/resolve/main/ggml-medium-32-2.en.bin",
		Size: 794 * 1000 * 1000, EnglishOnly: true, Params: "394M", Speed: "~7x", Arch: "distil-medium.en", Weights: "f16"},
	{Name: "distil-large-v2", URL: hf + "distil-whisper/distil-large-v2/resolve/main/ggml-large-32-2.en.bin",
		Size: 1520 * 1000 * 1000, EnglishOnly: true, Params: "756M", Speed: "~6x", Arch: "distil-large-v2", Weights: "f16"},
	{Name: "distil-large-v3", URL: hf + "distil-whisper/distil-large-v3-ggml/resolve/main/ggml-distil-large-v3.bin",
		Size: 1520 * 1000 * 1000, EnglishOnly: true, Params: "756M", Speed: "~6x", Arch: "distil-large-v3", Weights: "f16",
		Notes: "2 decoder layers; the best choice with a GPU"},
	{Name: "distil-large-v3.5", URL: hf + "distil-whisper/distil-large-v3.5-ggml/resolve/main/ggml-model.bin",
		Size: 1520 * 1000 * 1000, EnglishOnly: true, Params: "756M", Speed: "~6x", Arch: "distil-large-v3", Weights: "f16"},

	whisperCppModel("tiny", 75, "bd577a113a864445d4c299885e0cb97d4ba92b5f", false, "39M", "~32x", "tiny", "f16"),
	whisperCppModel("tiny.en", 75, "c78c86eb1a8faa21b369bcd33207cc90d64ae9df", true, "39M", "~32x", "tiny.en", "f16"),
	whisperCppModel("base", 142, "465707469ff3a37a2b9b8d8f89f2f99de7299dac", false, "74M", "~16x", "base", "f16"),
	whisperCppModel("base.en", 142, "137c40403d78fd54d454da0f9bd998f78703390c", true, "74M", "~16x", "base.en", "f16"),
	whisperCppModel("small", 466, "55356645c2b361a969dfd0ef2c5a50d530afd8d5", false, "244M", "~6x", "small", "f16"),
	whisperCppModel("small.en", 466, "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022", true, "244M", "~6x", "small.en", "f16"),
	whisperCppModel("medium", 1536, "fd9727b6e1217c2f614f9b698455c4ffd82463b4", false, "769M", "~2x", "medium", "f16"),
	whisperCppModel("medium.en", 1536, "8c30f0e44ce9560643ebd10bbe50cd20eafd3723", true, "769M", "~2x", "medium.en", "f16"),
	whisperCppModel("large-v3", 2970, "ad82bf6a9043ceed055076d0fd39f5f186ff8062", false, "1550M", "1x", "large-v3", "f16"),
	whisperCppModel("large-v3-turbo", 1536, "4af2b29d7ec73d781377bfd1758ca957a807e941", false, "809M", "~8x", "large-v3-turbo", "f16"),

	whisperCppModel("tiny-q5_1", 31, "", false, "39M", "~32x", "tiny", "q5_1"),
	whisperCppModel("tiny.en-q5_1", 31, "", true, "39M", "~32x", "tiny.en", "q5_1"),
	whisperCppModel("tiny-q8_0", 42, "", false, "39M", "~32x", "tiny", "q8_0"),
	whisperCppModel("base-q5_1", 57, "", false, "74M", "~16x", "base", "q5_1"),
	whisperCppModel("base.en-q5_1", 57, "", true, "74M", "~16x", "base.en", "q5_1"),
	whisperCppModel("base-q8_0", 78, "", false, "74M", "~16x", "base", "q8_0"),
	whisperCppModel("small-q5_1", 181, "", false, "244M", "~6x", "small", "q5_1"),
	whisperCppModel("small.en-q5_1", 181, "", true, "244M", "~6x", "small.en", "q5_1"),
	whisperCppModel("small-q8_0", 252, "", false, "244M", "~6x", "small", "q8_0"),
	whisperCppModel("medium-q5_0", 514, "", false, "769M", "~2x", "medium", "q5_0"),
	whisperCppModel("medium.en-q5_0", 514, "", true, "769M", "~2x", "medium.en", "q5_0"),
	whisperCppModel("medium-q8_0", 785, "", false, "769M", "~2x", "medium", "q8_0"),
	whisperCppModel("large-v3-q5_0", 1126, "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de", false, "1550M", "1x", "large-v3", "q5_0"),
	whisperCppModel("large-v3-turbo-q5_0", 547, "e050f7970618a659205450ad97eb95a18d69c9ee", false, "809M", "~8x", "large-v3-turbo", "q5_0"),
	whisperCppModel("large-v3-turbo-q8_0", 834, "", false, "809M", "~8x", "large-v3-turbo", "q8_0"),
}

// ErrUnknownModel is returned for a name in no catalog.
var ErrUnknownModel = errors.New("unknown model")

// LoadCatalog returns the built-in catalog with the entries of the JSON file at path (a
// list of entries; "" for none) added, replacing built-in entries of the same name.
func LoadCatalog(path string) ([]Entry, error) {
	entries := append([]Entry(nil), Catalog...)
	if path == "" {
		return entries, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	custom, err := ParseCatalog(data)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	for _, c := range custom {
		replaced := false
		for i := range entries {
			if entries[i].Name == c.Name {
				entries[i], replaced = c, true
			}
		}
		if !replaced {
			entries = append(entries, c)
		}
	}
	return entries, nil
}

// ParseCatalog reads and checks a custom catalog.
func ParseCatalog(data []byte) ([]Entry, error) {
	var entries []Entry
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("not a JSON list of models: %w", err)
	}
	seen := map[string]bool{}
	for i, e := range entries {
		switch {
		case !validName(e.Name):
			return nil, fmt.Errorf("entry %d: name %q must be letters, digits, '.', '-' or '_'", i, e.Name)
		case seen[e.Name]:
			return nil, fmt.Errorf("entry %d: %q appears twice", i, e.Name)
		case !strings.HasPrefix(e.URL, "https://") && !strings.HasPrefix(e.URL, "http://"):
			return nil, fmt.Errorf("%s: url %q is not http(s)", e.Name, e.URL)
		case e.Size < 0:
			return nil, fmt.Errorf("%s: negative size", e.Name)
		case e.SHA256 != "" && !isHex(e.SHA256, 64):
			return nil, fmt.Errorf("%s: sha256 must be 64 hex digits", e.Name)
		case e.SHA1 != "" && !isHex(e.SHA1, 40):
			return nil, fmt.Errorf("%s: sha1 must be 40 hex digits", e.Name)
		case e.SHA256 == "" && e.SHA1 == "" && e.Size == 0:
			return nil, fmt.Errorf("%s: give a sha256 or at least the size, so the download can be checked", e.Name)
		}
		if e.Arch != "" {
			if _, ok := engine.PresetByName(e.Arch); !ok {
				return nil, fmt.Errorf("%s: unknown arch %q (have %s)", e.Name, e.Arch, strings.Join(engine.PresetNames(), ", "))
			}
		}
		seen[e.Name] = true
	}
	return entries, nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range strings.ToLower(s) {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// Find looks a name up.
func Find(entries []Entry, name string) (Entry, error) {
	for _, e := range entries {
		if e.Name == name {
			return e, nil
		}
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	return Entry{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownModel, name, strings.Join(names, ", "))
}

// Recommend picks the default model for the hardware and language: Distil-Whisper is
// English-only, so another language gets the multilingual large-v3-turbo.
func Recommend(hasGPU bool, language string) (name, why string) {
	lang := strings.ToLower(language)
	if lang != "" && lang != "en" && lang != "auto" {
		return "large-v3-turbo", "Distil-Whisper models are English-only; large-v3-turbo is the fastest multilingual model"
	}
	if hasGPU {
		return "distil-large-v3", "a GPU is present: distil-large-v3 is the most accurate fast English model"
	}
	return "distil-small.en", "CPU only: distil-small.en is fast enough for dictation on a CPU"
}
