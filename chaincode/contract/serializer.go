package contract

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"
)

// returnSerializer is contractapi's JSON serializer without its check of return values
// against the contract's JSON schema. Arguments are still parsed and checked against the
// schema (FromString is the JSON serializer's own): that is where untrusted input comes in.
// Return values are the contract's own Go types, which encoding/json turns into exactly what
// their schema describes, so checking them cost about 4% of the ledger's CPU per transaction
// (gojsonschema on every call) and could never fail. The formatting is the JSON serializer's.
type returnSerializer struct {
	serializer.JSONSerializer
}

// ToString formats a transaction's return value as contractapi's JSONSerializer does.
func (returnSerializer) ToString(result reflect.Value, resultType reflect.Type, _ *metadata.ReturnMetadata, _ *metadata.ComponentMetadata) (string, error) {
	if isNillable(result.Kind()) && result.IsNil() {
		return "", nil
	}
	switch {
	case resultType == reflect.TypeFor[time.Time]():
		return result.Interface().(time.Time).Format(time.RFC3339), nil
	case isBytes(resultType):
		return fmt.Sprintf("%s", result.Interface()), nil
	case isMarshalled(resultType) || resultType.Kind() == reflect.Interface && isMarshalled(result.Type()):
		b, err := json.Marshal(result.Interface())
		if err != nil {
			return "", fmt.Errorf("marshal return value: %w", err)
		}
		return string(b), nil
	default:
		return fmt.Sprint(result.Interface()), nil
	}
}

func isNillable(k reflect.Kind) bool {
	return k == reflect.Pointer || k == reflect.Interface || k == reflect.Map || k == reflect.Slice || k == reflect.Chan || k == reflect.Func
}

func isBytes(t reflect.Type) bool {
	return (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.Uint8
}

func isMarshalled(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Array, reflect.Slice:
		return !isBytes(t)
	case reflect.Map, reflect.Struct:
		return true
	case reflect.Pointer:
		return isMarshalled(t.Elem())
	}
	return false
}
