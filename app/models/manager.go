package models

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/adrg/xdg"

	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/atomicfile"
)

// Errors a caller may want to tell apart.
var (
	ErrNotInstalled = errors.New("model not installed")
	// ErrNoDefault: several models are installed and none is marked the default.
	ErrNoDefault = errors.New("no default model")
	ErrNoSpace   = errors.New("not enough free disk space")
	ErrVerify    = errors.New("downloaded file failed verification")
	ErrHTTP      = errors.New("download failed")
)

// DefaultDir is $XDG_DATA_HOME/dictate/models (the platform's data dir elsewhere).
func DefaultDir() string { return filepath.Join(xdg.DataHome, "dictate", "models") }

// Progress of a download.
type Progress struct {
	Name  string
	Phase string // "downloading", "retrying" or "verifying"
	Done  int64
	Total int64 // 0 when unknown
	Rate  float64
	ETA   time.Duration
	// While retrying: what went wrong, and when the next attempt starts.
	Problem string
	RetryIn time.Duration
}

// Installed is a model file in the models directory.
type Installed struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256,omitempty"`
	Verified string    `json:"verified"` // sha1, sha256, size+header, imported, unverified
	Source   string    `json:"source,omitempty"`
	Model    string    `json:"model,omitempty"` // engine's description of the file
	Added    time.Time `json:"added"`
	Default  bool      `json:"default"`
}

// Manager keeps the models directory.
type Manager struct {
	Dir     string
	Entries []Entry
	Client  *http.Client
	// Mirror replaces "https://huggingface.co" in catalog URLs (DICTATE_MODEL_MIRROR).
	Mirror  string
	Retries int                             // attempts after the first (default 5)
	Backoff func(attempt int) time.Duration // default 1 s, 2 s, 4 s … up to 30 s

	// Test hooks.
	freeSpace func(dir string) (uint64, error)
	openPart  func(path string, truncate bool) (io.WriteCloser, error)

	mu     sync.Mutex
	active map[string]*flight
}

// New returns a manager of dir with the given catalog entries.
func New(dir string, entries []Entry) *Manager {
	return &Manager{Dir: dir, Entries: entries, Client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment}},
		Mirror: os.Getenv("DICTATE_MODEL_MIRROR")}
}

func (m *Manager) modelPath(name string) string { return filepath.Join(m.Dir, name+".bin") }
func (m *Manager) metaPath(name string) string  { return filepath.Join(m.Dir, name+".json") }

// URL is where name is fetched from, the mirror applied.
func (m *Manager) URL(e Entry) string {
	if m.Mirror != "" && strings.HasPrefix(e.URL, hf) {
		return strings.TrimRight(m.Mirror, "/") + "/" + strings.TrimPrefix(e.URL, hf)
	}
	return e.URL
}

// flight is one download shared by every caller that asks for the same model.
type flight struct {
	done    chan struct{}
	res     Installed
	err     error
	cancel  context.CancelFunc
	waiters int
	stopped bool // every caller gave up: nobody may join, a new download starts afresh
	subs    []func(Progress)
	mu      sync.Mutex
}

func (f *flight) report(p Progress) {
	f.mu.Lock()
	subs := append([]func(Progress){}, f.subs...)
	f.mu.Unlock()
	for _, s := range subs {
		s(p)
	}
}

// Download fetches, verifies and installs a catalog model. Concurrent calls for the same
// model share one transfer; it stops when every caller has cancelled. A cut connection is
// resumed from the partial file (HTTP Range), a server that ignores Range restarts it.
func (m *Manager) Download(ctx context.Context, name string, progress func(Progress)) (Installed, error) {
	e, err := Find(m.Entries, name)
	if err != nil {
		return Installed{}, err
	}
	for {
		f := m.join(name, e, progress)
		if f == nil {
			continue // its last caller cancelled it; a new one resumes from its partial file
		}
		select {
		case <-f.done:
			return f.res, f.err
		case <-ctx.Done():
			f.mu.Lock()
			f.waiters--
			last := f.waiters == 0
			if last {
				f.stopped = true
				f.cancel()
			}
			f.mu.Unlock()
			if last {
				// The transfer stops at once; waiting keeps a download started right after
				// from writing the partial file beside it.
				<-f.done
			}
			return Installed{}, ctx.Err()
		}
	}
}

