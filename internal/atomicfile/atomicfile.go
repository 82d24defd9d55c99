// Package atomicfile writes files so that a crash, a power cut or a full disk never leaves
// a half-written file where a whole one is expected: the data goes to a temporary file
// beside the target, is synced to disk, and is renamed over the target; then the directory
// is synced so the rename itself is on disk. The target holds the old content or the whole
// new one, never a mix.
package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// File is a temporary file that becomes the target on Commit.
type File struct {
	*os.File
	target string
	perm   os.FileMode
	done   bool
}

// Create starts a file that will replace path with mode perm. Defer Abort: after Commit it
// does nothing.
func Create(path string, perm os.FileMode) (*File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &File{File: tmp, target: path, perm: perm}, nil
}

// Commit syncs the data, renames it over the target and syncs the directory.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: already committed or aborted")
	}
	f.done = true
	err := errors.Join(f.Chmod(f.perm), f.Sync(), f.Close())
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), f.target); err != nil {
		os.Remove(f.Name())
		return err
	}
	return syncDir(filepath.Dir(f.target))
}

// CommitNew is Commit for a target that must not exist yet: if it does, nothing is
// replaced and the error is os.ErrExist (the temporary file stays for another CommitNew).
func (f *File) CommitNew(path string) error {
	if f.done {
		return errors.New("atomicfile: already committed or aborted")
	}
	if err := errors.Join(f.Chmod(f.perm), f.Sync()); err != nil {
		return err
	}
	// A hard link never replaces an existing file: the check and the creation are one step.
	if err := os.Link(f.Name(), path); err != nil {
		return err
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
	return syncDir(filepath.Dir(path))
}

// Abort closes and removes the temporary file, leaving the target as it was.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// Write replaces path with what fill writes.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := fill(f); err != nil {
		return err
	}
	return f.Commit()
}

// WriteBytes replaces path with data.
func WriteBytes(path string, perm os.FileMode, data []byte) error {
	return Write(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// Rename moves a finished file (a download's .part) over path: the file is synced first
// and the directory after.
func Rename(from, path string) error {
	f, err := os.OpenFile(from, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = errors.Join(f.Sync(), f.Close())
	if err != nil {
		return err
	}
	if err := os.Rename(from, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable. Some systems cannot sync a directory; the rename
// stands all the same, so only real I/O errors are reported.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !isUnsupported(err) {
		return err
	}
	return nil
}
