package wallet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/careledger/careledger/wallet/internal/atrest"
)

// fileVersion is the wallet file format version written today.
const fileVersion = 1

// maxFileSize bounds what ParseFile accepts; a real file is a few KiB.
const maxFileSize = 1 << 20

// File is a parsed wallet file: the public part in clear, the private key sealed with
// AES-256-GCM under a key derived from the passphrase. Everything in clear is bound to the
// ciphertext as additional data, so swapping the certificate or weakening the KDF parameters
// in the file makes it fail to open.
type File struct {
	Version     int              `json:"version"`
	Label       string           `json:"label"`
	MSPID       string           `json:"mspId"`
	Certificate string           `json:"certificate"`
	CAChain     string           `json:"caChain,omitempty"`
	KDF         atrest.KDFParams `json:"kdf"`
	Check       []byte           `json:"check"`
	Cipher      string           `json:"cipher"`
	Nonce       []byte           `json:"nonce"`
	SealedKey   []byte           `json:"sealedKey"`
}

const cipherAES256GCM = "AES-256-GCM"

// ParseFile decodes and validates a wallet file without decrypting it, so it is cheap and
// safe on untrusted input. Errors wrap ErrCorrupt.
func ParseFile(data []byte) (*File, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("parse wallet file: %w: %d bytes exceeds %d", ErrCorrupt, len(data), maxFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse wallet file: %w: %w", ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse wallet file: %w: trailing data", ErrCorrupt)
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("parse wallet file: %w", err)
	}
	return &f, nil
}

func (f *File) validate() error {
	switch {
	case f.Version != fileVersion:
		return fmt.Errorf("%w: unsupported version %d", ErrCorrupt, f.Version)
	case validateLabel(f.Label) != nil:
		return fmt.Errorf("%w: bad label", ErrCorrupt)
	case f.MSPID == "":
		return fmt.Errorf("%w: empty MSP ID", ErrCorrupt)
	case f.Cipher != cipherAES256GCM:
		return fmt.Errorf("%w: unknown cipher %q", ErrCorrupt, f.Cipher)
	case len(f.Nonce) != 12:
		return fmt.Errorf("%w: nonce of %d bytes", ErrCorrupt, len(f.Nonce))
	case len(f.Check) != 32:
		return fmt.Errorf("%w: check value of %d bytes", ErrCorrupt, len(f.Check))
	case len(f.SealedKey) < 16+1:
		return fmt.Errorf("%w: sealed key too short", ErrCorrupt)
	}
	if err := f.KDF.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if _, err := parseCertPEM([]byte(f.Certificate)); err != nil {
		return fmt.Errorf("%w: certificate: %w", ErrCorrupt, err)
	}
	if f.CAChain != "" {
		if _, err := parseCertsPEM([]byte(f.CAChain)); err != nil {
			return fmt.Errorf("%w: CA chain: %w", ErrCorrupt, err)
		}
	}
	return nil
}

// aad binds every clear field to the sealed key, length-prefixed so no two distinct files
// produce the same bytes.
func (f *File) aad() []byte {
	var b bytes.Buffer
	b.WriteString("careledger/wallet/v1")
	field := func(p []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		b.Write(n[:])
		b.Write(p)
	}
	field([]byte(f.Label))
	field([]byte(f.MSPID))
	field([]byte(f.Certificate))
	field([]byte(f.CAChain))
	kdf, _ := json.Marshal(f.KDF) // fixed struct, cannot fail
	field(kdf)
	field([]byte(f.Cipher))
	return b.Bytes()
}

// sealIdentity encrypts id's key under passphrase.
func sealIdentity(label string, id *Identity, passphrase []byte, cost atrest.Cost) ([]byte, error) {
	params, err := atrest.NewParams(cost)
	if err != nil {
		return nil, err
	}
	dk, err := atrest.Derive(passphrase, params)
	if err != nil {
		return nil, err
	}
	defer dk.Wipe()
	der, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	defer clear(der)
	f := &File{
		Version:     fileVersion,
		Label:       label,
		MSPID:       id.mspID,
		Certificate: string(id.certPEM),
		CAChain:     string(id.chain),
		KDF:         params,
		Check:       dk.Check[:],
		Cipher:      cipherAES256GCM,
		Nonce:       make([]byte, 12),
	}
	if _, err := rand.Read(f.Nonce); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	aead, err := newGCM(dk.Key[:])
	if err != nil {
		return nil, err
	}
	f.SealedKey = aead.Seal(nil, f.Nonce, der, f.aad())
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode wallet file: %w", err)
	}
	return append(out, '\n'), nil
}

// Open decrypts the file's private key with passphrase and returns the identity.
func (f *File) Open(passphrase []byte) (*Identity, error) {
	dk, err := atrest.Derive(passphrase, f.KDF)
	if err != nil {
		return nil, fmt.Errorf("open identity %q: %w: %w", f.Label, ErrCorrupt, err)
	}
	defer dk.Wipe()
	if !dk.CheckMatches(f.Check) {
		return nil, fmt.Errorf("open identity %q: %w", f.Label, ErrWrongPassphrase)
	}
	aead, err := newGCM(dk.Key[:])
	if err != nil {
		return nil, err
	}
	der, err := aead.Open(nil, f.Nonce, f.SealedKey, f.aad())
	if err != nil {
		// The passphrase was right, so the file changed after it was written.
		return nil, fmt.Errorf("open identity %q: %w: authentication failed", f.Label, ErrCorrupt)
	}
	defer clear(der)
	key, err := parsePrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("open identity %q: %w: %w", f.Label, ErrCorrupt, err)
	}
	id, err := NewIdentity(f.MSPID, []byte(f.Certificate), key, []byte(f.CAChain))
	if err != nil {
		return nil, fmt.Errorf("open identity %q: %w: %w", f.Label, ErrCorrupt, err)
	}
	return id, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}