// join adds a caller (and its progress) to the running download of name, starting one if
// there is none; the caller is counted before the transfer starts, so no progress is
// missed (a refused connection is reported within microseconds). It returns nil after
// waiting for a download that every caller had left to end.
func (m *Manager) join(name string, e Entry, progress func(Progress)) *flight {
	m.mu.Lock()
	if m.active == nil {
		m.active = map[string]*flight{}
	}
	f, running := m.active[name]
	var fctx context.Context
	if !running {
		var cancel context.CancelFunc
		fctx, cancel = context.WithCancel(context.Background())
		f = &flight{done: make(chan struct{}), cancel: cancel}
		m.active[name] = f
	}
	m.mu.Unlock()
	if !running {
		defer func() { go m.transfer(fctx, f, name, e) }() // once the caller is counted
	}
	f.mu.Lock()
	if f.stopped {
		// Its last caller cancelled it: let it close its partial file first.
		f.mu.Unlock()
		<-f.done
		return nil
	}
	f.waiters++
	if progress != nil {
		f.subs = append(f.subs, progress)
	}
	f.mu.Unlock()
	return f
}

// transfer runs a flight's download and ends it.
func (m *Manager) transfer(ctx context.Context, f *flight, name string, e Entry) {
	f.res, f.err = m.download(ctx, e, f.report)
	m.mu.Lock()
	delete(m.active, name)
	m.mu.Unlock()
	f.cancel()
	close(f.done)
}

// permanentError ends the retries.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

func (m *Manager) download(ctx context.Context, e Entry, progress func(Progress)) (Installed, error) {
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		return Installed{}, err
	}
	url := m.URL(e)
	part := m.modelPath(e.Name) + ".part"
	retries, backoff := m.Retries, m.Backoff
	if retries == 0 {
		retries = 5
	}
	if backoff == nil {
		backoff = func(n int) time.Duration { return min(time.Second<<n, 30*time.Second) }
	}
	for attempt := 0; ; attempt++ {
		err := m.fetch(ctx, e, url, part, progress)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return Installed{}, ctx.Err() // the partial file stays for the next try
		}
		var perm permanentError
		if errors.As(err, &perm) || attempt >= retries {
			if attempt >= retries && !errors.As(err, &perm) {
				err = fmt.Errorf("%w (gave up after %d attempts)", err, attempt+1)
			}
			return Installed{}, explain(e.Name, url, err)
		}
		wait := backoff(attempt)
		var why *DownloadError
		if errors.As(explain(e.Name, url, err), &why) {
			progress(Progress{Name: e.Name, Phase: "retrying", Problem: why.Reason, RetryIn: wait})
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return Installed{}, ctx.Err()
		}
	}
	progress(Progress{Name: e.Name, Phase: "verifying"})
	inst, err := m.verify(e, part)
	if err != nil {
		os.Remove(part)
		return Installed{}, explain(e.Name, url, err)
	}
	final := m.modelPath(e.Name)
	if err := atomicfile.Rename(part, final); err != nil {
		os.Remove(part)
		return Installed{}, err
	}
	inst.Path, inst.Source, inst.Added = final, url, time.Now()
	if err := m.writeMeta(inst); err != nil {
		return Installed{}, err
	}
	return inst, nil
}

