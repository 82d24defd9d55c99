package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dictate-app/dictate/audio"
	"github.com/dictate-app/dictate/engine"
	"github.com/dictate-app/dictate/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// modelServer serves a generated model file with the behaviours the tests switch on.
type modelServer struct {
	*httptest.Server
	data      []byte
	mu        sync.Mutex
	requests  int
	ranges    []string
	served    []int64 // body bytes per request
	cutAfter  int64   // first request: close the connection after this many bytes
	noRange   bool
	status    int
	slow      bool
	corrupted bool
}

func newModelServer(t *testing.T) *modelServer {
	data, err := os.ReadFile(testenv.Model(t, "micro"))
	if err != nil {
		t.Fatal(err)
	}
	s := &modelServer{data: data}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (s *modelServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	first := s.requests == 1
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	status, noRange, slow, cut := s.status, s.noRange, s.slow, s.cutAfter
	s.mu.Unlock()
	data := s.data
	if s.corrupted {
		data = bytes.Clone(data)
		data[len(data)-100] ^= 0xff
	}
	cw := &countingWriter{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		s.served = append(s.served, cw.n)
		s.mu.Unlock()
	}()
	switch {
	case status != 0:
		http.Error(w, "nope", status)
	case first && cut > 0:
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		cw.Write(data[:cut])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // the connection drops mid-file
	case slow:
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		for i := 0; i < len(data); i += 64 << 10 {
			if _, err := cw.Write(data[i:min(i+64<<10, len(data))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(50 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	case noRange:
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		cw.Write(data)
	default:
		http.ServeContent(cw, r, "m.bin", time.Time{}, bytes.NewReader(data))
	}
}

func (s *modelServer) entry() Entry {
	sum := sha256.Sum256(s.data)
	return Entry{Name: "micro-test", URL: s.URL + "/m.bin", Size: int64(len(s.data)), SHA256: hex.EncodeToString(sum[:]), Arch: "micro"}
}

func newManager(t *testing.T, entries ...Entry) *Manager {
	m := New(t.TempDir(), append(append([]Entry{}, Catalog...), entries...))
	m.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	m.Mirror = ""
	return m
}

func leftovers(t *testing.T, m *Manager) []string {
	files, _ := filepath.Glob(filepath.Join(m.Dir, "*"))
	return files
}

// A model named in a custom catalog downloads from a local server with progress and
// verification, and then transcribes.
func TestDownloadFromCustomCatalogThenTranscribe(t *testing.T) {
	srv := newModelServer(t)
	catalog := filepath.Join(t.TempDir(), "catalog.json")
	data, _ := json.Marshal([]Entry{srv.entry()})
	os.WriteFile(catalog, data, 0o644)
	entries, err := LoadCatalog(catalog)
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t)
	m.Entries = entries
	var last Progress
	var phases []string
	inst, err := m.Download(context.Background(), "micro-test", func(p Progress) {
		last = p
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Verified != "sha256" || inst.Size != int64(len(srv.data)) || !strings.Contains(inst.Model, "micro") {
		t.Errorf("installed %+v", inst)
	}
	if len(phases) != 2 || phases[0] != "downloading" || phases[1] != "verifying" || last.Phase != "verifying" {
		t.Errorf("progress phases %v", phases)
	}
	got, _ := os.ReadFile(inst.Path)
	if !bytes.Equal(got, srv.data) {
		t.Fatal("installed file differs from the served one")
	}
	list, _ := m.List()
	if len(list) != 1 || list[0].Name != "micro-test" || list[0].SHA256 != srv.entry().SHA256 {
		t.Fatalf("list %+v", list)
	}
	model, err := engine.Load(inst.Path, engine.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	pcm, err := audio.DecodeFile(context.Background(), testenv.SpeechSample(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := model.Transcribe(context.Background(), pcm[:16000*5], engine.Options{MaxTokens: 5})
	if err != nil || res.Text == "" {
		t.Fatalf("transcribe: %q %v", res.Text, err)
	}
}

func TestDownloadResumesAfterCut(t *testing.T) {
	srv := newModelServer(t)
	const cut = 3 << 20
	srv.cutAfter = cut
	m := newManager(t, srv.entry())
	var downloads []Progress
	if _, err := m.Download(context.Background(), "micro-test", func(p Progress) { downloads = append(downloads, p) }); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.requests != 2 || srv.ranges[1] != fmt.Sprintf("bytes=%d-", cut) {
		t.Fatalf("requests %d with ranges %q", srv.requests, srv.ranges)
	}
	if rest := int64(len(srv.data)) - cut; srv.served[1] != rest {
		t.Fatalf("after the cut the server sent %d bytes, want only the remaining %d", srv.served[1], rest)
	}
	for _, p := range downloads {
		if p.Phase == "downloading" && (p.Total != int64(len(srv.data)) || p.Done > p.Total) {
			t.Fatalf("progress %+v", p)
		}
	}
}

func TestDownloadRestartsWhenServerIgnoresRange(t *testing.T) {
	srv := newModelServer(t)
	srv.noRange = true
	m := newManager(t, srv.entry())
	os.MkdirAll(m.Dir, 0o755)
	// A stale partial file with wrong bytes: it must not end up in the model.
	os.WriteFile(filepath.Join(m.Dir, "micro-test.bin.part"), bytes.Repeat([]byte("x"), 12345), 0o644)
	inst, err := m.Download(context.Background(), "micro-test", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(inst.Path)
	if !bytes.Equal(got, srv.data) || srv.ranges[0] != "bytes=12345-" {
		t.Fatalf("file ok=%v, range %q", bytes.Equal(got, srv.data), srv.ranges[0])
	}
}

func TestDownloadRejectsWrongBytes(t *testing.T) {
	srv := newModelServer(t)
	srv.corrupted = true
	good := srv.entry()
	cases := []struct {
		name  string
		entry Entry
		want  string
	}{
		{"checksum", good, "SHA-256"},
		// Without a checksum the header and tensor table are still checked: here the
		// architecture differs from the catalog's.
		{"architecture", Entry{Name: "micro-test", URL: good.URL, Size: good.Size, Arch: "tiny.en"}, "dimensions"},
		{"size", Entry{Name: "micro-test", URL: good.URL, Size: good.Size * 2, Arch: "micro"}, "catalog says about"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := newManager(t, c.entry)
			_, err := m.Download(context.Background(), "micro-test", nil)
			if !errors.Is(err, ErrVerify) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "deleted") {
				t.Fatalf("error %v, want verification failure mentioning %q", err, c.want)
			}
			if files := leftovers(t, m); len(files) != 0 {
				t.Fatalf("left behind: %v", files)
			}
		})
	}
}

func TestDownloadHTTPErrors(t *testing.T) {
	for _, c := range []struct {
		status   int
		requests int
		want     string
	}{
		{http.StatusNotFound, 1, "HTTP 404"},
		{http.StatusForbidden, 1, "HTTP 403"},
		{http.StatusInternalServerError, 4, "HTTP 500"},
	} {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			srv := newModelServer(t)
			srv.status = c.status
			m := newManager(t, srv.entry())
			m.Retries = 3
			_, err := m.Download(context.Background(), "micro-test", nil)
			if !errors.Is(err, ErrHTTP) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v", err)
			}
			if srv.requests != c.requests {
				t.Errorf("%d requests, want %d", srv.requests, c.requests)
			}
			if _, err := os.Stat(m.modelPath("micro-test")); err == nil {
				t.Error("a model file exists")
			}
		})
	}
}

func TestDownloadCancelsSlowServer(t *testing.T) {
	srv := newModelServer(t)
	srv.slow = true
	m := newManager(t, srv.entry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := m.Download(ctx, "micro-test", nil)
		done <- err
	}()
	// Cancel once part of the file has arrived (a fixed sleep raced on a loaded machine).
	part := m.modelPath("micro-test") + ".part"
	testenv.WaitFor(5*time.Second, func() bool { st, err := os.Stat(part); return err == nil && st.Size() > 0 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("cancel did not stop the download")
	}
	if _, err := os.Stat(m.modelPath("micro-test")); err == nil {
		t.Fatal("a model file exists after cancel")
	}
	// The partial file is kept, and the next download resumes from it.
	st, err := os.Stat(part)
	if err != nil || st.Size() == 0 {
		t.Fatalf("partial file: %v", err)
	}
	srv.slow = false
	if _, err := m.Download(context.Background(), "micro-test", nil); err != nil {
		t.Fatal(err)
	}
	if last := srv.ranges[len(srv.ranges)-1]; last != fmt.Sprintf("bytes=%d-", st.Size()) {
		t.Errorf("resumed with range %q, want from %d", last, st.Size())
	}
}

type failingWriter struct {
	f    *os.File
	left int64
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > w.left {
		n, _ := w.f.Write(p[:w.left])
		w.left = 0
		return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
	}
	w.left -= int64(len(p))
	return w.f.Write(p)
}
func (w *failingWriter) Close() error { return w.f.Close() }

func TestDownloadFullDiskLeavesNothing(t *testing.T) {
	srv := newModelServer(t)
	m := newManager(t, srv.entry())
	m.openPart = func(path string, truncate bool) (io.WriteCloser, error) {
		f, err := openPartFile(path, truncate)
		if err != nil {
			return nil, err
		}
		return &failingWriter{f: f.(*os.File), left: 1 << 20}, nil
	}
	_, err := m.Download(context.Background(), "micro-test", nil)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("error %v", err)
	}
	if files := leftovers(t, m); len(files) != 0 {
		t.Fatalf("left behind: %v", files)
	}
	if srv.requests != 1 {
		t.Errorf("%d requests: a full disk is not worth retrying", srv.requests)
	}
	// Known too little space is refused before writing.
	m.openPart = nil
	m.freeSpace = func(string) (uint64, error) { return 1 << 20, nil }
	if _, err := m.Download(context.Background(), "micro-test", nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("error %v, want ErrNoSpace", err)
	}
}

func TestConcurrentDownloadsShareOneTransfer(t *testing.T) {
	srv := newModelServer(t)
	srv.slow = true
	m := newManager(t, srv.entry())
	var wg sync.WaitGroup
	var progressed atomic.Int32
	results := make([]Installed, 3)
	errs := make([]error, 3)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = m.Download(context.Background(), "micro-test", func(Progress) { progressed.Add(1) })
		}(i)
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i].Path != results[0].Path {
			t.Fatalf("caller %d: %+v %v", i, results[i], errs[i])
		}
	}
	if srv.requests != 1 {
		t.Errorf("%d transfers, want 1", srv.requests)
	}
	if progressed.Load() < 3 {
		t.Errorf("progress reached callers %d times", progressed.Load())
	}
}

func TestMirror(t *testing.T) {
	srv := newModelServer(t)
	e := srv.entry()
	e.URL = hf + "someone/models/resolve/main/m.bin"
	m := newManager(t, e)
	m.Mirror = srv.URL + "/"
	if got := m.URL(e); got != srv.URL+"/someone/models/resolve/main/m.bin" {
		t.Fatalf("mirror URL %q", got)
	}
	if _, err := m.Download(context.Background(), "micro-test", nil); err != nil {
		t.Fatal(err)
	}
}

func TestImportListRemoveDefault(t *testing.T) {
	m := newManager(t)
	src := testenv.Model(t, "micro")
	if _, err := m.Default(); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("default with nothing installed: %v", err)
	}
	a, err := m.Import(src, "copied", false)
	if err != nil || a.Verified != "imported" || a.SHA256 == "" {
		t.Fatalf("%+v %v", a, err)
	}
	b, err := m.Import(src, "linked", true)
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(b.Path); err != nil || !filepath.IsAbs(target) {
		t.Fatalf("link %q %v", target, err)
	}
	if _, err := m.Default(); !errors.Is(err, ErrNoDefault) || errors.Is(err, ErrNotInstalled) {
		t.Fatalf("two models and no default chosen: %v", err)
	}
	if err := m.SetDefault("linked"); err != nil {
		t.Fatal(err)
	}
	d, err := m.Default()
	if err != nil || d.Name != "linked" {
		t.Fatalf("default %+v %v", d, err)
	}
	if p, err := m.Resolve("copied"); err != nil || p != a.Path {
		t.Fatalf("resolve %q %v", p, err)
	}
	if _, err := m.Resolve("distil-small.en"); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "dictate models download distil-small.en") {
		t.Fatalf("resolve of a catalog model not installed: %v", err)
	}
	if err := m.Remove("linked"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatal("removing a linked model removed its target")
	}
	list, _ := m.List()
	if len(list) != 1 || list[0].Name != "copied" || list[0].Default {
		t.Fatalf("list %+v", list)
	}
	// A corrupt file is refused at import and nothing is added.
	bad := filepath.Join(t.TempDir(), "bad.bin")
	os.WriteFile(bad, []byte("not a model"), 0o644)
	if _, err := m.Import(bad, "", false); !errors.Is(err, engine.ErrInvalidModel) {
		t.Fatalf("import of a corrupt file: %v", err)
	}
	if list, _ := m.List(); len(list) != 1 {
		t.Fatalf("list after a refused import: %+v", list)
	}
}

