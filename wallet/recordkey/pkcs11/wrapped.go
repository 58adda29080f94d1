package pkcs11

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/careledger/careledger/wallet/recordkey"
)

// Wrapped data key layout: "CLP1" | KEK version (4, big-endian) | IV (12) | AES-GCM
// ciphertext of the data key with its 16-byte tag (48).
const (
	wrappedMagic = "CLP1"
	ivLen        = 12
	tagLen       = 16
	wrappedLen   = len(wrappedMagic) + 4 + ivLen + recordkey.DataKeySize + tagLen
)

// wrapped is a parsed wrapped data key; its slices alias the input.
type wrapped struct {
	version uint32
	iv      []byte
	sealed  []byte // ciphertext and tag
}

// parseWrapped checks the layout of a wrapped data key from outside (the record store).
func parseWrapped(b []byte) (wrapped, error) {
	if len(b) != wrappedLen || !bytes.HasPrefix(b, []byte(wrappedMagic)) {
		return wrapped{}, fmt.Errorf("%w: not a wrapped key of the pkcs11 key service", recordkey.ErrCorrupt)
	}
	w := wrapped{
		version: binary.BigEndian.Uint32(b[4:8]),
		iv:      b[8 : 8+ivLen],
		sealed:  b[8+ivLen:],
	}
	if w.version == 0 {
		return wrapped{}, fmt.Errorf("%w: key version 0", recordkey.ErrCorrupt)
	}
	return w, nil
}

func (w wrapped) marshal() []byte {
	out := make([]byte, 0, wrappedLen)
	out = append(out, wrappedMagic...)
	out = binary.BigEndian.AppendUint32(out, w.version)
	out = append(out, w.iv...)
	return append(out, w.sealed...)
}

// wrapAAD binds a wrapped key to its patient and KEK version.
func wrapAAD(patient string, version uint32) []byte {
	b := []byte("careledger/pkcs11/dek/v1\x00" + patient + "\x00")
	return binary.BigEndian.AppendUint32(b, version)
}