func (m *Manager) fetch(ctx context.Context, e Entry, url, part string, progress func(Progress)) error {
	var offset int64
	if st, err := os.Stat(part); err == nil {
		offset = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return permanentError{err}
	}
	req.Header.Set("User-Agent", "dictate-model-manager")
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := m.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrHTTP, e.Name, err)
	}
	defer resp.Body.Close()
	truncate := false
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(offset, 10)+"-") {
			os.Remove(part) // not the range asked for: start over on the next attempt
			return fmt.Errorf("%w: %s: server sent an unexpected range %q", ErrHTTP, e.Name, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK:
		truncate, offset = true, 0 // the server ignored Range: restart cleanly
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		os.Remove(part) // the partial file is longer than the model: start over
		return fmt.Errorf("%w: %s: partial file did not fit the server's copy; restarting", ErrHTTP, e.Name)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return permanentError{statusError{resp.StatusCode, "The file is not there: check the catalog entry, or DICTATE_MODEL_MIRROR if one is set.",
			fmt.Errorf("%w: %s is not at %s (HTTP %d)", ErrHTTP, e.Name, url, resp.StatusCode)}}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return permanentError{statusError{resp.StatusCode, "The server refused access; a proxy may need a login, or use a mirror (DICTATE_MODEL_MIRROR).",
			fmt.Errorf("%w: %s: access denied by the server (HTTP %d)", ErrHTTP, e.Name, resp.StatusCode)}}
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout:
		return statusError{resp.StatusCode, "The server has trouble or is busy; try again later.",
			fmt.Errorf("%w: %s: server error (HTTP %d)", ErrHTTP, e.Name, resp.StatusCode)}
	default:
		return permanentError{statusError{resp.StatusCode, "Check the catalog entry, or DICTATE_MODEL_MIRROR if one is set.",
			fmt.Errorf("%w: %s: unexpected HTTP %d from %s", ErrHTTP, e.Name, resp.StatusCode, url)}}
	}
	total := int64(0)
	if resp.ContentLength >= 0 {
		total = offset + resp.ContentLength
	}
	need := total - offset
	if total == 0 {
		need = max(e.Size-offset, 0)
	}
	if err := m.checkSpace(need); err != nil {
		return permanentError{err}
	}
	open := m.openPart
	if open == nil {
		open = openPartFile
	}
	w, err := open(part, truncate)
	if err != nil {
		return permanentError{err}
	}
	done := offset
	est := rateEstimator{start: time.Now(), base: offset}
	buf := make([]byte, 256<<10)
	lastReport := time.Time{}
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				w.Close()
				os.Remove(part) // a failed write (a full disk) leaves nothing behind
				return permanentError{fmt.Errorf("writing %s: %w", part, werr)}
			}
			done += int64(n)
			if time.Since(lastReport) > 100*time.Millisecond {
				lastReport = time.Now()
				progress(est.progress(e.Name, done, total))
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			w.Close()
			return fmt.Errorf("%w: %s: connection lost at %d bytes: %w", ErrHTTP, e.Name, done, rerr)
		}
	}
	if err := w.Close(); err != nil {
		os.Remove(part)
		return permanentError{fmt.Errorf("writing %s: %w", part, err)}
	}
	progress(est.progress(e.Name, done, total))
	if total > 0 && done < total {
		return fmt.Errorf("%w: %s: connection closed at %d of %d bytes", ErrHTTP, e.Name, done, total)
	}
	return nil
}

