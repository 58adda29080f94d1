package vaulttransit

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/careledger/careledger/wallet/recordkey"
)

func TestCiphertextVersion(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"vault:v1:abcd", 1},
		{"vault:v12:abcd", 12},
		{"vault:v0:abcd", 0},
		{"vault:v1:", 0},
		{"vault:vx:abcd", 0},
		{"vault:v-1:abcd", 0},
		{"abcd", 0},
		{"", 0},
	}
	for _, tt := range tests {
		got, err := ciphertextVersion(tt.in)
		if tt.want == 0 {
			if !errors.Is(err, recordkey.ErrCorrupt) {
				t.Errorf("%q: got %v, want ErrCorrupt", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// FuzzCiphertextVersion: wrapped keys come from record metadata; the check that runs before
// anything is sent to Vault must never panic.
func FuzzCiphertextVersion(f *testing.F) {
	f.Add("vault:v1:AAAA")
	f.Add("vault:v99999999999999999999:AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ciphertextVersion(s)
		if err == nil && v < 1 {
			t.Fatalf("accepted version %d", v)
		}
	})
}

func TestOptionsNeverPrintCredentials(t *testing.T) {
	o := Options{Address: "https://vault:8200", Token: "hvs.SECRET-TOKEN", AppRole: &AppRole{RoleID: "r", SecretID: "SECRET-ID"}}
	out := fmt.Sprintf("%v %+v %#v %s", o, o, o, o) + fmt.Sprintf("%v %#v", *o.AppRole, *o.AppRole)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "opts", o, "approle", *o.AppRole)
	out += buf.String()
	if strings.Contains(out, "SECRET") {
		t.Fatalf("credentials leaked: %s", out)
	}
}
