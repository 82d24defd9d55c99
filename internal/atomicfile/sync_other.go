//go:build !unix

package atomicfile

// isUnsupported: Windows cannot sync a directory handle; its renames are durable by
// themselves (MoveFileEx is journaled on NTFS).
func isUnsupported(err error) bool { return true }
