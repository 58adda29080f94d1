// Package atrest holds the pieces the wallet and the local key store share for keeping
// secrets on disk: a passphrase-based key derivation whose parameters travel with the file,
// and an atomic file write, so that a crash or a full disk never leaves half a file behind.
package atrest
