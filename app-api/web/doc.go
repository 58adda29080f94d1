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
//
// Record content is shown from fhir.Describe's summary, as text only (never FHIR narrative):
// results with value, unit, reference range and a flag that is a word with a symbol, never a
// colour alone; diagnoses and procedures with their code; medicines with dose and route;
// documents with title, type and file; allergies with their risk. A clinician's patient page
// and patient list name the patient (name, birth date, age, sex) from the newest record of
// the demographics category the patient granted them; that read is audited like any other.
//
// People are named from the clinician directory (Config.Directory), asked as the signed-in
// person: "Dr Anna Weber (internist, Cardiology) at Klinikum Musterstadt", with the pseudonym
// beside; organisations by their human names. A clinician invites a patient with a QR code
// (SVG drawn on the server) or a link holding their pseudonym, name and suggested scope; the
// patient's page shows who asks, from the directory, and what, and grants exactly that in one
// step with the patient's own key (invite.go says why the link is shown in full rather than
// signed).
//
// Pages reflow at 320 CSS pixels (WCAG 1.4.10): wide tables sit in their own focusable
// scrolling region and IDs wrap. The browser tests run axe-core on every page they open.
//
// Times are written in words ("12 March 2026, 09:30") in the reader's time zone. The page
// script (static/app.js; the pages' CSP forbids inline scripts) puts the browser's IANA zone
// name in the __Host-careledger-tz cookie on every page, the sign-in page included; the server
// accepts only a zone its zone database knows and otherwise uses Config.TimeZone, by default
// Europe/Berlin (DefaultTimeZone). Calendar dates, such as a birth date, are shown as the
// date they name and never move with the zone. The page footer names the zone in use.
package web
