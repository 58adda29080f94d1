package network

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

func validateSimpleKeys(keys ...string) error {
	for _, key := range keys {
		if len(key) > 0 && key[0] == compositeKeyNamespace[0] {
			return fmt.Errorf(`first character of the key [%s] contains a null character which is not allowed`, key)
		}
	}
	return nil
}

func validateCompositeKeyAttribute(str string) error {
	if !utf8.ValidString(str) {
		return fmt.Errorf("not a valid utf8 string: [%x]", str)
	}
	for i, r := range str {
		if r == minUnicodeRune || r == maxUnicodeRune {
			return fmt.Errorf(`input contains unicode %#U starting at position [%d]. %#U and %#U are not allowed in the input attribute of a composite key`,
				r, i, minUnicodeRune, maxUnicodeRune)
		}
	}
	return nil
}

func createCompositeKey(objectType string, attributes []string) (string, error) {
	if err := validateCompositeKeyAttribute(objectType); err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(compositeKeyNamespace)
	b.WriteString(objectType)
	b.WriteRune(minUnicodeRune)
	for _, a := range attributes {
		if err := validateCompositeKeyAttribute(a); err != nil {
			return "", err
		}
		b.WriteString(a)
		b.WriteRune(minUnicodeRune)
	}
	return b.String(), nil
}

func splitCompositeKey(key string) (string, []string, error) {
	if !strings.HasPrefix(key, compositeKeyNamespace) || len(key) < 2 || key[len(key)-1] != 0 {
		return "", nil, fmt.Errorf("invalid composite key [%x]", key)
	}
	parts := strings.Split(key[1:len(key)-1], "\x00")
	return parts[0], parts[1:], nil
}

func partialCompositeRange(objectType string, attributes []string) (string, string, error) {
	start, err := createCompositeKey(objectType, attributes)
	if err != nil {
		return "", "", err
	}
	return start, start + string(maxUnicodeRune), nil
}
