package fabricca

import (
	"errors"
	"testing"
)

// FuzzParseEnrollResponse feeds arbitrary CA answers (status and body) through the
// response parser and the enrolment decoding: a hostile or broken CA must produce an
// error, never a panic or an identity that does not chain to the CA it named.
func FuzzParseEnrollResponse(f *testing.F) {
	f.Add(200, []byte(`{"success":true,"result":{"Cert":"","ServerInfo":{"CAChain":""}},"errors":[],"messages":[]}`))
	f.Add(401, []byte(`{"success":false,"result":null,"errors":[{"code":20,"message":"Authentication failure"}],"messages":[]}`))
	f.Add(500, []byte(`<html>proxy error</html>`))
	f.Add(200, []byte(`{"success":true,"result":{"Cert":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==","ServerInfo":{"CAChain":"!!"}}}`))
	f.Add(200, []byte{})
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		var out enrollResultNet
		err := parseResponse("enroll", status, body, &out)
		if err != nil {
			var se *ServerError
			if errors.As(err, &se) && se.Error() == "" {
				t.Fatal("empty server error message")
			}
			return
		}
		if status >= 400 {
			t.Fatalf("status %d accepted", status)
		}
		_, _, _ = out.decode()
	})
}
