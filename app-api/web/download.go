package web

import (
	"errors"
	"mime"
	"regexp"
	"strconv"

	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
)

var extPattern = regexp.MustCompile(`^\.[a-z0-9]{1,10}$`)

func parsePositive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<30 {
		return 0, errors.New("not a positive number")
	}
	return n, nil
}

// downloadName names a downloaded record by its ID, version and type: record IDs are random
// and already restricted to safe characters, so the name needs no escaping.
func downloadName(rel *gateway.Release) string {
	ext := ".bin"
	if rel.MediaType == fhir.MediaType {
		ext = ".fhir.json"
	} else if exts, _ := mime.ExtensionsByType(rel.MediaType); len(exts) > 0 && extPattern.MatchString(exts[0]) {
		// The system's MIME table is outside input too: only plain extensions reach a header.
		ext = exts[0]
	}
	return rel.Record.ID + "-v" + strconv.Itoa(rel.Version.Number) + ext
}
