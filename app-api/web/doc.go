// Package web is CareLedger's browser interface for patients, clinicians and manufacturers:
// server-rendered pages (html/template, with the CSS and a few lines of script embedded in
// the binary, so nothing is fetched from the internet) mounted next to the JSON API.
//
// The pages decide nothing. A person signs in with a wallet identity (label and passphrase
// unlock it on the server, and it stays in memory behind a short-lived session cookie) or with
// a TLS client certificate; every page then asks the ledger and the gateway, as that person,
// and shows what they allow and why they refuse. Consent changes (grants, revocations,
// research consent, erasure) are signed by the person's own wallet identity, never by a
// service identity, so a certificate-only session can look but not consent.
package web
