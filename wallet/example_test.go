package wallet_test

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"os"
	"time"

	"github.com/careledger/careledger/wallet"
)

// Storing an identity in the encrypted wallet and signing with it. In production the
// certificate comes from Fabric CA (package fabricca) or an MSP folder (ImportMSP); here a
// self-signed one stands in.
func ExampleWallet() {
	key, err := wallet.GenerateKey()
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "nurse-7"},
		NotBefore:    time.Now(),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	id, err := wallet.NewIdentity("ClinicMSP", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, nil)
	if err != nil {
		log.Fatal(err)
	}

	dir, err := os.MkdirTemp("", "wallet")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// Real wallets keep wallet.DefaultKDFCost; the low cost keeps the example fast.
	w, err := wallet.Open(dir, wallet.WithKDFCost(wallet.KDFCost{Time: 1, MemoryKiB: 64, Threads: 1}))
	if err != nil {
		log.Fatal(err)
	}
	if err := w.Put("nurse-7", id, []byte("correct horse battery staple")); err != nil {
		log.Fatal(err)
	}

	loaded, err := w.Get("nurse-7", []byte("correct horse battery staple"))
	if err != nil {
		log.Fatal(err)
	}
	digest := sha256.Sum256([]byte("proposal bytes"))
	// loaded.Sign fits fabric-gateway's client.WithSign; loaded.Signer() is a crypto.Signer.
	sig, err := loaded.Sign(digest[:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(loaded.MSPID(), loaded.EnrollmentID(), len(sig) > 0)
	fmt.Println(loaded.LedgerID())

	_, err = w.Get("nurse-7", []byte("wrong"))
	fmt.Println(err)
	// Output:
	// ClinicMSP nurse-7 true
	// d3629d8dbce541ef0814fc59ac8c6087
	// open identity "nurse-7": wrong passphrase
}