func openPartFile(path string, truncate bool) (io.WriteCloser, error) {
	flag := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if truncate {
		flag = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	return os.OpenFile(path, flag, 0o644)
}

func (m *Manager) checkSpace(need int64) error {
	free := m.freeSpace
	if free == nil {
		free = freeBytes
	}
	avail, err := free(m.Dir)
	if err != nil || need <= 0 {
		return nil // unknown: try, and a failed write is handled
	}
	const margin = 64 << 20
	if uint64(need)+margin > avail {
		return fmt.Errorf("%w in %s: the model needs %s, %s is free", ErrNoSpace, m.Dir, HumanBytes(need), HumanBytes(int64(avail)))
	}
	return nil
}

type rateEstimator struct {
	start time.Time
	base  int64
}

func (r rateEstimator) progress(name string, done, total int64) Progress {
	p := Progress{Name: name, Phase: "downloading", Done: done, Total: total}
	if secs := time.Since(r.start).Seconds(); secs > 0.05 {
		p.Rate = float64(done-r.base) / secs
	}
	if p.Rate > 0 && total > done {
		p.ETA = time.Duration(float64(total-done) / p.Rate * float64(time.Second))
	}
	return p
}

// verify checks the checksum the catalog gives, or the size, and in every case that the
// file is a whisper model of the catalog's architecture.
func (m *Manager) verify(e Entry, path string) (Installed, error) {
	f, err := os.Open(path)
	if err != nil {
		return Installed{}, err
	}
	defer f.Close()
	h1, h256 := sha1.New(), sha256.New()
	size, err := io.Copy(io.MultiWriter(h1, h256), f)
	if err != nil {
		return Installed{}, err
	}
	sum1, sum256 := hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h256.Sum(nil))
	fail := func(format string, args ...any) (Installed, error) {
		return Installed{}, fmt.Errorf("%w: %s: %s; the file was deleted", ErrVerify, e.Name, fmt.Sprintf(format, args...))
	}
	switch {
	case e.SHA256 != "" && !strings.EqualFold(e.SHA256, sum256):
		return fail("SHA-256 is %s, the catalog says %s", sum256, e.SHA256)
	case e.SHA1 != "" && !strings.EqualFold(e.SHA1, sum1):
		return fail("SHA-1 is %s, the publisher says %s", sum1, e.SHA1)
	case e.SHA1 == "" && e.SHA256 == "" && e.Size > 0 && math.Abs(float64(size-e.Size)) > 0.05*float64(e.Size):
		return fail("%s, the catalog says about %s", HumanBytes(size), HumanBytes(e.Size))
	}
	info, err := engine.ValidateModelFile(path)
	if err != nil {
		return fail("%v", err)
	}
	if want, ok := e.arch(); ok && info.Arch != want {
		return fail("its dimensions (%s) are not those of %s", info.Describe(), e.Arch)
	}
	if e.Weights != "" && info.WeightType != e.Weights {
		return fail("its weights are %s, the catalog says %s", info.WeightType, e.Weights)
	}
	return Installed{Name: e.Name, Size: size, SHA256: sum256, Verified: e.Verification(), Model: info.Describe()}, nil
}

func (e Entry) arch() (engine.Arch, bool) {
	if e.ArchDims != nil {
		return *e.ArchDims, true
	}
	if p, ok := engine.PresetByName(e.Arch); ok {
		return p.Arch, true
	}
	return engine.Arch{}, false
}

func (m *Manager) writeMeta(inst Installed) error {
	inst.Default = false
	data, err := json.MarshalIndent(inst, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(m.metaPath(inst.Name), 0o644, data)
}

// Import validates a model file and copies it (or links it) into the models directory.
func (m *Manager) Import(path, name string, link bool) (Installed, error) {
	info, err := engine.ValidateModelFile(path)
	if err != nil {
		return Installed{}, err
	}
	if name == "" {
		name = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "ggml-"), ".bin")
	}
	if !validName(name) {
		return Installed{}, fmt.Errorf("model name %q must be letters, digits, '.', '-' or '_'", name)
	}
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		return Installed{}, err
	}
	if err := m.checkSpace(info.Size); err != nil && !link {
		return Installed{}, err
	}
	final := m.modelPath(name)
	inst := Installed{Name: name, Path: final, Size: info.Size, Verified: "imported", Source: path, Model: info.Describe(), Added: time.Now()}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Installed{}, err
	}
	if link {
		tmp := final + ".link"
		os.Remove(tmp)
		if err := os.Symlink(abs, tmp); err != nil {
			return Installed{}, err
		}
		if err := os.Rename(tmp, final); err != nil {
			os.Remove(tmp)
			return Installed{}, err
		}
	} else {
		sum, err := copyFile(abs, final)
		if err != nil {
			return Installed{}, err
		}
		inst.SHA256 = sum
	}
	return inst, m.writeMeta(inst)
}

// Quantize converts an installed f16/f32 model into a new installed model NAME-TYPE
// (e.g. distil-small.en-q8_0) with ggml's quantisers: about half the size at q8_0 and a
// faster CPU encoder. The original stays.
func (m *Manager) Quantize(ctx context.Context, name string, to engine.FileType, progress func(float64)) (Installed, error) {
	src, err := m.Get(name)
	if err != nil {
		return Installed{}, err
	}
	dstName := name + "-" + to.String()
	if _, err := m.Get(dstName); err == nil {
		return Installed{}, fmt.Errorf("%s is already installed", dstName)
	}
	if err := m.checkSpace(src.Size); err != nil {
		return Installed{}, err
	}
	final := m.modelPath(dstName)
	info, err := engine.Quantize(ctx, src.Path, final, to, progress)
	if err != nil {
		return Installed{}, err
	}
	inst := Installed{Name: dstName, Path: final, Size: info.Size, Verified: "quantized from " + name, Source: src.Path,
		Model: info.Describe(), Added: time.Now()}
	return inst, m.writeMeta(inst)
}

