package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/adrg/xdg"
)

// Latency breaks down one take, in milliseconds.
type Latency struct {
	PreRoll              float64 `json:"pre_roll_ms,omitempty"` // audio kept from before key-down (instant start)
	KeyDownToFirstSample float64 `json:"key_down_to_first_sample_ms"`
	Tail                 float64 `json:"tail_ms"`
	Gate                 float64 `json:"gate_ms"`
	Encode               float64 `json:"encode_ms"`
	Decode               float64 `json:"decode_ms"`
	Insert               float64 `json:"insert_ms"`
	KeyUpToText          float64 `json:"key_up_to_text_ms"`
}

// TakeRecord is one line of the history file.
type TakeRecord struct {
	Time      time.Time `json:"time"`
	Audio     float64   `json:"audio_s"` // seconds recorded
	Model     string    `json:"model"`
	Device    string    `json:"device"`
	Text      string    `json:"text"`               // what was recognised (after filters)
	Inserted  string    `json:"inserted,omitempty"` // what was typed or pasted
	Output    string    `json:"output,omitempty"`   // type, paste or clipboard (quick transcribe, or nothing could type)
	Inserter  string    `json:"inserter,omitempty"` // what typed or pasted: xtest, wayland, portal, …
	Dropped   string    `json:"dropped,omitempty"`  // silence, no-speech, hallucination
	Error     string    `json:"error,omitempty"`
	AudioPath string    `json:"audio_path,omitempty"`
	Latency   Latency   `json:"latency"`
	// Commit-while-speaking: the words committed before release (with when), the passes
	// run, and device blocks the capture lost (never any, unless the machine stalled).
	Commits       []Commit `json:"commits,omitempty"`
	LivePasses    int      `json:"live_passes,omitempty"`
	LiveTyped     string   `json:"live_typed,omitempty"` // typed while speaking (live_type), as inserted
	DroppedBlocks int      `json:"dropped_blocks,omitempty"`
}

// History is the append-only take log (JSON lines, readable only by the user).
type History struct {
	path string
	mu   sync.Mutex
}

// DefaultHistoryPath is $XDG_DATA_HOME/dictate/history.jsonl (the platform's data dir
// elsewhere).
func DefaultHistoryPath() string { return filepath.Join(xdg.DataHome, "dictate", "history.jsonl") }

// OpenHistory uses the file at path, creating its directory.
func OpenHistory(path string) (*History, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	return &History{path: path}, nil
}

// Path of the history file.
func (h *History) Path() string { return h.path }

// Append writes one record, synced to disk.
func (h *History) Append(r TakeRecord) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := os.OpenFile(h.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(line, '\n'))
	return errors.Join(werr, f.Sync(), f.Close())
}

// Load returns the last n records (all when n <= 0), oldest first. Lines it cannot parse
// (a crash mid-write) are skipped and counted, never removed.
func (h *History) Load(n int) (records []TakeRecord, skipped int, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, err := os.Open(h.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			var rec TakeRecord
			if json.Unmarshal(line, &rec) == nil {
				records = append(records, rec)
				if n > 0 && len(records) > n {
					records = records[1:]
				}
			} else {
				skipped++
			}
		}
		if err == io.EOF {
			return records, skipped, nil
		}
		if err != nil {
			return records, skipped, err
		}
	}
}

// Last returns the newest record with text, for copy-last and paste-last.
func (h *History) Last() (TakeRecord, error) {
	recs, _, err := h.Load(0)
	if err != nil {
		return TakeRecord{}, err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Text != "" {
			return recs[i], nil
		}
	}
	return TakeRecord{}, fmt.Errorf("no dictation in %s yet", h.path)
}
