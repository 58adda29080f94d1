//go:build !unix

package recordkey

// lockFile is a no-op where flock is unavailable; run one process per store there.
func lockFile(string) (func(), error) { return func() {}, nil }