var catalogCases = []struct {
	name, json, err string
}{
	{"ok", `[{"name":"mine","url":"https://example.invalid/m.bin","size":10,"sha256":"` + strings.Repeat("a", 64) + `","arch":"micro"}]`, ""},
	{"override built-in", `[{"name":"distil-small.en","url":"http://mirror.invalid/x.bin","size":10}]`, ""},
	{"not a list", `{"name":"x"}`, "not a JSON list"},
	{"unknown field", `[{"name":"x","url":"https://a/b","size":1,"colour":"red"}]`, "unknown field"},
	{"bad name", `[{"name":"../etc","url":"https://a/b","size":1}]`, "name"},
	{"duplicate", `[{"name":"x","url":"https://a/b","size":1},{"name":"x","url":"https://a/b","size":1}]`, "twice"},
	{"ftp", `[{"name":"x","url":"ftp://a/b","size":1}]`, "not http"},
	{"short sha", `[{"name":"x","url":"https://a/b","sha256":"abc"}]`, "64 hex"},
	{"nothing to check", `[{"name":"x","url":"https://a/b"}]`, "sha256 or at least the size"},
	{"bad arch", `[{"name":"x","url":"https://a/b","size":1,"arch":"huge"}]`, "unknown arch"},
}

func TestParseCatalog(t *testing.T) {
	for _, c := range catalogCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCatalog([]byte(c.json))
			if (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(path, []byte(catalogCases[1].json), 0o644)
	entries, err := LoadCatalog(path)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := Find(entries, "distil-small.en")
	if e.URL != "http://mirror.invalid/x.bin" || len(entries) != len(Catalog) {
		t.Fatalf("override: %+v, %d entries", e, len(entries))
	}
}

func FuzzParseCatalog(f *testing.F) {
	for _, c := range catalogCases {
		f.Add([]byte(c.json))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := ParseCatalog(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			if !validName(e.Name) || (!strings.HasPrefix(e.URL, "http://") && !strings.HasPrefix(e.URL, "https://")) {
				t.Fatalf("accepted %+v", e)
			}
		}
	})
}

func TestBuiltInCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Catalog {
		if seen[e.Name] || !strings.HasPrefix(e.URL, hf) || e.Size <= 0 || e.Arch == "" {
			t.Errorf("entry %+v", e)
		}
		seen[e.Name] = true
		if _, ok := e.arch(); !ok {
			t.Errorf("%s: arch %q is no preset", e.Name, e.Arch)
		}
		if e.SHA1 != "" && !isHex(e.SHA1, 40) {
			t.Errorf("%s: sha1 %q", e.Name, e.SHA1)
		}
	}
	for _, name := range []string{"distil-small.en", "distil-medium.en", "distil-large-v2", "distil-large-v3", "distil-large-v3.5", "large-v3-turbo"} {
		if !seen[name] {
			t.Errorf("catalog lacks %s", name)
		}
	}
}

func TestRecommend(t *testing.T) {
	cases := []struct {
		gpu  bool
		lang string
		want string
	}{
		{false, "en", "distil-small.en"},
		{false, "auto", "distil-small.en"},
		{true, "", "distil-large-v3"},
		{true, "de", "large-v3-turbo"},
		{false, "fr", "large-v3-turbo"},
	}
	for _, c := range cases {
		if got, why := Recommend(c.gpu, c.lang); got != c.want || why == "" {
			t.Errorf("gpu=%v lang=%q: %s, want %s", c.gpu, c.lang, got, c.want)
		}
	}
}

