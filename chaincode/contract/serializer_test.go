package contract

import (
	"reflect"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"
	"github.com/stretchr/testify/require"
)

// TestReturnSerializerFormatsAsJSONSerializer: dropping the schema check must not change a
// single byte a client receives. Each value is formatted by both serializers (contractapi's
// without return metadata, which skips only its schema check).
func TestReturnSerializerFormatsAsJSONSerializer(t *testing.T) {
	var nilGrant *model.Grant
	var nilSlice []model.Grant
	values := []any{
		model.Grant{ID: "g1", Categories: []string{"lab"}},
		&model.Grant{ID: "g2"},
		nilGrant,
		[]model.Grant{{ID: "a"}, {ID: "b"}},
		nilSlice,
		map[string]int{"b": 2, "a": 1},
		"plain string",
		42,
		true,
		[]byte("raw bytes"),
		time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		[2]string{"x", "y"},
	}
	var ours returnSerializer
	var theirs serializer.JSONSerializer
	for _, v := range values {
		rv := reflect.ValueOf(v)
		got, err := ours.ToString(rv, rv.Type(), nil, nil)
		require.NoError(t, err)
		want, err := theirs.ToString(rv, rv.Type(), nil, nil)
		require.NoError(t, err)
		require.Equal(t, want, got, "%T", v)
	}
	// An interface-typed result is formatted by its dynamic type.
	var anyGrant any = model.Grant{ID: "g3"}
	rv := reflect.ValueOf(&anyGrant).Elem()
	got, err := ours.ToString(rv, rv.Type(), nil, nil)
	require.NoError(t, err)
	want, err := theirs.ToString(rv, rv.Type(), nil, nil)
	require.NoError(t, err)
	require.Equal(t, want, got)
}