// copyFile copies src to dst atomically and returns the SHA-256.
func copyFile(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := atomicfile.Create(dst, 0o644)
	if err != nil {
		return "", err
	}
	defer out.Abort()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		return "", err
	}
	if err := out.Commit(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// List returns the installed models, the default marked.
func (m *Manager) List() ([]Installed, error) {
	files, err := filepath.Glob(filepath.Join(m.Dir, "*.bin"))
	if err != nil {
		return nil, err
	}
	def, _ := m.defaultName()
	var out []Installed
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".bin")
		inst := Installed{Name: name, Path: f, Verified: "unverified"}
		if data, err := os.ReadFile(m.metaPath(name)); err == nil {
			if err := json.Unmarshal(data, &inst); err != nil {
				inst = Installed{Name: name, Verified: "unverified (its record " + filepath.Base(m.metaPath(name)) + " is unreadable)"}
			}
			inst.Path = f
		}
		if st, err := os.Stat(f); err == nil {
			inst.Size = st.Size()
		} else {
			inst.Verified = "missing (" + err.Error() + ")"
		}
		inst.Default = name == def
		out = append(out, inst)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Get returns one installed model.
func (m *Manager) Get(name string) (Installed, error) {
	list, err := m.List()
	if err != nil {
		return Installed{}, err
	}
	for _, i := range list {
		if i.Name == name {
			return i, nil
		}
	}
	return Installed{}, fmt.Errorf("%w: %s (dictate models download %s)", ErrNotInstalled, name, name)
}

// Remove deletes an installed model (a linked model's target stays).
func (m *Manager) Remove(name string) error {
	if _, err := m.Get(name); err != nil {
		return err
	}
	for _, p := range []string{m.modelPath(name), m.metaPath(name), m.modelPath(name) + ".part"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if def, _ := m.defaultName(); def == name {
		os.Remove(filepath.Join(m.Dir, "default"))
	}
	return nil
}

// SetDefault makes an installed model the one used when none is named.
func (m *Manager) SetDefault(name string) error {
	if _, err := m.Get(name); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(m.Dir, "default"), 0o644, []byte(name+"\n"))
}

// DefaultName is the name set with SetDefault ("" and an error when none is).
func (m *Manager) DefaultName() (string, error) { return m.defaultName() }

func (m *Manager) defaultName() (string, error) {
	data, err := os.ReadFile(filepath.Join(m.Dir, "default"))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// Default returns the default model: the one set, else the only one installed.
func (m *Manager) Default() (Installed, error) {
	list, err := m.List()
	if err != nil {
		return Installed{}, err
	}
	for _, i := range list {
		if i.Default {
			return i, nil
		}
	}
	if len(list) == 1 {
		return list[0], nil
	}
	if len(list) > 1 {
		return Installed{}, fmt.Errorf("%w: several models installed and none is the default (dictate models default NAME)", ErrNoDefault)
	}
	return Installed{}, ErrNotInstalled
}

// Resolve turns a --model argument into a file path: an existing file, or the name of an
// installed model.
func (m *Manager) Resolve(spec string) (string, error) {
	if st, err := os.Stat(spec); err == nil && !st.IsDir() {
		return spec, nil
	}
	if strings.ContainsRune(spec, os.PathSeparator) || strings.HasSuffix(spec, ".bin") {
		return spec, nil // a path: the engine's check says what is wrong with it
	}
	inst, err := m.Get(spec)
	if err != nil {
		if _, ferr := Find(m.Entries, spec); ferr == nil {
			return "", fmt.Errorf("%w: %s; download it with: dictate models download %s", ErrNotInstalled, spec, spec)
		}
		return "", fmt.Errorf("%w: no file or installed model named %q (dictate models list)", ErrNotInstalled, spec)
	}
	return inst.Path, nil
}

// HumanBytes prints a size for people.
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
