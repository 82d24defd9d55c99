//go:build !unix

package models

import "errors"

// freeBytes is unknown here; a failed write is still caught and cleaned up.
func freeBytes(dir string) (uint64, error) { return 0, errors.ErrUnsupported }
