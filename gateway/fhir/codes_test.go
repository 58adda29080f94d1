package fhir

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodeForms(t *testing.T) {
	cases := []struct {
		system string
		good   []string
		bad    []string
	}{
		{SystemICD10GM, []string{"E11.9", "E11.90", "I10", "U07.1", "U69.10!", "G63.2*", "E14.40†"}, []string{"E119", "E11-9", "e11.9", "E11.900", "11.9", ""}},
		{SystemOPS, []string{"5-470.11", "8-930", "1-632.0", "1-20a.20", "5-470.x"}, []string{"5470.11", "5-47", "5-470.111", "0-470", "5-470.1A"}},
		{SystemATC, []string{"A10BA02", "A10", "A", "C09AA05", "J07BB02"}, []string{"A10BA2", "a10ba02", "A10BA023", "10BA02"}},
		{SystemLOINC, []string{"4548-4", "718-7", "85354-9", "98979-8", "LA6576-8", "LP14082-9"}, []string{"4548-5", "4548", "4548-44", "45 48-4", "-4"}},
		{SystemSNOMED, []string{"73211009", "44054006", "26643006", "764146007"}, []string{"73211008", "123", "abc", "0123456"}},
		{SystemUCUM, []string{"mg/dL", "%", "mmol/L", "mL/min/{1.73_m2}", "mm[Hg]", "10*9/L", "10*3/uL", "[IU]/L", "/min", "kg/m2", "{score}", "1", "Cel", "s-1", "mL/(24.h)", "[iU]", "%{HbA1c}"}, []string{"mg per dl", "mg/dL ", "", "foo", "(", "m)", "mg//dL", "{open"}},
	}
	for _, c := range cases {
		check := codeChecks[c.system]
		for _, code := range c.good {
			require.True(t, check.valid(code), "%s %q", c.system, code)
		}
		for _, code := range c.bad {
			require.False(t, check.valid(code), "%s %q", c.system, code)
		}
	}
}