// Each way a download fails on a user's machine is named, with what to do, and a retried
// failure is reported while it retries: no network at all (the name does not resolve),
// a closed port, a TLS certificate nobody trusts, an HTTP error and a full disk.
func TestDownloadErrorsSayWhyAndWhatToDo(t *testing.T) {
	srv := newModelServer(t)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	// The machine's resolver answers "refused" at once, as one without a network does.
	offline := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}}}).DialContext}}
	for _, c := range []struct {
		name, url    string
		client       *http.Client
		status       int
		full         bool
		reason, does string
	}{
		{"offline", "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/m.bin", offline, 0, false, "could not be looked up", "DICTATE_MODEL_MIRROR"},
		{"closed port", closedURL + "/m.bin", nil, 0, false, "no network connection to 127.0.0.1", "HTTPS_PROXY"},
		{"untrusted certificate", tlsSrv.URL + "/m.bin", nil, 0, false, "TLS certificate", "CA certificate"},
		{"HTTP 404", "", nil, http.StatusNotFound, false, "answered HTTP 404", "catalog entry"},
		{"disk full", "", nil, 0, true, "disk is full", "DICTATE_MODELS_DIR"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := srv.entry()
			if c.url != "" {
				e.URL = c.url
			}
			srv.status = c.status
			m := newManager(t, e)
			m.Retries = 1
			if c.client != nil {
				m.Client = c.client
			}
			if c.full {
				m.freeSpace = func(string) (uint64, error) { return 1 << 20, nil }
			}
			var retrying []Progress
			_, err := m.Download(context.Background(), "micro-test", func(p Progress) {
				if p.Phase == "retrying" {
					retrying = append(retrying, p)
				}
			})
			var de *DownloadError
			if !errors.As(err, &de) || !strings.Contains(de.Reason, c.reason) || !strings.Contains(de.Advice, c.does) ||
				!strings.Contains(err.Error(), de.Reason) {
				t.Fatalf("error %v (%+v)", err, de)
			}
			if c.status == 0 && !c.full && (len(retrying) != 1 || !strings.Contains(retrying[0].Problem, c.reason)) {
				t.Errorf("retries reported %+v", retrying)
			}
		})
	}
}
