//go:build unix

package atomicfile

import (
	"errors"
	"syscall"
)

// isUnsupported: file systems that cannot sync a directory say EINVAL or ENOTSUP.
func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
